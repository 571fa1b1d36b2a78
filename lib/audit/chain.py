"""The hash chain: how a row's hash is computed and how a sequence of rows is checked.

row_hash = sha256(prev_hash + canonical(row)), where canonical(row) is the JSON (sorted keys,
no spaces, UTF-8) of the columns in HASHED_COLUMNS as stored — all text or integers, so the
same row hashes the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64  # the prev_hash of the first row

# Listed, not derived from the table: a column added later must not change old rows' hashes.
HASHED_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "actor_roles",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "detail",
    "request_id",
    "prev_hash",
)


def canonical(row: Mapping[str, Any]) -> str:
    values = {name: row[name] for name in HASHED_COLUMNS}
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(row)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """The result of a chain check.

    `rows_checked` counts the rows found intact (all of them when ok); `first_broken_id` and
    `problem` say where and why the chain breaks; `last_hash` is the hash of the last intact
    row — keep it elsewhere to detect rows removed from the end later.
    """

    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS_HASH


def _problem(row: Mapping[str, Any], prev_id: int, prev_hash: str) -> str | None:
    """What is wrong with `row` as the successor of row `prev_id` (hash `prev_hash`), if any."""
    if row["id"] != prev_id + 1:
        first, last = prev_id + 1, row["id"] - 1
        missing = f"row {first}" if first == last else f"rows {first}..{last}"
        return f"{missing} missing before it (deleted?)"
    if row["prev_hash"] != prev_hash:
        where = f"row {prev_id}" if prev_id else "the chain's start"
        return f"prev_hash does not match the hash of {where}"
    if row["row_hash"] != row_hash(prev_hash, row):
        return "row_hash does not match the row's content (edited?)"
    return None


def check_chain(rows: Iterable[Mapping[str, Any]]) -> ChainReport:
    """Check rows given in id order: ids consecutive from 1, links, and each row's own hash."""
    prev_hash, prev_id, checked = GENESIS_HASH, 0, 0
    for row in rows:
        problem = _problem(row, prev_id, prev_hash)
        if problem:
            return ChainReport(False, checked, row["id"], problem, prev_hash)
        prev_hash, prev_id, checked = row["row_hash"], row["id"], checked + 1
    return ChainReport(True, checked, None, None, prev_hash)
