"""The Customers search at the query level: queries/customers_page.sql run in the crm's own
database (lib.reading.source_query) on SQLite, PostgreSQL and MariaDB, customers tables
created from lib.records.schema (their search keys computed by each database), with
lib.access.pii_search's terms.

Searching personal data finds whole values only: a part of an e-mail address or of a phone
number finds nothing, a name matches by its beginning. Every search finds the same customers
as the DuckDB list the page used before (queries/customers_list.sql, which the customers
export still reads) over the same rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lib.access import pii_search
from lib.config.settings import ROOT, load_settings
from lib.reading.engine import Engine
from lib.reading.source_query import SourceQueries
from lib.reading.sources.base import SourceConfig
from lib.records import schema
from tests.stack import write_config

pytestmark = pytest.mark.integration

EMILY, MINSU, SEOUL, PERCENT, UNDERSCORE = 990001, 990002, 990003, 990004, 990005
ROWS = [
    (EMILY, "Emily Clark", " Mixed.Case@Example.com ", "+82 10-5555-0123"),
    (MINSU, "김민수", "minsu.kim@example.co.kr", "010 7777 0199"),
    (SEOUL, "Ann Lee", "ann.lee@example.org", "02-555-0123"),
    # LIKE's own characters in a name: a search for them finds them, and only them.
    (PERCENT, "Ab% Shop", "ab.shop@example.org", "(031) 555.0123"),
    (UNDERSCORE, "Ab_c Lee", "abc.lee@example.org", "+82 (0)10 4444 0123"),
]
OURS = {EMILY, MINSU, SEOUL, PERCENT, UNDERSCORE}
COLUMNS = ("id", "name", "email", "phone", "address", "segment", "status", "signup_date")
BACKENDS = ("sqlite", "postgresql", "mariadb")


def _demo_rows(demo: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(demo / "crm.sqlite")) as con:
        cols = (*COLUMNS, "updated_at")
        rows = con.execute(f"SELECT {', '.join(cols)} FROM customers").fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]


def _ours() -> list[dict[str, Any]]:
    address = "서울특별시 강남구 테헤란로 1"
    return [
        dict(zip(COLUMNS, (*r, address, "regular", "active", "2024-01-01"), strict=True))
        | {"updated_at": "2024-01-01 00:00:00"}
        for r in ROWS
    ]


@pytest.fixture(scope="module")
def rows(seeded_demo_dir: Path) -> list[dict[str, Any]]:
    """The demo's customers and ours, as the crm stores them in SQLite (text dates)."""
    return _demo_rows(seeded_demo_dir) + _ours()


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    return row | {
        "signup_date": date.fromisoformat(row["signup_date"]),
        "updated_at": datetime.fromisoformat(row["updated_at"]),
    }


def _load(url: str, rows: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        schema.crm.create_all(engine, tables=[schema.customers])
        typed = engine.dialect.name != "sqlite"
        with engine.begin() as conn:
            conn.execute(schema.customers.insert(), [_typed(r) if typed else r for r in rows])
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def old_engine(rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The list as the page read it before: customers_list.sql through DuckDB over SQLite."""
    base = tmp_path_factory.mktemp("search-before")
    data = base / "demo"
    data.mkdir()
    _load(f"sqlite:///{data / 'crm.sqlite'}", rows)
    settings = load_settings(write_config(base, data))
    return Engine(settings.sources, settings.queries_dir)


@pytest.fixture(scope="module", params=BACKENDS)
def crm(
    request: pytest.FixtureRequest,
    rows: list[dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SourceQueries]:
    """Source queries on a crm holding `rows`, created from lib.records.schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('crm') / 'crm.sqlite'}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("pg_server").new()
    else:
        url = request.getfixturevalue("mysql_server").new() + "?charset=utf8mb4"
    _load(url, rows)
    sq = SourceQueries([SourceConfig("crm", "sql", options={"url": url})], ROOT / "queries")
    yield sq
    sq.dispose()


def found(crm: SourceQueries, q: str) -> set[int]:
    """Every customer the search finds, paged by keyset, and its count."""
    params = pii_search.parse(q).key_params()
    ids: list[int] = []
    page = crm.page("customers_page", sort=("id", "asc"), limit=500, **params)
    count = page.count
    while True:
        ids += [int(i) for i in page.rows["id"]]
        if not page.has_next:
            break
        page = crm.page("customers_page", sort=("id", "asc"), limit=500, after=page.last_key,
                        count_cap=None, **params)  # fmt: skip
    assert count is not None and count.exact and count.value == len(ids)
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    return set(ids)


def found_before(engine: Engine, q: str) -> set[int]:
    params = {
        "segment_all": True,
        "segments": [],
        "status_all": True,
        "statuses": [],
        "date_from": None,
        "date_to": None,
        **pii_search.parse(q).params(),
    }
    return set(engine.query("customers_list", limit=100_000, offset=0, **params)["id"])


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
        ("031-555-0123", {PERCENT}),  # stored with ( ) and .
        ("010 4444 0123", {UNDERSCORE}),  # stored as +82 (0)10 …
        (str(MINSU), {MINSU}),
        ("김민", {MINSU}),
        ("emily c", {EMILY}),
        ("ab%", {PERCENT}),
        ("ab_", {UNDERSCORE}),
    ],
)
def test_whole_contact_details_and_name_beginnings_find_the_customer(crm, q, expected):
    assert found(crm, q) & OURS == expected


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
        "a%",  # LIKE's characters are the name's own, not wildcards
        "a_c",
    ],
)
def test_parts_of_personal_data_find_nothing(crm, q):
    assert not found(crm, q) & OURS


def _terms(rows: list[dict[str, Any]]) -> list[str]:
    """Searches as people type them, for every 97th customer of the demo: its id, e-mail
    (shouted, spaced), phone in three forms, and its name's first 2 and 3 characters."""
    out: list[str] = []
    for r in rows[::97]:
        digits = "".join(c for c in r["phone"] if c.isdigit())
        out += [
            str(r["id"]),
            f" {r['email'].upper()} ",
            r["phone"],
            digits,
            "+82 " + digits.removeprefix("0"),
            r["name"][:2],
            r["name"][:3],
        ]
    return out


def test_every_kind_of_search_finds_what_the_list_found_before(crm, old_engine, rows):
    mismatches = {}
    for q in _terms(rows):
        if pii_search.parse(q).problem:
            continue
        now, before = found(crm, q), found_before(old_engine, q)
        assert before, q  # each term names a customer
        if now != before:
            mismatches[pii_search.parse(q).kind or "id"] = (sorted(now), sorted(before))
    assert mismatches == {}
