"""DuckDB reads of a SQLite file that this same process writes (the embedded demo).

DuckDB's sqlite scanner links its own SQLite, whose POSIX locks cannot see the ones Python's
sqlite3 holds in the same process (lib.records.database.make_engine). While a background
writer here is inside a transaction (the jobs' outbox rows in the shop's database), the
scanner takes that writer's rollback journal for a crashed one, and as it attaches read only
it cannot roll it back: "attempt to write a readonly database". The journal goes at the
writer's commit, a few milliseconds later, so the read is tried again for a little while.
Other back ends and other errors pass straight through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

T = TypeVar("T")

MESSAGE = "attempt to write a readonly database"
PATIENCE_S = 2.0  # far longer than one outbox write
PAUSE_S = 0.05


def retried(read: Callable[[], T], *, patience_s: float = PATIENCE_S) -> T:
    """`read()`, tried again while it fails only because a writer's journal is in the way."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return read()
        except duckdb.Error as exc:
            if MESSAGE not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(PAUSE_S)
