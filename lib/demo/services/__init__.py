"""Small local HTTP services that stand in for the remote back ends in the demo and the tests.

customer_api (profiles, page-number pagination), order_api (shipping, cursor pagination) and
gateway (a Toss-Payments-style sandbox with its own ledger) are FastAPI apps built by
`create_app(demo_dir, ...)`; serve.py runs them. What they share lives here.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to a demo SQLite file; never creates an empty file by mistake."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; seed the demo first (python -m lib.demo.seed)")
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    return con


def stable_fraction(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`: the same in every process, unlike hash()."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def iso_utc(value: str) -> str:
    """'YYYY-MM-DD HH:MM:SS' (UTC, as the demo databases store it) as ISO 8601 with a Z."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # not ours to fix: pass through what the database holds
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
