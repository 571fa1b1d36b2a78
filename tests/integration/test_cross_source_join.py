"""customers in PostgreSQL ⋈ orders and payments in MariaDB (the dashboard's figures, over
their snapshots), checked against each database."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.config.settings import load_settings
from lib.demo.load_sql import copy_tables
from lib.reading.engine import Engine
from tests.stack import write_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(
    pg_url: str, mysql_url: str, demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The shipped config's crm and shop sources (their snapshots and the dashboard's derived
    rollups) with crm in PostgreSQL and the shop in MariaDB."""
    copy_tables(demo_dir / "crm.sqlite", pg_url, ["customers"])
    copy_tables(
        demo_dir / "shop.sqlite",
        mysql_url,
        ["orders", "payments", "refunds", "products", "sellers"],
    )
    settings = load_settings(write_config(tmp_path_factory.mktemp("join"), demo_dir))
    urls = {"crm": pg_url, "shop": mysql_url}
    sources = [
        replace(s, options={**s.options, "url": urls[s.name]})
        for s in settings.sources
        if s.name in urls
    ]
    eng = Engine(sources, settings.queries_dir)
    assert eng.snapshots.wait_built(120), "the snapshots and rollups were not built"
    yield eng
    eng.close()


def figures(engine: Engine, date_from: str, date_end: str, seller_id: int | None = None):
    params = {"granularity": "month", "seller_id": seller_id, "segment": None, "method": None}
    return engine.query("dashboard_figures", date_from=date_from, date_end=date_end, **params)


def expected_from_each_database(pg_url: str, mysql_url: str, seller_id: int | None) -> dict:
    with sa.create_engine(pg_url).connect() as pg:
        segment = dict(pg.execute(sa.text("SELECT id, segment FROM customers")).all())
    with sa.create_engine(mysql_url).connect() as my:
        per_customer = my.execute(
            sa.text(
                "SELECT o.customer_id, DATE_FORMAT(o.ordered_at, '%Y-%m-01') AS month, "
                "COUNT(*) AS n, "
                "SUM(CASE WHEN o.status <> 'rejected' THEN o.amount ELSE 0 END) AS gmv, "
                "SUM(CASE WHEN o.status IN ('approved', 'partially_refunded') "
                "    THEN p.balance_amount ELSE 0 END) AS revenue "
                "FROM orders o LEFT JOIN payments p ON p.order_id = o.id "
                "WHERE :seller IS NULL OR o.seller_id = :seller "
                "GROUP BY o.customer_id, month"
            ),
            {"seller": seller_id},
        ).all()
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for customer_id, month, n, gmv, revenue in per_customer:
        cell = out[(month, segment.get(customer_id, "unknown"))]
        cell[0] += n
        cell[1] += int(gmv or 0)
        cell[2] += int(revenue or 0)
    return {k: tuple(v) for k, v in out.items()}


@pytest.mark.parametrize("seller_id", [None, 2])
def test_join_across_two_databases_matches_each_database(engine, pg_url, mysql_url, seller_id):
    df = figures(engine, "2000-01-01", "2100-01-01", seller_id)
    by = df.groupby([df["month"].astype(str), "segment"])[["orders", "gmv", "revenue_krw"]].sum()
    got = {key: tuple(int(v) for v in row) for key, row in by.iterrows()}
    expected = expected_from_each_database(pg_url, mysql_url, seller_id)
    assert len(got) > 50  # 18 months x 4 segments: a real result, not an empty one
    assert got == expected


def test_date_range_parameters_narrow_the_join(engine):
    df = figures(engine, "2026-01-01", "2026-02-01")
    assert set(df["month"].astype(str)) == {"2026-01-01"}


def test_live_filters_are_pushed_into_postgres(engine):
    engine.ensure("crm")
    plan = "\n".join(
        row[1]
        for row in engine._cursor()
        .execute("EXPLAIN SELECT id FROM crm.customers WHERE segment = 'vip'")
        .fetchall()
    )
    assert "POSTGRES_SCAN" in plan.upper() or "postgres_scan" in plan
    assert "segment='vip'" in plan.replace(" ", "") or "segment=vip" in plan.replace(" ", "")
