"""Derived tables: computed in DuckDB from snapshots (the dashboard's daily rollups), declared
under a source as `derived.<name> = { query = "<queries/ file>", ttl = 60 }`.

The background thread (lib.reading.snapshots) rebuilds one once every snapshot its query reads
has a copy, and again after any of them changed, at most every `ttl` seconds. A rebuild is one
CREATE OR REPLACE: queries read the old table until the new one is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from lib.errors import BackofficeError, SourceUnavailable
from lib.reading.queries import load_query

if TYPE_CHECKING:
    from lib.reading.engine import Engine

log = logging.getLogger(__name__)


@dataclass
class Derived:
    name: str
    query: str
    ttl: float
    built: bool = False
    due: float = 0.0
    seen: tuple[int, ...] = ()  # the input sources' snapshot versions it was built from
    error: BackofficeError | None = None


def refresh(
    d: Derived,
    source: str,
    engine: Engine,
    ready: Callable[[str], bool],
    versions: Callable[[tuple[str, ...]], tuple[int, ...]],
    force: bool,
    retry_after_s: float,
) -> bool:
    """Rebuild `d` if its inputs are all copied and changed since (and its ttl passed, unless
    `force`). True when it was rebuilt; a failure is kept in `d.error` and retried later."""
    now = engine.clock()
    try:
        q = load_query(engine.queries_dir, d.query)
        sql = q.render(None)
        if not ready(sql):
            return False
        seen = versions(q.sources)
        if d.built and (seen == d.seen or (now < d.due and not force)):
            return False
        engine.cursor().execute(f'CREATE OR REPLACE TABLE {source}."{d.name}" AS {sql}')
    except (BackofficeError, duckdb.Error) as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        d.error = SourceUnavailable(source, f"{d.name} could not be built: {reason}")
        log.warning("derived table %s.%s failed: %s", source, d.name, reason)
        d.due = now + retry_after_s
        return False
    d.built, d.seen, d.error, d.due = True, seen, None, now + d.ttl
    return True
