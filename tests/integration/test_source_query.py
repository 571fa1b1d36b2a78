"""Source queries (lib.reading.source_query): the renderer, and the Orders list run in the
shop's own database on SQLite, PostgreSQL and MariaDB (private servers), tables created from
lib.records.schema and filled with the seeded demo's rows (text times in SQLite, real
timestamps on the servers).

Every filter, search kind and sort gives the same rows as the DuckDB list the page read
before (queries/orders_list.sql, which the orders export still reads) over the same data;
Next and Previous by keyset give the pages OFFSET gives; the count stops at its cap.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from lib.access import pii_search
from lib.config import runtime
from lib.config.settings import ROOT, load_settings
from lib.errors import QueryNotFound, SourceUnavailable
from lib.reading import source_query_render as render
from lib.reading.engine import Engine
from lib.reading.source_query import Count, SourceQueries
from lib.reading.sources.base import SourceConfig
from lib.records import schema
from lib.ui import orders
from lib.ui.source_listing import SourceQuery
from lib.ui.table_page import View
from tests.stack import write_config

pytestmark = pytest.mark.integration

ORDERS_UP_TO = 2_000  # the demo's first orders: every status, method, seller, many customers
SIZE = 97  # rows a page: an odd size, so pages end mid-day and mid-amount
BACKENDS = ("sqlite", "postgresql", "mariadb")
SHOWN = ["id", "ordered_at", "status", "amount", "balance", "method", "seller", "customer",
         "payment_key"]  # fmt: skip


# --- the renderer (no database) --------------------------------------------------------------

LIST = """-- sources: shop
-- runs_on: shop
-- A list; a comment naming :not_a_param is dropped.
-- sortable: at=o.at, id=o.id, pair=(o.status, o.at)
-- default_sort: at desc
-- key: o.id
SELECT o.id, o.at, (SELECT max(x) FROM t) AS sub
FROM orders AS o
WHERE __keyset__
  AND o.status IN :statuses   -- when: statuses
  AND o.amount >= :least      -- when: least
  AND o.kind = :kind
"""


@pytest.fixture
def list_query(tmp_path: Path) -> render.SourceSQL:
    (tmp_path / "a_list.sql").write_text(LIST, encoding="utf-8")
    return render.parse(tmp_path, "a_list")


def test_a_when_line_is_kept_only_for_a_given_value(list_query):
    q = list_query
    assert q.runs_on == "shop" and q.params == {"statuses", "least", "kind"}
    bare = render.render_page(q, {"kind": "x", "statuses": [], "least": None}, None).sql
    assert ":statuses" not in bare and ":least" not in bare and ":kind" in bare
    assert "when:" not in bare and "not_a_param" not in bare
    full = render.render_page(q, {"kind": "x", "statuses": ["a"], "least": 0}, None).sql
    assert "o.status IN :statuses\n" in full and "o.amount >= :least\n" in full


def test_a_when_line_may_ask_for_several_values_one_of_some_or_none(tmp_path: Path):
    (tmp_path / "ranges.sql").write_text(
        "-- sources: shop\n-- runs_on: shop\n-- sortable: at=o.at, amount=o.amount\n"
        "SELECT o.id FROM orders AS o WHERE __keyset__\n"
        "  AND o.amount >= :least  -- when: least, __count|__small|__sort_amount\n"
        "  AND o.amount + 0 >= :least  -- when: least, !__count, !__small, !__sort_amount\n",
        encoding="utf-8",
    )
    q = render.parse(tmp_path, "ranges")
    indexed, scanned = "o.amount >= :least\n", "o.amount + 0 >= :least\n"
    large = render.render_page(q, {"least": 1}, ("at", "asc")).sql
    assert scanned in large and indexed not in large
    for sql in (
        render.render_count(q, {"least": 1}),
        render.render_page(q, {"least": 1, render.SMALL: True}, ("at", "asc")).sql,
        render.render_page(q, {"least": 1}, ("amount", "desc")).sql,
    ):
        assert indexed in sql + "\n" and scanned not in sql
    assert ":least" not in render.render_page(q, {"least": None}, ("at", "asc")).sql


def test_order_by_is_the_declared_sort_then_the_key_in_one_direction(list_query):
    r = render.render_page(list_query, {}, None)
    assert r.sql.endswith("ORDER BY o.at DESC, o.id DESC\nLIMIT :__limit OFFSET :__offset")
    assert "1 = 1" in r.sql and r.key_columns == ("__k0", "__k1")
    assert ", o.at AS __k0, o.id AS __k1\nFROM orders" in r.sql
    r = render.render_page(list_query, {}, ("pair", "asc"))
    assert "ORDER BY o.status ASC, o.at ASC, o.id ASC" in r.sql
    assert render.render_page(list_query, {}, ("id", "asc")).key_columns == ("__k0",)


def test_a_page_number_finds_its_rows_by_their_keys_first(list_query):
    r = render.render_page(list_query, {"kind": "x"}, ("at", "desc"), skipping=True)
    inner = "SELECT o.id AS __pk\nFROM orders AS o\nWHERE 1 = 1"
    assert f"WHERE o.id IN (SELECT __pk FROM (\n{inner}" in r.sql
    assert "LIMIT :__limit OFFSET :__offset\n) AS page_keys)" in r.sql
    assert r.sql.endswith("ORDER BY o.at DESC, o.id DESC\nLIMIT :__limit")


def test_a_sort_or_direction_not_declared_is_refused(list_query):
    for bad in [("o.at; DROP TABLE orders", "asc"), ("at", "sideways"), ("amount", "asc")]:
        with pytest.raises(QueryNotFound, match="cannot be sorted"):
            render.render_page(list_query, {}, bad)


def test_keyset_starts_after_or_before_a_bound_row(list_query):
    after = render.render_page(list_query, {}, ("pair", "desc"), keyset="after").sql
    assert (
        "(o.status < :__k0 OR (o.status = :__k0 AND "
        "(o.at < :__k1 OR (o.at = :__k1 AND o.id < :__k2))))"
    ) in after
    before = render.render_page(list_query, {}, ("id", "desc"), keyset="before").sql
    assert "(o.id > :__k0)" in before and "ORDER BY o.id ASC" in before


def test_the_count_selects_1_up_to_the_cap(list_query):
    sql = render.render_count(list_query, {"statuses": ["a"]})
    assert sql.startswith("SELECT count(*) AS n FROM (\nSELECT 1\nFROM orders AS o")
    assert sql.endswith("LIMIT :__cap\n) AS capped") and "o.status IN :statuses" in sql
    assert Count(10_000, exact=False).text() == "10,000+" and Count(1234).text() == "1,234"


def test_no_value_is_ever_formatted_into_the_sql(list_query):
    hostile = "x' OR '1'='1"
    params = {"statuses": [hostile], "least": hostile, "kind": hostile}
    for r in (
        render.render_page(list_query, params, None).sql,
        render.render_page(list_query, params, ("pair", "asc"), keyset="after").sql,
        render.render_count(list_query, params),
        render.render_all(list_query, params, None),
    ):
        assert hostile not in r and "'" not in r.replace("'1'", "")


def test_a_file_without_runs_on_is_not_a_source_query(tmp_path: Path):
    (tmp_path / "plain.sql").write_text("-- sources: shop\nSELECT 1 FROM t", encoding="utf-8")
    with pytest.raises(QueryNotFound, match="runs_on"):
        render.parse(tmp_path, "plain")


# --- the Orders list on three databases ------------------------------------------------------

TABLES = {
    "crm": (schema.crm, ("customers",)),
    "shop": (schema.shop, ("sellers", "products", "orders", "payments", "refunds")),
}
WHERE = {"orders": f"id <= {ORDERS_UP_TO}", "payments": f"order_id <= {ORDERS_UP_TO}",
         "refunds": "0 = 1"}  # fmt: skip


def _rows(demo: Path, db: str, table: sa.Table) -> list[dict[str, Any]]:
    cols = [c.name for c in table.columns if c.computed is None]
    where = WHERE.get(table.name, "1 = 1")
    with closing(sqlite3.connect(demo / f"{db}.sqlite")) as con:
        found = con.execute(f"SELECT {', '.join(cols)} FROM {table.name} WHERE {where}")
        return [dict(zip(cols, r, strict=True)) for r in found.fetchall()]


def _typed(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    times = [c.name for c in table.columns if c.type is schema.TIMESTAMP]
    dates = [c.name for c in table.columns if c.type is schema.DATE]
    out = []
    for r in rows:
        r = dict(r)
        for c in times:
            r[c] = None if r[c] is None else datetime.fromisoformat(r[c])
        for c in dates:
            r[c] = None if r[c] is None else date.fromisoformat(r[c])
        out.append(r)
    return out


def _load(demo: Path, db: str, url: str) -> None:
    """`db`'s tables created from lib.records.schema at `url`, filled with the demo's rows."""
    metadata, names = TABLES[db]
    tables = [metadata.tables[n] for n in names]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        metadata.create_all(engine, tables=tables)
        typed = engine.dialect.name != "sqlite"
        with engine.begin() as conn:
            for table in tables:
                rows = _rows(demo, db, table)
                if rows:
                    conn.execute(table.insert(), _typed(table, rows) if typed else rows)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def old_engine(seeded_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The list as the page read it before: orders_list.sql through DuckDB over SQLite."""
    base = tmp_path_factory.mktemp("orders-before")
    data = base / "demo"
    data.mkdir()
    for db in TABLES:
        _load(seeded_demo_dir, db, f"sqlite:///{data / db}.sqlite")
    settings = load_settings(write_config(base, data))
    engine = Engine(settings.sources, settings.queries_dir)
    yield engine
    engine.close()


@pytest.fixture(scope="module", params=BACKENDS)
def shop(
    request: pytest.FixtureRequest,
    seeded_demo_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SourceQueries]:
    """Source queries on a shop and a crm holding the demo's rows on one database kind."""
    urls = {}
    for db in TABLES:
        if request.param == "sqlite":
            urls[db] = f"sqlite:///{tmp_path_factory.mktemp(db) / db}.sqlite"
        elif request.param == "postgresql":
            urls[db] = request.getfixturevalue("_private_postgres").new_database()
        else:
            urls[db] = request.getfixturevalue("_private_mariadb").new_database()
            urls[db] += "?charset=utf8mb4"
        _load(seeded_demo_dir, db, urls[db])
    sq = SourceQueries(
        [SourceConfig(db, "sql", options={"url": url}) for db, url in urls.items()],
        ROOT / "queries",
    )
    yield sq
    sq.dispose()


@pytest.fixture
def listing(shop: SourceQueries, monkeypatch: pytest.MonkeyPatch) -> SourceQuery:
    """The Orders page's own listing, its source queries on `shop`."""
    monkeypatch.setattr(runtime, "source_queries", lambda: shop)
    return orders.PAGE.listing


def view_of(url: dict[str, str]) -> tuple[dict[str, Any], tuple[str, str], pii_search.Search]:
    """The page's bound parameters and sort for this URL, read by the page's own filters."""
    page = orders.PAGE
    values = tuple(f.from_url(url, {})[0] for f in page.filters)
    view = View(values, page.sort.from_url(url))
    params = view.params(page)
    return params, view.sort, params["search"]


def old_rows(engine: Engine, url: dict[str, str]) -> pd.DataFrame:
    """What orders_list.sql lists for this URL: every row, in no order that matters."""
    params, _, search = view_of(url)
    params = {k: v for k, v in params.items() if k != "search"}
    params |= {"q": search.text, "q_name": search.name, "q_email": search.email}
    df, _ = engine.page("orders_list", sort=("id", "asc"), limit=100_000, offset=0, **params)
    return df


ORDER_OF = {
    "ordered_at": ["ordered_at", "id"],
    "id": ["id"],
    "amount": ["amount", "id"],
    "status": ["status", "ordered_at", "id"],
}


def expected(engine: Engine, url: dict[str, str]) -> pd.DataFrame:
    """The old list's rows in the new list's order (the sort, then its tie-breaks, one way)."""
    _, (column, direction), _ = view_of(url)
    df = old_rows(engine, url)
    ordered = df.sort_values(ORDER_OF[column], ascending=direction == "asc", kind="stable")
    return ordered.reset_index(drop=True)


def walk(listing: SourceQuery, url: dict[str, str]) -> tuple[list[pd.DataFrame], Count]:
    """Every page by Next (keyset after the last row shown), and the count."""
    params, sort, _ = view_of(url)
    pages, after, count = [], None, None
    while True:
        page = listing.fetch_page(params, sort, SIZE, 0, after=after)
        count = count or page.count
        pages.append(page.rows)
        if not page.has_next:
            return pages, count
        after = page.last_key


def same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got, want = got[SHOWN].reset_index(drop=True), want[SHOWN].reset_index(drop=True)
    assert list(got["id"]) == list(want["id"])
    for col in ("ordered_at",):
        got[col] = pd.to_datetime(got[col]).astype("datetime64[us]")
        want[col] = pd.to_datetime(want[col]).astype("datetime64[us]")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def _demo_terms(demo: Path) -> dict[str, str]:
    """Search texts of each kind, from the data (a name's beginning, an e-mail, a key)."""
    with closing(sqlite3.connect(demo / "shop.sqlite")) as con:
        order_id, customer_id, key = con.execute(
            "SELECT o.id, o.customer_id, p.payment_key FROM orders o JOIN payments p"
            " ON p.order_id = o.id WHERE o.id = 1234"
        ).fetchone()
    with closing(sqlite3.connect(demo / "crm.sqlite")) as con:
        names = [n for (n,) in con.execute("SELECT name FROM customers")]
        [(email,)] = con.execute("SELECT email FROM customers WHERE id = ?", (customer_id,))
    korean = next(n for n in names if "\uac00" <= n[0] <= "\ud7a3")
    english = next(n for n in names if n.isascii())
    return {
        "id": str(order_id),
        "key": key[:9],
        "korean": korean[:2],
        "english": english[:3].lower(),
        "email": f" {email.upper()} ",
        "nothing": "no-such-customer-anywhere",
    }


URLS = [
    {},
    {"sort": "id"},
    {"sort": "-id"},
    {"sort": "amount"},
    {"sort": "-amount"},
    {"sort": "status"},
    {"sort": "-status"},
    {"sort": "ordered_at"},
    {"status": "pending"},
    {"status": "refunded,partially_refunded", "sort": "-amount"},
    {"from": "2025-06-01", "to": "2025-06-30"},
    {"min": "100000", "max": "300000", "sort": "amount"},
    {"seller": "2"},
    {"seller": "3", "status": "approved", "from": "2025-05-15", "sort": "-status"},
]
SEARCHES = ["id", "key", "korean", "english", "email", "nothing"]


@pytest.mark.parametrize("url", URLS, ids=lambda u: "&".join(f"{k}={v}" for k, v in u.items()))
def test_every_filter_and_sort_lists_what_the_duckdb_list_did(listing, old_engine, url):
    pages, count = walk(listing, url)
    want = expected(old_engine, url)
    assert count == (Count(len(want)) if len(want) <= 10_000 else Count(10_000, exact=False))
    assert all(len(p) == SIZE for p in pages[:-1]) and len(pages[-1]) <= SIZE
    same_rows(pd.concat(pages), want)


@pytest.mark.parametrize("kind", SEARCHES)
def test_every_search_kind_finds_what_the_duckdb_list_found(
    listing, old_engine, seeded_demo_dir, kind
):
    url = {"q": _demo_terms(seeded_demo_dir)[kind], "status": "approved,pending,refunded"}
    want = expected(old_engine, url)
    if kind == "nothing":
        assert want.empty
    elif kind == "id":
        assert list(want["id"]) == [1234]
    else:
        assert len(want) >= 1
    pages, count = walk(listing, url)
    assert count == Count(len(want))
    same_rows(pd.concat(pages), want)


def test_previous_pages_by_keyset_are_the_pages_offset_reads(listing):
    params, sort, _ = view_of({"status": "approved", "sort": "-amount"})
    by_offset, offset = [], 0
    while True:
        page = listing.fetch_page(params, sort, SIZE, offset)
        by_offset.append(list(page.rows["id"]))
        if not page.has_next:
            break
        offset += SIZE
    assert len(by_offset) >= 3
    page = listing.fetch_page(params, sort, SIZE, offset)  # the last page, then back
    for number in range(len(by_offset) - 2, -1, -1):
        page = listing.fetch_page(params, sort, SIZE, 0, before=page.first_key)
        assert list(page.rows["id"]) == by_offset[number]
        assert page.has_previous == (number > 0) and page.has_next


def test_the_count_stops_at_its_cap(listing):
    params, sort, _ = view_of({"status": "approved"})
    capped = dataclasses.replace(listing, count_cap=50)
    page = capped.fetch_page(params, sort, SIZE, 0)
    assert page.count == Count(50, exact=False) and page.count.text() == "50+"
    assert len(page.rows) == SIZE and page.has_next
    params, sort, _ = view_of({"from": "2025-05-02", "to": "2025-05-02"})
    small = capped.fetch_page(params, sort, SIZE, 0)
    assert small.count == Count(len(small.rows)) and small.count.exact
    assert 0 < len(small.rows) <= 50 and not small.has_next


@pytest.mark.parametrize("url", [{"min": "60000", "max": "200000"}, {"min": "50000", "sort": "id"}])
def test_an_amount_range_of_a_long_list_lists_the_same_rows_read_another_way(
    listing, old_engine, url
):
    """More rows than the count's cap: the page reads its sort's index and checks the amount
    (the count and short lists read the amount's index): the same rows either way."""
    capped = dataclasses.replace(listing, count_cap=50)
    pages, count = walk(capped, url)
    assert count == Count(50, exact=False)
    same_rows(pd.concat(pages), expected(old_engine, url))


def test_a_name_search_of_a_long_list_lists_the_same_rows_read_another_way(
    listing, old_engine, seeded_demo_dir
):
    """More orders than the count's cap: the page reads the newest first and checks the
    customers' ids (the count and short lists read idx_orders_customer_id)."""
    with closing(sqlite3.connect(seeded_demo_dir / "crm.sqlite")) as con:
        [(prefix,)] = con.execute(
            "SELECT lower(substr(name, 1, 2)) AS p FROM customers"
            " GROUP BY p ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()
    url = {"q": prefix}
    capped = dataclasses.replace(listing, count_cap=50)
    pages, count = walk(capped, url)
    assert count == Count(50, exact=False)
    same_rows(pd.concat(pages), expected(old_engine, url))


def test_a_name_that_too_many_customers_start_with_is_refused(
    listing, seeded_demo_dir, monkeypatch
):
    with closing(sqlite3.connect(seeded_demo_dir / "crm.sqlite")) as con:
        [(prefix, n)] = con.execute(
            "SELECT lower(substr(name, 1, 2)) AS p, count(*) FROM customers"
            " GROUP BY p ORDER BY count(*) DESC LIMIT 1"
        ).fetchall()
    assert n > 2
    monkeypatch.setattr(orders, "MAX_CUSTOMERS", 2)
    params, sort, _ = view_of({"q": prefix})
    with pytest.raises(orders.TooManyMatches, match="More than 2 customers' names start with"):
        listing.fetch_page(params, sort, SIZE, 0)


def test_rows_have_the_same_dtypes_on_every_database(listing, old_engine):
    params, sort, _ = view_of({})
    df = listing.fetch_page(params, sort, SIZE, 0).rows
    assert str(df["ordered_at"].dtype) == "datetime64[us]"
    assert {c: str(df[c].dtype) for c in ("id", "amount", "seller_id", "customer_id")} == {
        c: "int64" for c in ("id", "amount", "seller_id", "customer_id")
    }
    one = orders.PAGE.listing.lookups[0]
    assert one.query == "customers_names" and df["customer"].notna().all()


def test_a_database_that_cannot_be_reached_is_named_without_its_address(tmp_path: Path):
    for url in (
        "postgresql+psycopg://app:secret@127.0.0.1:9/shopdb",
        "mysql+pymysql://app:secret@127.0.0.1:9/shopdb",
        f"sqlite:///{tmp_path}/nowhere/shop.sqlite",
    ):
        sq = SourceQueries([SourceConfig("shop", "sql", options={"url": url})], ROOT / "queries")
        with pytest.raises(SourceUnavailable) as caught:
            sq.page("orders_page", limit=5)
        text = str(caught.value)
        assert text.startswith("Source 'shop' is unavailable: ")
        for secret in ("secret", "app", "127.0.0.1", "shopdb", str(tmp_path)):
            assert secret not in text, text
        sq.dispose()


def test_sqlite_is_opened_read_only(shop: SourceQueries):
    if shop.engine("shop").dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with shop.engine("shop").connect() as conn, pytest.raises(sa.exc.OperationalError):
        conn.execute(sa.text("DELETE FROM orders"))


# A statement that runs for minutes on each database unless it is stopped (a triple cross join
# of the orders; PostgreSQL simply sleeps).
CROSS_JOIN = (
    "SELECT count(*) AS n FROM orders AS a, orders AS b, orders AS c"
    " WHERE a.amount + b.amount + c.amount > 0"
)
RUNAWAY = {
    "sqlite": CROSS_JOIN,
    "postgresql": "SELECT 1 AS n FROM pg_sleep(600)",
    "mysql": CROSS_JOIN,
}


def test_a_runaway_statement_is_stopped_at_the_time_limit_and_the_pool_goes_on(
    shop: SourceQueries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import time

    from lib.reading import source_query

    monkeypatch.setattr(source_query, "STATEMENT_TIMEOUT_S", 1.0)
    kind = shop.engine("shop").dialect.name
    (tmp_path / "runaway.sql").write_text(f"-- runs_on: shop\n{RUNAWAY[kind]}\n", encoding="utf-8")
    (tmp_path / "quick.sql").write_text(
        "-- runs_on: shop\nSELECT count(*) AS n FROM orders WHERE id <= :top\n", encoding="utf-8"
    )
    sq = SourceQueries(shop.sources.values(), tmp_path)  # engines made with the 1 s limit
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable) as caught:
            sq.run("runaway")
        took = time.monotonic() - started
        assert str(caught.value) == (
            "Source 'shop' is unavailable: a query ran longer than 1 s and was stopped"
        )
        assert took < 15, took  # stopped by the limit, not by the statement's end
        for _ in range(4):  # more than the pool's connections: none is left stuck
            assert sq.run("quick", top=10)["n"].tolist() == [10]
    finally:
        sq.dispose()
