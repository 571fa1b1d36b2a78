"""The Customers search at the query level: customers_list.sql (and its total, through
Engine.page), run by the engine over a copy of the demo CRM (SQLite through DuckDB), with
lib.access.pii_search's terms.

Searching personal data finds whole values only: a part of an e-mail address or of a phone
number finds nothing, a name matches by its beginning.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from lib.access import pii_search
from lib.config.settings import load_settings
from lib.reading.engine import Engine
from tests.stack import write_config

EMILY, MINSU, SEOUL = 990001, 990002, 990003
ROWS = [
    (EMILY, "Emily Clark", " Mixed.Case@Example.com ", "+82 10-5555-0123"),
    (MINSU, "김민수", "minsu.kim@example.co.kr", "010 7777 0199"),
    (SEOUL, "Ann Lee", "ann.lee@example.org", "02-555-0123"),
]


@pytest.fixture
def engine(tmp_path: Path, demo_dir: Path) -> Engine:
    data = tmp_path / "demo"
    data.mkdir()
    shutil.copy(demo_dir / "crm.sqlite", data / "crm.sqlite")
    with sqlite3.connect(data / "crm.sqlite") as con:
        con.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, '서울특별시 강남구 테헤란로 1',"
            " 'regular', 'active', '2024-01-01', '2024-01-01 00:00:00')",
            ROWS,
        )
    settings = load_settings(write_config(tmp_path, data))
    return Engine(settings.sources, settings.queries_dir)


def found(engine: Engine, q: str) -> set[int]:
    params = {
        "segment_all": True,
        "segments": [],
        "status_all": True,
        "statuses": [],
        "date_from": None,
        "date_to": None,
        **pii_search.parse(q).params(),
    }
    ids = set(engine.query("customers_list", limit=1000, offset=0, **params)["id"])
    first, total = engine.page("customers_list", limit=1, offset=0, **params)
    assert total == len(ids) and set(first["id"]) <= ids
    return ids


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("mixed.case@example.com", {EMILY}),
        ("  MIXED.CASE@EXAMPLE.COM ", {EMILY}),
        ("010-5555-0123", {EMILY}),  # stored as +82 10-5555-0123
        ("01055550123", {EMILY}),
        ("+82 10 5555 0123", {EMILY}),
        ("+82-010-5555-0123", {EMILY}),
        ("010-7777-0199", {MINSU}),  # stored with spaces
        ("+821077770199", {MINSU}),
        ("02 555 0123", {SEOUL}),
        (str(MINSU), {MINSU}),
        ("김민", {MINSU}),
        ("emily c", {EMILY}),
    ],
)
def test_whole_contact_details_and_name_beginnings_find_the_customer(engine, q, expected):
    assert found(engine, q) & {EMILY, MINSU, SEOUL} == expected


@pytest.mark.parametrize(
    "q",
    [
        "mixed.case",  # a part of an e-mail address
        "@example.com",
        "ixed.case@example.com",
        "mixed.case@example.co",
        "5555-0123",  # a part of a phone number
        "010-5555-012",
        "1055550123",
        "5550123",
        "민수",  # the hidden part of a name
        "Clark",
        "mily",
    ],
)
def test_parts_of_personal_data_find_nothing(engine, q):
    assert not found(engine, q) & {EMILY, MINSU, SEOUL}
