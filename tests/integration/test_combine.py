"""Combining two tables in DuckDB (lib.reading.combine) and the demo's combined views: sums by
key checked against the files and databases themselves, keys on one side only reported on
both sides, empty keys counted, identifiers outside the catalogue refused, personal data in a
key masked (also through a source's snapshot alias), and each user's catalogue limited to
the sheets and the tables behind the pages their role may open."""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from lib.access.principal import Principal
from lib.config.settings import ROOT, load_settings
from lib.errors import ValidationFailed
from lib.reading import combine as cb
from lib.reading.combine_views import VIEWS, run_view
from lib.reading.engine import Engine
from lib.reading.sources.base import SourceConfig
from tests.stack import write_config

pytestmark = pytest.mark.integration

ADMIN = Principal("admin", "Admin", ("admin",))
ANALYST = Principal("analyst", "Analyst", ("analyst",))
OPERATOR = Principal("operator", "Operator", ("operator",))  # customers, orders; no Spreadsheets


@pytest.fixture(scope="module")
def engine(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The demo's engine (its config over the shared demo copy)."""
    config = write_config(tmp_path_factory.mktemp("combine"), demo_dir)
    settings = load_settings(config)
    eng = Engine(settings.sources, settings.queries_dir)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def cat(engine: Engine) -> cb.Catalogue:
    return cb.catalogue(engine, ADMIN)


def month_of(text: str) -> str:
    return text[:7]


def test_the_catalogue_holds_the_sheets_and_database_tables_with_their_types(cat):
    assert {"sheets.marketing_spend", "sheets.store_sales", "shop.orders", "crm.customers"} <= set(
        cat.tables()
    )
    assert cat.of("sheets.marketing_spend", "numeric") == ["spend_krw", "clicks", "signups"]
    assert cat.of("sheets.store_sales", "temporal") == ["month"]
    assert not [t for t in cat.tables() if t.split(".")[0] not in ("crm", "shop", "sheets")]


def test_a_sheet_joined_with_orders_by_month_sums_each_side(engine, cat, demo_dir):
    left = cb.Side("sheets.marketing_spend", ("month",), "spend_krw")
    right = cb.Side("shop.orders", ("ordered_at",), "amount")
    result = cb.combine(engine, cat, left, right, by_month=True)

    spend: Counter[str] = Counter()
    with open(demo_dir / "marketing_spend.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            spend[month_of(row["month"])] += int(row["spend_krw"])
    with closing(sqlite3.connect(demo_dir / "shop.sqlite")) as con:
        orders = dict(
            con.execute("SELECT substr(ordered_at, 1, 7), sum(amount) FROM orders GROUP BY 1")
        )
    df = result.frame
    got = {d.strftime("%Y-%m"): (s, a) for d, s, a, _ in df.itertuples(index=False, name=None)}
    assert set(got) == set(spend) | set(orders)
    assert {m: int(s) for m, (s, _) in got.items() if m in spend} == dict(spend)
    assert {m: int(a) for m, (_, a) in got.items() if m in orders} == orders
    assert list(df.columns) == ["month", "spend_krw (marketing_spend)", "amount (orders)", "match"]
    assert result.notes() == ["Every month matched on both sides."]


@pytest.fixture
def two_sheets(tmp_path: Path) -> Iterator[tuple[Engine, cb.Catalogue]]:
    """Two small sheets whose months overlap in part; one budget row has no month."""
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "month,team,budget\n2026-01-01,a,10\n2026-01-01,b,5\n2026-02-01,a,7\n"
        "2026-03-01,a,1\n,a,99\n",
        encoding="utf-8",
    )
    actual = tmp_path / "actual.csv"
    actual.write_text(
        "day,team,spent\n2026-02-14,a,3\n2026-03-02,a,4\n2026-03-30,a,1\n2026-05-01,a,8\n",
        encoding="utf-8",
    )
    tables = {
        "plan": {"file": str(plan), "columns": {"month": "date", "team": "text", "budget": "int"}},
        "actual": {"file": str(actual), "columns": {"day": "date", "team": "text", "spent": "int"}},
    }
    eng = Engine([SourceConfig("sheets", "sheet", options={"tables": tables})], ROOT / "queries")
    yield eng, cb.catalogue(eng, ADMIN)
    eng.close()


def test_keys_on_one_side_only_are_reported_on_both_sides_never_dropped(two_sheets):
    engine, cat = two_sheets
    left = cb.Side("sheets.plan", ("month",), "budget")
    right = cb.Side("sheets.actual", ("day",), "spent")
    result = cb.combine(engine, cat, left, right, by_month=True)
    rows = {
        d.strftime("%Y-%m"): (lm, rm, m)
        for d, lm, rm, m in result.frame.itertuples(index=False, name=None)
    }
    assert rows["2026-01"][0] == 15 and rows["2026-01"][2] == cb.LEFT_ONLY
    assert rows["2026-02"][:2] == (7, 3) and rows["2026-02"][2] == cb.BOTH
    assert rows["2026-03"][:2] == (1, 5)
    assert rows["2026-05"][1] == 8 and rows["2026-05"][2] == cb.RIGHT_ONLY
    assert result.left_only == ["2026-01"] and result.right_only == ["2026-05"]
    assert result.left_without_key == 1 and result.right_without_key == 0
    assert result.notes() == [
        "1 month in plan has no match in actual: 2026-01",
        "1 month in actual has no match in plan: 2026-05",
        "1 row of plan with an empty key or no date left out.",
    ]


def test_two_key_columns_and_a_count_of_rows(two_sheets):
    engine, cat = two_sheets
    left = cb.Side("sheets.plan", ("month", "team"))
    right = cb.Side("sheets.actual", ("day", "team"))
    result = cb.combine(engine, cat, left, right, by_month=True)
    assert result.left_only == ["2026-01 · a", "2026-01 · b"]
    assert result.right_only == ["2026-05 · a"]
    both = result.frame[result.frame["match"] == cb.BOTH]
    assert both["rows (actual)"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("left", "right", "refused"),
    [
        (cb.Side("sheets.nope", ("month",)), cb.Side("shop.orders", ("id",)), "No table"),
        (cb.Side("crm__src.main.customers", ("id",)), cb.Side("shop.orders", ("id",)), "No table"),
        (cb.Side("main.duckdb_settings", ("name",)), cb.Side("shop.orders", ("id",)), "No table"),
        (
            cb.Side("sheets.marketing_spend", ('month" IS NOT NULL; DROP TABLE x; --',)),
            cb.Side("shop.orders", ("id",)),
            "has no column",
        ),
        (
            cb.Side("sheets.marketing_spend", ("month",), "sum(spend_krw)"),
            cb.Side("shop.orders", ("ordered_at",)),
            "has no column",
        ),
    ],
)
def test_an_identifier_not_in_the_catalogue_is_refused(engine, cat, left, right, refused):
    with pytest.raises(cb.NotInCatalogue, match=refused):
        cb.combine(engine, cat, left, right)


def test_a_text_measure_and_unpaired_keys_are_refused(engine, cat):
    orders = cb.Side("shop.orders", ("ordered_at",))
    with pytest.raises(ValidationFailed, match="not a number"):
        cb.combine(engine, cat, cb.Side("sheets.marketing_spend", ("month",), "channel"), orders)
    with pytest.raises(ValidationFailed, match="as many key columns"):
        cb.combine(engine, cat, cb.Side("sheets.marketing_spend", ("month", "channel")), orders)
    with pytest.raises(ValidationFailed, match="cannot be read by month"):
        cb.combine(engine, cat, cb.Side("shop.orders", ("amount",)), orders, by_month=True)


def test_personal_data_in_a_key_is_masked_in_rows_and_notes(engine, cat, demo_dir):
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as con:
        emails = [e for (e,) in con.execute("SELECT email FROM customers")]
    left = cb.Side("crm.customers", ("email",))
    right = cb.Side("shop.sellers", ("email",))
    result = cb.combine(engine, cat, left, right)
    assert len(result.left_only) == len(emails)  # counted before masking: none merged
    shown = " ".join(result.notes()) + " ".join(result.frame["email"].astype(str))
    assert not [e for e in emails if e in shown]
    assert "***" in result.left_only[0]


def test_the_marketing_view_reports_the_months_the_sheet_lacks(engine, demo_dir):
    result = run_view(engine, VIEWS["marketing"])
    with open(demo_dir / "marketing_spend.csv", newline="", encoding="utf-8") as f:
        sheet = list(csv.DictReader(f))
    channels = sorted({r["channel"] for r in sheet})
    assert result.left_measures == [f"{c} spend" for c in channels]
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as con:
        signups = dict(
            con.execute("SELECT substr(signup_date, 1, 7), count(*) FROM customers GROUP BY 1")
        )
    sheet_months = {month_of(r["month"]) for r in sheet}
    assert result.right_only == sorted(set(signups) - sheet_months)
    assert result.left_only == []
    assert result.notes()[0].startswith(
        f"{len(result.right_only)} months in customers and orders have no match in "
        "marketing_spend (CSV): "
    )
    frame = result.frame.assign(m=result.frame["month"].dt.strftime("%Y-%m"))
    per_channel: defaultdict[tuple[str, str], int] = defaultdict(int)
    for r in sheet:
        per_channel[(month_of(r["month"]), r["channel"])] += int(r["spend_krw"])
    for (m, c), spend in per_channel.items():
        assert frame.loc[frame["m"] == m, f"{c} spend"].item() == spend
    assert frame.set_index("m")["new_customers"].to_dict() == signups

    bounded = run_view(engine, VIEWS["marketing"], date(2025, 1, 1), date(2026, 1, 1))
    assert bounded.right_only == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert len(bounded.frame) == 12


def test_the_store_view_matches_every_month_and_sums_each_store(engine, demo_dir):
    result = run_view(engine, VIEWS["stores"])
    wb = load_workbook(demo_dir / "store_sales.xlsx", read_only=True)
    try:
        rows = list(wb["Sales"].iter_rows(min_row=2, values_only=True))
    finally:
        wb.close()
    stores = sorted({r[1] for r in rows if r[1]})
    assert result.left_measures == [f"{s} store revenue" for s in stores]
    assert result.notes() == ["Every month matched on both sides."]
    total = result.frame[result.left_measures].to_numpy().sum()
    assert total == sum(r[2] for r in rows if r[2] is not None)
    with closing(sqlite3.connect(demo_dir / "shop.sqlite")) as con:
        (online,) = con.execute(
            "SELECT sum(p.balance_amount) FROM orders o JOIN payments p ON p.order_id = o.id "
            "WHERE o.status IN ('approved', 'partially_refunded')"
        ).fetchone()
    assert result.frame["online_revenue_krw"].sum() == online


def test_the_customers_snapshot_copies_no_personal_data(cat):
    """The dashboard's copy of customers declares its columns: no e-mail, name or phone."""
    columns = set(cat.of("crm.customers_snapshot"))
    assert columns and not columns & {"email", "name", "phone"}


def test_a_snapshot_alias_of_customers_is_masked_like_customers(demo_dir, tmp_path):
    """An alias that copies customers whole (`table = "customers"`, no `columns`) is masked
    as the table it reads: its e-mails in the rows and in the unmatched-keys notes."""
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as con:
        emails = [e for (e,) in con.execute("SELECT email FROM customers")]
    plan = tmp_path / "plan.csv"
    plan.write_text("channel,n\nsearch,1\n", encoding="utf-8")
    alias = {"table": "customers", "mode": "snapshot", "ttl": 300}
    crm = {"url": f"sqlite:///{demo_dir / 'crm.sqlite'}", "tables": {"customers_copy": alias}}
    sheets = {"tables": {"plan": {"file": str(plan), "columns": {"channel": "text", "n": "int"}}}}
    eng = Engine(
        [SourceConfig("crm", "sql", options=crm), SourceConfig("sheets", "sheet", options=sheets)],
        ROOT / "queries",
    )
    try:
        cat = cb.catalogue(eng, ADMIN)
        assert cat.personal["crm.customers_copy"]["email"] == "email"
        left = cb.Side("crm.customers_copy", ("email",))
        result = cb.combine(eng, cat, left, cb.Side("sheets.plan", ("channel",)))
        assert len(result.left_only) == len(emails)
        shown = " ".join(result.notes()) + " ".join(result.frame["email"].astype(str))
        assert not [e for e in emails if e in shown]
        assert "***" in result.left_only[0]
    finally:
        eng.close()


def test_a_column_named_like_personal_data_is_masked_on_the_right_side_too(two_sheets, tmp_path):
    engine, _ = two_sheets
    people = tmp_path / "people.csv"
    people.write_text("Email,n\nann@example.com,1\nbob@example.com,2\n", encoding="utf-8")
    plan = engine.sources["sheets"].options["tables"]["plan"]
    tables = {
        "plan": plan,
        "people": {"file": str(people), "columns": {"Email": "text", "n": "int"}},
    }
    eng = Engine([SourceConfig("sheets", "sheet", options={"tables": tables})], ROOT / "queries")
    try:
        cat = cb.catalogue(eng, ANALYST)
        result = cb.combine(
            eng, cat, cb.Side("sheets.plan", ("team",)), cb.Side("sheets.people", ("Email",))
        )
        shown = " ".join(result.notes()) + " ".join(result.frame["team"].astype(str))
        assert result.right_only and "ann@example.com" not in shown and "bob@" not in shown
    finally:
        eng.close()


def test_a_personal_data_column_is_never_a_measure(engine, cat):
    assert "email" not in cat.measures("crm.customers")
    fake = cb.Catalogue(
        {**cat.columns, "crm.customers": {**cat.columns["crm.customers"], "phone": "BIGINT"}},
        personal=cat.personal,
    )
    with pytest.raises(ValidationFailed, match="personal data"):
        cb.validate(
            fake,
            cb.Side("crm.customers", ("signup_date",), "phone"),
            cb.Side("sheets.marketing_spend", ("month",)),
        )


def test_an_analyst_combines_the_sheets_and_orders_and_a_customer_table_is_refused(engine):
    """The analyst may open /orders (read-only) but not /customers: the orders and payments
    tables (their snapshots too) are in their catalogue; no crm table, by any name (an alias
    included), nor a shop table behind no page of theirs is, so combine refuses it like an
    unknown one."""
    cat = cb.catalogue(engine, ANALYST)
    assert cat.tables() == [
        "sheets.marketing_spend",
        "sheets.store_sales",
        "shop.orders",
        "shop.orders_snapshot",
        "shop.payments",
        "shop.payments_snapshot",
    ]
    for table in ("crm.customers", "crm.customers_snapshot", "shop.sellers", "shop.products"):
        with pytest.raises(cb.NotInCatalogue, match="No table"):
            cb.combine(
                engine,
                cat,
                cb.Side(table, ("email",)),
                cb.Side("sheets.marketing_spend", ("channel",)),
            )


def test_each_role_combines_the_tables_behind_its_pages(engine):
    admin = set(cb.catalogue(engine, ADMIN).tables())
    assert {"crm.customers", "crm.customers_snapshot", "shop.orders", "shop.payments"} <= admin
    assert {"shop.products", "shop.sellers", "shop.orders_snapshot"} <= admin
    assert cb.catalogue(engine, OPERATOR).tables() == []  # no Spreadsheets page at all
    assert cb.catalogue(engine, None).tables() == []
