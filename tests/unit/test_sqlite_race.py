"""lib.reading.sqlite_race: a DuckDB read that a same-process SQLite writer's journal got in
the way of is tried again; any other failure is not."""

from __future__ import annotations

import duckdb
import pytest

from lib.reading.sqlite_race import MESSAGE, retried


def _failing(times: int, message: str):
    calls = []

    def read() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise duckdb.Error(
                f'Failed to prepare query "SELECT name FROM sqlite_master": {message}'
            )
        return "rows"

    return read, calls


def test_a_read_blocked_by_a_writers_journal_is_tried_until_it_passes() -> None:
    read, calls = _failing(3, MESSAGE)
    assert retried(read) == "rows"
    assert len(calls) == 4


def test_another_error_is_raised_at_once() -> None:
    read, calls = _failing(1, "no such table: orders")
    with pytest.raises(duckdb.Error, match="no such table"):
        retried(read)
    assert len(calls) == 1


def test_a_journal_that_stays_is_raised_after_the_patience() -> None:
    read, calls = _failing(10_000, MESSAGE)
    with pytest.raises(duckdb.Error, match="readonly database"):
        retried(read, patience_s=0.2)
    assert 2 <= len(calls) <= 10
