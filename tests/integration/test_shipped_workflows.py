"""The three shipped workflows (workflows/*.toml) end to end through the runner, over real
HTTP to the demo APIs, checked against figures worked out straight from the demo files; and
orders_by_segment against real PostgreSQL (crm) and MariaDB (shop)."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from lib.config.settings import ROOT, Settings, load_settings
from lib.demo.load_sql import copy_tables
from lib.demo.services.customer_api import profile
from lib.demo.services.order_api import shipping
from lib.reading.engine import Engine
from lib.reading.sources.base import SourceConfig
from lib.workflows.declaration import Workflow, load_workflows
from lib.workflows.model import RunResult
from lib.workflows.params import parse_params
from lib.workflows.runner import run_workflow
from tests.stack import copy_demo, crm, demo_services_over, shop, write_config

pytestmark = pytest.mark.integration

STANDING = ("approved", "pending", "partially_refunded")  # orders_by_segment counts these


@dataclass
class Stack:
    demo: Path
    urls: dict[str, str]
    settings: Settings
    engine: Engine
    workflows: dict[str, Workflow]

    def run(self, name: str, **raw: str) -> RunResult:
        """Run a shipped workflow with parameters as a shared link carries them."""
        workflow = self.workflows[name]
        params, notes = parse_params(workflow, raw)
        assert notes == []
        return run_workflow(workflow, params, engine=self.engine, settings=self.settings)


@pytest.fixture(scope="module")
def stack(seeded_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The demo APIs over a private copy of the demo (its faults are this module's own) and
    the shipped config pointed at both; every shipped workflow must load and validate."""
    base = tmp_path_factory.mktemp("shipped-workflows")
    demo = copy_demo(seeded_demo_dir, base / "demo")
    with demo_services_over(demo) as urls:
        settings = load_settings(write_config(base, demo, urls))
        workflows, errors = load_workflows(ROOT / "workflows", settings)
        assert errors == {}
        assert {"customer_orders", "tickets_with_profiles", "orders_by_segment"} <= set(workflows)
        engine = Engine(settings.sources, settings.queries_dir)
        try:
            yield Stack(demo, urls, settings, engine, workflows)
        finally:
            engine.close()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values (timestamps as ISO text) for comparing with expectations."""
    out = []
    for row in frame.to_dict("records"):
        plain = {}
        for key, value in row.items():
            if value is pd.NaT or (isinstance(value, float) and value != value):
                value = None
            elif isinstance(value, pd.Timestamp | datetime):
                value = value.strftime("%Y-%m-%d %H:%M:%S")
            elif hasattr(value, "item"):
                value = value.item()
            plain[key] = value
        out.append(plain)
    return out


# --- customer API -> order API --------------------------------------------------------------


def expected_customer_orders(demo: Path, tier: str | None, limit: int) -> list[dict]:
    """What customer_orders must show, from crm.sqlite and shop.sqlite and the APIs' rules."""
    found = []
    for cid, signup in crm(demo, "SELECT id, signup_date FROM customers ORDER BY id"):
        p = profile(cid, signup)
        if tier is None or p["loyalty_tier"] == tier:
            found.append(p)
    rows = []
    for p in found[:limit]:
        orders = shop(
            demo,
            "SELECT id, status, amount, ordered_at FROM orders WHERE customer_id = ?",
            p["id"],
        )
        shipped = Counter(shipping(oid, status)["shipping_status"] for oid, status, _, _ in orders)
        rows.append(
            {
                "customer_id": p["id"],
                "tier": p["loyalty_tier"],
                "points": p["points"],
                "orders": len(orders),
                "total_amount": sum(amount for _, _, amount, _ in orders),
                "last_ordered_at": max((o[3] for o in orders), default=None),
                **{s: shipped[s] for s in ("preparing", "shipped", "delivered", "returned")},
            }
        )
    return sorted(rows, key=lambda r: (-r["total_amount"], r["customer_id"]))


def test_customer_orders_for_a_tier_matches_the_demo_data(stack):
    result = stack.run("customer_orders", tier="gold", limit="40")
    assert (result.outcome, result.failed, result.error) == ("ok", [], None)
    assert records(result.result) == expected_customer_orders(stack.demo, "gold", 40)
    reports = {s.name: s for s in result.steps}
    assert (reports["customers"].rows, reports["orders"].items, reports["orders"].done) == (
        40,
        40,
        40,
    )


def test_customer_orders_by_default_takes_the_first_50_of_every_tier(stack):
    result = stack.run("customer_orders")
    assert result.outcome == "ok"
    assert records(result.result) == expected_customer_orders(stack.demo, None, 50)
    assert {r["tier"] for r in records(result.result)} > {"bronze", "silver"}


def test_customer_orders_lists_a_customer_whose_orders_always_fail(stack):
    """A call failing past its retries is listed by customer; the others come through."""
    customers = expected_customer_orders(stack.demo, "silver", 12)
    broken = sorted(r["customer_id"] for r in customers)[5]
    faults = f"{stack.urls['order_api']}/_faults"
    spec = {"mode": "error500", "count": None, "match": f"customer_id={broken}"}
    requests.post(faults, json=spec, timeout=5).raise_for_status()
    try:
        result = stack.run("customer_orders", tier="silver", limit="12")
    finally:
        requests.post(faults, json={"mode": "none"}, timeout=5).raise_for_status()
    assert result.outcome == "partial"
    assert [(f.step, f.item) for f in result.failed] == [("orders", f"customers {broken}")]
    assert "500" in result.failed[0].error
    got = {r["customer_id"]: r for r in records(result.result)}
    assert set(got) == {r["customer_id"] for r in customers}
    assert got[broken]["orders"] == 0  # its orders unread: listed as failed, not invented
    assert [got[r["customer_id"]] for r in customers if r["customer_id"] != broken] == [
        r for r in customers if r["customer_id"] != broken
    ]


# --- MongoDB tickets + customer API ---------------------------------------------------------


def expected_tickets(demo: Path, priority: str | None, channel: str | None) -> list[dict]:
    """What tickets_with_profiles must show, from the tickets the Mongo source is seeded with
    and each customer's profile as the customer API works it out from crm.sqlite."""
    tickets = json.loads((demo / "tickets.json").read_text(encoding="utf-8"))
    signup = dict(crm(demo, "SELECT id, signup_date FROM customers"))
    rows = []
    for t in tickets:
        if t["status"] not in ("open", "pending"):
            continue
        if (priority and t["priority"] != priority) or (channel and t["channel"] != channel):
            continue
        p = profile(t["customer_id"], signup[t["customer_id"]])
        rows.append(
            {
                "ticket": t["_id"],
                "created_at": t["created_at"].replace("T", " ").rstrip("Z"),
                "priority": t["priority"],
                "channel": t["channel"],
                "status": t["status"],
                "subject": t["subject"],
                "assignee": t["assignee"]["name"],
                "customer_id": t["customer_id"],
                "tier": p["loyalty_tier"],
                "points": p["points"],
                "last_login_at": p["last_login_at"].replace("T", " ").rstrip("Z"),
                "marketing_opt_in": p["marketing_opt_in"],
            }
        )
    return sorted(rows, key=lambda r: (r["created_at"], r["ticket"]))


@pytest.mark.parametrize(
    ("priority", "channel"), [("high", None), (None, "chat"), ("low", "phone")]
)
def test_open_tickets_carry_their_customers_profiles(stack, priority, channel):
    raw = {k: v for k, v in {"priority": priority, "channel": channel}.items() if v}
    result = stack.run("tickets_with_profiles", **raw)
    assert (result.outcome, result.failed, result.error) == ("ok", [], None)
    expected = expected_tickets(stack.demo, priority, channel)
    assert len(expected) > 5
    assert records(result.result) == expected
    profiles = next(s for s in result.steps if s.name == "profiles")
    assert profiles.items == len({r["customer_id"] for r in expected})  # once per customer


# --- MariaDB + PostgreSQL (the demo: both SQLite files) ---------------------------------------


def expected_by_segment(
    demo: Path, date_from: str | None, date_to: str | None, segment: str | None
) -> list[dict]:
    segments = dict(crm(demo, "SELECT id, segment FROM customers"))
    cells: dict[tuple[str, str], list] = defaultdict(lambda: [set(), 0, 0])
    marks = ",".join("?" * len(STANDING))
    for cid, amount, ordered_at in shop(
        demo,
        f"SELECT customer_id, amount, ordered_at FROM orders WHERE status IN ({marks})",
        *STANDING,
    ):
        day = ordered_at[:10]
        if (date_from and day < date_from) or (date_to and day > date_to):
            continue
        if segment and segments[cid] != segment:
            continue
        cell = cells[(segments[cid], day[:7])]
        cell[0].add(cid)
        cell[1] += 1
        cell[2] += amount
    return [
        {
            "segment": seg,
            "month": month,
            "customers": len(who),
            "orders": n,
            "revenue": revenue,
            "average_order": round(revenue / n),
        }
        for (seg, month), (who, n, revenue) in sorted(cells.items(), key=lambda c: c[0][::-1])
    ]


BY_SEGMENT_CASES = [
    {"date_from": "2026-01-01", "date_to": "2026-03-31"},
    {"segment": "vip"},
    {"date_from": "2025-11-15", "segment": "regular"},
    {},
]


@pytest.mark.parametrize("raw", BY_SEGMENT_CASES)
def test_orders_by_segment_matches_the_demo_databases(stack, raw):
    result = stack.run("orders_by_segment", **raw)
    assert (result.outcome, result.error) == ("ok", None)
    got = records(result.result)
    assert got  # a real result, not an empty one
    expected = expected_by_segment(
        stack.demo, raw.get("date_from"), raw.get("date_to"), raw.get("segment")
    )
    # avg() rounds half to even in places where Python rounds the same way: compare all but
    # the average exactly, and the average to the unit.
    assert [{**r, "average_order": 0} for r in got] == [{**r, "average_order": 0} for r in expected]
    assert all(
        abs(g["average_order"] - e["average_order"]) <= 1
        for g, e in zip(got, expected, strict=True)
    )


# --- orders_by_segment on the real servers ----------------------------------------------------


@pytest.fixture(scope="module")
def servers_stack(stack: Stack, pg_server, mysql_server) -> Iterator[Stack]:
    """The same workflow with crm in a fresh PostgreSQL database and shop in a fresh MariaDB
    one, each loaded from the demo files with lib.demo.load_sql."""
    pg_url = pg_server.new()
    mysql_url = mysql_server.new() + "?charset=utf8mb4"
    copy_tables(stack.demo / "crm.sqlite", pg_url, ["customers"])
    copy_tables(stack.demo / "shop.sqlite", mysql_url, ["orders"])
    sql = {
        "crm": SourceConfig("crm", "sql", options={"url": pg_url, "tables": {"customers": {}}}),
        "shop": SourceConfig("shop", "sql", options={"url": mysql_url, "tables": {"orders": {}}}),
    }
    sources = tuple(sql.get(s.name, s) for s in stack.settings.sources)
    settings = replace(stack.settings, sources=sources)
    engine = Engine(settings.sources, settings.queries_dir)
    try:
        yield replace(stack, settings=settings, engine=engine)
    finally:
        engine.close()


@pytest.mark.parametrize("raw", BY_SEGMENT_CASES)
def test_orders_by_segment_on_postgresql_and_mariadb_equals_the_demo_run(stack, servers_stack, raw):
    on_servers = servers_stack.run("orders_by_segment", **raw)
    assert (on_servers.outcome, on_servers.error) == ("ok", None)
    reports = {s.name: s.rows for s in on_servers.steps}
    with closing(sqlite3.connect(stack.demo / "crm.sqlite")) as con:
        everyone = con.execute("SELECT count(*) FROM customers").fetchone()[0]
    if "segment" not in raw:
        assert reports["customers"] == everyone  # read from PostgreSQL, not an empty table
    assert records(on_servers.result) == records(stack.run("orders_by_segment", **raw).result)


def test_a_date_param_from_the_link_is_typed(stack):
    """date_to is inclusive: the last day's orders are in."""
    workflow = stack.workflows["orders_by_segment"]
    params, _ = parse_params(workflow, {"date_from": "2026-03-31", "date_to": "2026-03-31"})
    assert params["date_from"] == params["date_to"] == date(2026, 3, 31)
    result = run_workflow(workflow, params, engine=stack.engine, settings=stack.settings)
    expected = expected_by_segment(stack.demo, "2026-03-31", "2026-03-31", None)
    assert (
        sum(r["orders"] for r in records(result.result)) == sum(r["orders"] for r in expected) > 0
    )
