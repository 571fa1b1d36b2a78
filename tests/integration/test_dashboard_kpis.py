"""The dashboard's KPIs and chart totals (lib.dashboard.data.load through the engine and the
named queries) against the same figures computed straight from a copy of the demo's SQLite
files and its spend CSV: two ranges, their previous periods, a seller's own view, an empty
range."""

from __future__ import annotations

import csv
import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from lib.access.principal import Principal
from lib.config.settings import load_settings
from lib.dashboard import data
from lib.dashboard.data import Options
from lib.dashboard.filters import default_range
from lib.dashboard.model import Filters
from lib.errors import ActionDenied
from lib.reading.engine import Engine
from tests.stack import copy_demo, write_config

ADMIN = Principal("admin", "Ada Admin", ("admin",))
ANALYST = Principal("analyst", "Ana Analyst", ("analyst",))
SELLER1 = Principal("seller1", "Seller One (tenant 1)", ("seller",), tenant=1)
SUPPORT = Principal("support", "Sora Support", ("support",))
NOW = datetime(2026, 11, 2, 12, 0, 0)

# The demo's reasons, each with the category the dashboard files it under.
CATEGORY = {
    "Arrived damaged": "Damaged or defective",
    "Defective on arrival": "Damaged or defective",
    "Wrong size": "Wrong item or size",
    "Wrong item sent": "Wrong item or size",
    "Arrived late": "Late delivery",
    "Changed my mind": "Changed mind",
    "Found cheaper elsewhere": "Changed mind",
    "Duplicate order": "Changed mind",
    "Not as described": "Other",
    "Missing parts": "Other",
}


@pytest.fixture(scope="module")
def demo(seeded_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(seeded_demo_dir, tmp_path_factory.mktemp("dashboard") / "demo")


@pytest.fixture(scope="module")
def engine(demo: Path) -> Iterator[Engine]:
    settings = load_settings(write_config(demo.parent, demo))
    eng = Engine(settings.sources, settings.queries_dir)
    yield eng
    eng.close()


# --- the same figures, straight from the files -------------------------------------------------


def rows(demo: Path, sql: str, **params: object) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(demo / "shop.sqlite")) as con:
        con.row_factory = sqlite3.Row
        con.execute("ATTACH DATABASE ? AS crm", (str(demo / "crm.sqlite"),))
        return con.execute(sql, params).fetchall()


ORDERS = """
    SELECT o.id, o.customer_id, o.status, o.amount, o.ordered_at, p.balance_amount, p.method,
           c.segment
    FROM orders o JOIN payments p ON p.order_id = o.id JOIN crm.customers c ON c.id = o.customer_id
    WHERE (:seller IS NULL OR o.seller_id = :seller)
"""


def spend_by_month(demo: Path, start: date, end: date) -> dict[date, float]:
    """Each month's spend for the days from `start` to `end` (inclusive) it holds."""
    total: dict[date, int] = defaultdict(int)
    with open(demo / "marketing_spend.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            total[date.fromisoformat(row["month"][:10]).replace(day=1)] += int(row["spend_krw"])
    out = {}
    for month, spend in total.items():
        following = (month + timedelta(days=32)).replace(day=1)
        days = (min(following - timedelta(days=1), end) - max(month, start)).days + 1
        if days > 0:
            out[month] = spend * days / (following - month).days
    return out


def expected(demo: Path, start: date, end: date, seller: int | None = None) -> dict:
    lo, hi = start.isoformat(), (end + timedelta(days=1)).isoformat()
    everything = rows(demo, ORDERS, seller=seller)
    placed = [r for r in everything if lo <= r["ordered_at"] < hi]
    kept = [r for r in placed if r["status"] in ("approved", "partially_refunded")]
    not_rejected = [r for r in placed if r["status"] != "rejected"]
    refunded = [r for r in placed if r["status"] in ("refunded", "partially_refunded")]
    gmv = sum(r["amount"] for r in not_rejected)
    revenue = sum(r["balance_amount"] for r in kept)
    given_back = sum(r["amount"] - r["balance_amount"] for r in refunded)
    first: dict[int, str] = {}
    for r in everything:
        first[r["customer_id"]] = min(first.get(r["customer_id"], r["ordered_at"]), r["ordered_at"])
    spend = spend_by_month(demo, start, end)
    spent = sum(spend.values())
    pending = [r["ordered_at"] for r in everything if r["status"] == "pending"]
    by_segment: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_month: dict[date, int] = defaultdict(int)
    by_method: dict[str, int] = defaultdict(int)
    for r in placed:
        cell = by_segment[(r["ordered_at"][:7], r["segment"])]
        cell[0] += 1
    for r in kept:
        by_segment[(r["ordered_at"][:7], r["segment"])][1] += r["balance_amount"]
        by_month[date.fromisoformat(r["ordered_at"][:7] + "-01")] += r["balance_amount"]
        by_method[r["method"]] += r["balance_amount"]
    reasons: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows(
        demo,
        "SELECT f.amount, f.reason FROM refunds f JOIN orders o ON o.id = f.order_id "
        "WHERE f.status = 'done' AND NOT f.rejects_order AND o.ordered_at >= :lo "
        "AND o.ordered_at < :hi AND (:seller IS NULL OR o.seller_id = :seller) "
        "AND o.status IN ('refunded', 'partially_refunded')",
        lo=lo,
        hi=hi,
        seller=seller,
    ):
        cell = reasons[CATEGORY[r["reason"]]]
        cell[0] += 1
        cell[1] += r["amount"]
    return {
        "kpis": {
            "gmv": gmv,
            "revenue_kept": revenue,
            "orders": len(placed),
            "aov": gmv / len(not_rejected) if not_rejected else None,
            "refund_rate": given_back / gmv if gmv else None,
            "new_customers": sum(lo <= d < hi for d in first.values()),
            "backlog": len(pending),
            "marketing_spend": spent,
            "revenue_per_spend": revenue / spent if spent else None,
        },
        "oldest_pending": min(pending, default=None),
        "by_segment": {k: tuple(v) for k, v in by_segment.items()},
        "by_month": dict(by_month),
        "by_method": dict(by_method),
        "spend": spend,
        "reasons": {k: tuple(v) for k, v in reasons.items()},
        "refunded": given_back,
    }


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def assert_kpis(got: data.DashboardData, want: dict, previous: dict, spend: bool) -> None:
    keys = [k.key for k in got.kpis]
    shown = list(data.KPIS) if spend else [k for k in data.KPIS if k not in data.SPEND_KPIS]
    assert keys == shown
    for kpi in got.kpis:
        assert close(kpi.value, want["kpis"][kpi.key]), (kpi.key, kpi.value, want["kpis"][kpi.key])
        if kpi.key == "backlog":
            assert kpi.previous is None
        else:
            assert close(kpi.previous, previous["kpis"][kpi.key]), kpi.key
        assert (kpi.label, kpi.unit) == data.KPIS[kpi.key]


def assert_charts(got: data.DashboardData, want: dict, spend: bool) -> None:
    charts = got.charts
    assert set(charts) == {
        "revenue_by_segment",
        "share_by_segment",
        "share_by_method",
        "refunds_by_reason",
        *(["revenue_vs_spend"] if spend else []),
    }
    frame = charts["revenue_by_segment"]
    assert list(frame.columns) == ["period", "segment", "orders", "revenue_krw"]
    by_month_segment = {
        (p.strftime("%Y-%m"), s): (int(o), int(r)) for p, s, o, r in frame.itertuples(index=False)
    }
    if got.filters.granularity == "month":
        assert by_month_segment == want["by_segment"]
    assert frame["orders"].sum() == want["kpis"]["orders"]
    assert frame["revenue_krw"].sum() == want["kpis"]["revenue_kept"]

    for key, column, expected_by in (
        ("share_by_segment", "segment", None),
        ("share_by_method", "method", want["by_method"]),
    ):
        frame = charts[key]
        assert list(frame.columns) == [column, "revenue_krw", "share"]
        assert frame["revenue_krw"].sum() == want["kpis"]["revenue_kept"]
        assert close(float(frame["share"].sum()), 1.0)
        assert list(frame["revenue_krw"]) == sorted(frame["revenue_krw"], reverse=True)
        if expected_by is not None:
            assert dict(zip(frame[column], frame["revenue_krw"], strict=True)) == expected_by

    frame = charts["refunds_by_reason"]
    assert list(frame.columns) == ["category", "refunds", "refunded_krw"]
    got_reasons = {c: (int(n), int(k)) for c, n, k in frame.itertuples(index=False)}
    assert got_reasons == want["reasons"]
    assert frame["refunded_krw"].sum() == want["refunded"]  # the refund rate's numerator

    if spend:
        frame = charts["revenue_vs_spend"]
        assert list(frame.columns) == ["month", "revenue_krw", "spend_krw"]
        months = [m.date() for m in frame["month"]]
        assert months == sorted(want["spend"])  # every month of the view, the sheet has them
        assert all(
            close(s, want["spend"][m]) for m, s in zip(months, frame["spend_krw"], strict=True)
        )
        revenue = dict(zip(months, frame["revenue_krw"], strict=True))
        assert revenue == {m: want["by_month"].get(m, 0) for m in months}


# --- the checks --------------------------------------------------------------------------------

RANGES = {
    "default twelve months": None,
    "five weeks across a month end": (date(2026, 3, 15), date(2026, 4, 20), "week"),
}


@pytest.mark.parametrize("case", list(RANGES))
def test_every_kpi_and_chart_matches_the_files(engine, demo, case):
    assert data.latest_day(engine) == date(2026, 10, 31)
    if RANGES[case] is None:
        start, end = default_range(data.latest_day(engine))
        assert (start, end) == (date(2025, 11, 1), date(2026, 10, 31))
        filters = Filters(start, end)
    else:
        start, end, granularity = RANGES[case]
        filters = Filters(start, end, granularity)
    got = data.load(engine, ANALYST, filters, now=NOW)
    before = filters.previous()
    want = expected(demo, start, end)
    assert_kpis(got, want, expected(demo, before.date_from, before.date_to), spend=True)
    assert_charts(got, want, spend=True)
    assert got.filters == filters and got.tenant is None and got.labels == {}
    assert got.sources == data.SOURCES and got.refreshed_at is not None
    waited = NOW - datetime.fromisoformat(want["oldest_pending"])
    assert got.kpi("backlog").note == (f"oldest waiting {waited.days} d {waited.seconds // 3600} h")
    if case != "default twelve months":
        assert got.kpi("marketing_spend").note  # April counts for 20 of its 30 days
        periods = set(got.charts["revenue_by_segment"]["period"].dt.date)
        assert periods <= {date(2026, 3, 9) + timedelta(weeks=n) for n in range(7)}
        assert all(p.weekday() == 0 for p in periods)  # weeks start on Monday


def test_a_seller_sees_its_own_figures_whatever_the_view_asks(engine, demo):
    start, end = date(2025, 11, 1), date(2026, 10, 31)
    asked = Filters(start, end, seller_id=2)
    got = data.load(engine, SELLER1, asked, now=NOW)
    assert got.filters.seller_id == 1 and got.tenant == 1
    before = got.filters.previous()
    want = expected(demo, start, end, seller=1)
    assert_kpis(got, want, expected(demo, before.date_from, before.date_to, seller=1), spend=False)
    assert_charts(got, want, spend=False)
    assert got.labels == {"seller": "Seoul Style Co."}
    assert got.sources == data.SELLER_SOURCES

    # An admin choosing seller 1 sees the same figures, and the company's spend beside them.
    chosen = data.load(engine, ADMIN, replace(asked, seller_id=1), now=NOW)
    assert chosen.tenant is None and chosen.labels == {"seller": "Seoul Style Co."}
    for kpi in got.kpis:
        assert chosen.kpi(kpi.key) == kpi
    assert close(chosen.kpi("marketing_spend").value, want["kpis"]["marketing_spend"])
    assert "revenue_vs_spend" in chosen.charts


def test_a_range_without_orders_gives_zeros_and_no_ratios(engine):
    got = data.load(engine, ADMIN, Filters(date(2030, 1, 1), date(2030, 2, 15), "day"), now=NOW)
    values = {k.key: k.value for k in got.kpis}
    assert values == {
        "gmv": 0,
        "revenue_kept": 0,
        "orders": 0,
        "aov": None,
        "refund_rate": None,
        "new_customers": 0,
        "backlog": values["backlog"],  # pending now: not tied to the dates
        "marketing_spend": 0,
        "revenue_per_spend": None,
    }
    assert values["backlog"] > 0
    assert all(k.change is None for k in got.kpis)
    for key in ("revenue_by_segment", "share_by_segment", "share_by_method", "refunds_by_reason"):
        assert got.charts[key].empty, key
    months = got.charts["revenue_vs_spend"]
    assert [m.date() for m in months["month"]] == [date(2030, 1, 1), date(2030, 2, 1)]
    assert list(months["revenue_krw"]) == [0, 0] and months["spend_krw"].isna().all()


def test_without_the_spend_sheet_the_rest_of_the_dashboard_stands(seeded_demo_dir, tmp_path):
    demo = copy_demo(seeded_demo_dir, tmp_path / "demo")
    want = expected(demo, date(2026, 1, 1), date(2026, 1, 31))
    (demo / "marketing_spend.csv").unlink()
    settings = load_settings(write_config(tmp_path, demo))
    eng = Engine(settings.sources, settings.queries_dir)
    try:
        got = data.load(eng, ADMIN, Filters(date(2026, 1, 1), date(2026, 1, 31)), now=NOW)
    finally:
        eng.close()
    assert got.kpi("revenue_kept").value == want["kpis"]["revenue_kept"] > 0
    spend = got.kpi("marketing_spend")
    assert (spend.value, spend.previous) == (None, None)
    assert spend.note.startswith("unavailable: ") and "\n" not in spend.note
    assert got.kpi("revenue_per_spend").value is None
    months = got.charts["revenue_vs_spend"]
    assert list(months["revenue_krw"]) == [want["kpis"]["revenue_kept"]]
    assert months["spend_krw"].isna().all()


def test_only_those_who_may_open_the_dashboard_get_its_data(engine):
    with pytest.raises(ActionDenied):
        data.load(engine, SUPPORT, Filters(date(2026, 1, 1), date(2026, 1, 31)))
    with pytest.raises(ActionDenied):
        data.scoped(SUPPORT, Filters(date(2026, 1, 1), date(2026, 1, 31)))


def test_options_and_the_check_of_a_view_against_them(engine):
    opts = data.options(engine)
    assert opts.sellers == {1: "Seoul Style Co.", 2: "Hangang Electronics", 3: "Jeju Market"}
    assert opts.segments == ["dormant", "new", "regular", "vip"]
    assert opts.methods == ["card", "easy_pay", "transfer", "virtual_account"]
    view = Filters(date(2026, 1, 1), date(2026, 1, 31), seller_id=9, segment="whales")
    checked, problems = data.checked(view, opts, ADMIN)
    assert (checked.seller_id, checked.segment) == (None, None)
    assert problems == [
        "Ignored seller '9' from the link: no such seller.",
        "Ignored segment 'whales' from the link: no such segment.",
    ]
    known = Filters(date(2026, 1, 1), date(2026, 1, 31), seller_id=1, segment="vip")
    assert data.checked(known, opts, ADMIN) == (known, [])
    # A seller's own tenant stays whatever the options say: scoped binds it.
    own = Filters(date(2026, 1, 1), date(2026, 1, 31), seller_id=1)
    assert data.checked(own, Options({}, [], []), SELLER1) == (own, [])


# --- the rollups (derived tables) give the figures the snapshots give -------------------------

# The dashboard's queries as they were before the daily rollups: straight over the snapshots.
DIRECT = {
    "dashboard_figures": """
-- The dashboard's figures for one period (orders placed from $date_from, before $date_end),
-- by period ($granularity), month, customer segment and payment method; the KPIs are their
-- sums, the charts their groupings. In scope: $seller_id, $segment, $method (NULL: all).
-- gmv: amount of orders not rejected; revenue_krw: what approved and partially refunded
-- payments kept; refunded_krw: what refunded and partially refunded payments gave back;
-- new_customers: orders that are their customer's first in scope (any status).
WITH scoped AS (
    SELECT
        o.id,
        o.customer_id,
        o.status,
        o.amount,
        CAST(o.ordered_at AS TIMESTAMP) AS ordered_ts,
        p.balance_amount,
        coalesce(p.method, 'unknown') AS method,
        coalesce(c.segment, 'unknown') AS segment
    FROM shop.orders_snapshot AS o
    LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
    WHERE ($seller_id IS NULL OR o.seller_id = $seller_id)
      AND ($segment IS NULL OR c.segment = $segment)
      AND ($method IS NULL OR p.method = $method)
),
firsts AS (  -- each customer's first order in scope (an aggregate: cheaper than a window)
    SELECT arg_min(id, (ordered_ts, id)) AS id FROM scoped GROUP BY customer_id
),
flagged AS (
    SELECT s.*, f.id IS NOT NULL AS first_order
    FROM scoped AS s
    LEFT JOIN firsts AS f ON f.id = s.id
    WHERE s.ordered_ts < CAST($date_end AS TIMESTAMP)
)
SELECT
    CAST(
        CASE $granularity  -- constant parts: date_trunc with a bound part is slower
            WHEN 'day' THEN date_trunc('day', ordered_ts)
            WHEN 'week' THEN date_trunc('week', ordered_ts)
            ELSE date_trunc('month', ordered_ts)
        END AS DATE
    ) AS period,
    CAST(date_trunc('month', ordered_ts) AS DATE) AS month,
    segment,
    method,
    count(*) AS orders,
    count(*) FILTER (WHERE status <> 'rejected') AS orders_not_rejected,
    coalesce(sum(amount) FILTER (WHERE status <> 'rejected'), 0) AS gmv,
    coalesce(
        sum(balance_amount) FILTER (WHERE status IN ('approved', 'partially_refunded')), 0
    ) AS revenue_krw,
    coalesce(
        sum(amount - balance_amount) FILTER (WHERE status IN ('refunded', 'partially_refunded')),
        0
    ) AS refunded_krw,
    count(*) FILTER (WHERE first_order) AS new_customers
FROM flagged
WHERE ordered_ts >= CAST($date_from AS TIMESTAMP)
GROUP BY ALL
ORDER BY period, month, segment, method""",
    "dashboard_refunds": r"""
-- Refunds given back on the orders placed in the period (in scope), by the category of their
-- reason. Only refunds done; a reject's own cancel is no refund.
WITH refunds AS (
    SELECT r.amount, lower(r.reason) AS reason
    FROM shop.refunds_snapshot AS r
    JOIN shop.orders_snapshot AS o ON o.id = r.order_id
    LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
    LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
    WHERE r.status = 'done'
      AND coalesce(CAST(r.rejects_order AS INTEGER), 0) = 0
      AND o.status IN ('refunded', 'partially_refunded')
      AND CAST(o.ordered_at AS TIMESTAMP) >= CAST($date_from AS TIMESTAMP)
      AND CAST(o.ordered_at AS TIMESTAMP) < CAST($date_end AS TIMESTAMP)
      AND ($seller_id IS NULL OR o.seller_id = $seller_id)
      AND ($segment IS NULL OR c.segment = $segment)
      AND ($method IS NULL OR p.method = $method)
)
SELECT
    CASE
        WHEN regexp_matches(reason, 'damag|defect|broken|faulty') THEN 'Damaged or defective'
        WHEN regexp_matches(reason, 'wrong item|size|wrong product') THEN 'Wrong item or size'
        WHEN regexp_matches(reason, '\blate\b|delay') THEN 'Late delivery'
        WHEN regexp_matches(reason, 'mind|cheaper|duplicate') THEN 'Changed mind'
        ELSE 'Other'
    END AS category,
    count(*) AS refunds,
    sum(amount) AS refunded_krw
FROM refunds
GROUP BY ALL
ORDER BY refunded_krw DESC, category""",
    "dashboard_backlog": """
-- Orders waiting for an operator now (pending), in scope whatever the dates: how many, and
-- since when the oldest waits.
SELECT
    count(*) AS pending,
    min(CAST(o.ordered_at AS TIMESTAMP)) AS oldest_at
FROM shop.orders_snapshot AS o
LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id
LEFT JOIN crm.customers_snapshot AS c ON c.id = o.customer_id
WHERE o.status = 'pending'
  AND ($seller_id IS NULL OR o.seller_id = $seller_id)
  AND ($segment IS NULL OR c.segment = $segment)
  AND ($method IS NULL OR p.method = $method)""",
}


@pytest.mark.parametrize("granularity", ["month", "week", "day"])
def test_the_rollups_give_every_figure_the_snapshots_give(engine, granularity):
    latest = data.latest_day(engine)
    start, end = default_range(latest)
    cur = engine.cursor()
    checked = 0
    for seller in (None, 1):
        for segment in (None, "vip"):
            for method in (None, "card"):
                view = Filters(start, end, granularity, seller, segment, method)
                for params in (view.bound(), view.previous().bound()):
                    for name, direct in DIRECT.items():
                        got = engine.query(name, **params)
                        bound = {k: v for k, v in params.items() if f"${k}" in direct}
                        want = cur.execute(direct, bound).df()
                        assert list(got.columns) == list(want.columns), name
                        assert got.to_dict("records") == want.to_dict("records"), (name, params)
                        checked += len(want)
    assert checked > 100  # the views had figures to compare
