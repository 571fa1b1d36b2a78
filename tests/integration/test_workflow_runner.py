"""The workflow runner over real HTTP against the demo APIs and their fault injection: calls
that fail now and then are absorbed by retries; items that keep failing or are too slow are
listed exactly (the run goes on, `partial`); the API down; retrying the failed items
completes the run to the rows a clean run gives; Stop; a query step on the engine."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pandas as pd
import pytest
import requests

from lib.access.masking import looks_like_raw_pii, mask, masked_line
from lib.config.settings import ROOT, Settings, load_settings
from lib.demo.services.serve import ServiceThread, create_service
from lib.reading.engine import Engine
from lib.workflows.declaration import Workflow, load_workflow, load_workflows, parse_params
from lib.workflows.model import Progress, RunResult
from lib.workflows.runner import run_workflow
from tests.stack import demo_services_over, write_config
from tests.workflow_texts import customer_orders

pytestmark = pytest.mark.integration

CUSTOMERS = 30  # customers the test workflow reads (ids 1..30: the API pages by id)

WORKFLOW = customer_orders(
    head="""
title = "Test: customers and their orders"
concurrency = 6
combine = "wf_test_combine"

[params.limit]
label = "Customers"
kind = "int"
default = 30
min = 1
max = 2000
""",
    customers="""
pagination = "page"
page_size = 7
max_rows = "{limit}"
""",
    orders="""
params = { customer_id = "{id}" }
pagination = "cursor"
page_size = 1000
timeout = 1
retries = 3
backoff = 0.02
""",
    last='name = "names"\nquery = "wf_test_names"',
)

COMBINE = """
SELECT c.id AS customer_id, c.loyalty_tier, n.name, count(o.id) AS orders,
       coalesce(sum(o.amount), 0) AS total
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.id
LEFT JOIN names n ON n.id = c.id
GROUP BY ALL
ORDER BY customer_id
"""

NAMES = """-- sources: crm
SELECT id, name FROM crm.customers WHERE id <= $limit
"""


@dataclasses.dataclass
class Stack:
    settings: Settings
    engine: Engine
    urls: dict[str, str]
    workflow: Workflow

    def run(self, workflow: Workflow | None = None, **kwargs) -> RunResult:
        wf = workflow or self.workflow
        params, notes = parse_params(wf, kwargs.pop("raw", {}))
        assert notes == []
        kwargs.setdefault("progress", Progress())
        kwargs.setdefault("stop", threading.Event())
        return run_workflow(wf, params, engine=self.engine, settings=self.settings, **kwargs)

    def fault(self, service: str, **spec) -> None:
        url = self.urls[service]
        requests.post(f"{url}/_faults", json=spec, timeout=5).raise_for_status()


def _stack(tmp_path: Path, demo_dir: Path, urls: dict[str, str]) -> Stack:
    qdir = tmp_path / "queries"
    qdir.mkdir()
    (qdir / "wf_test_combine.sql").write_text(COMBINE, encoding="utf-8")
    (qdir / "wf_test_names.sql").write_text(NAMES, encoding="utf-8")
    settings = dataclasses.replace(
        load_settings(write_config(tmp_path, demo_dir, urls)), queries_dir=qdir
    )
    wf_dir = tmp_path / "workflows"
    wf_dir.mkdir()
    (wf_dir / "wf_test.toml").write_text(dedent(WORKFLOW), encoding="utf-8")
    found, errors = load_workflows(wf_dir, settings)
    assert errors == {}
    return Stack(settings, Engine(settings.sources, qdir), urls, found["wf_test"])


@pytest.fixture
def stack(tmp_path: Path, demo_dir: Path) -> Iterator[Stack]:
    """The demo APIs of this test alone (faults armed here reach no other test)."""
    with demo_services_over(demo_dir) as urls:
        yield _stack(tmp_path, demo_dir, urls)


def expected(result: RunResult) -> pd.DataFrame:
    assert result.result is not None
    return result.result.sort_values("customer_id").reset_index(drop=True)


@pytest.fixture
def clean(stack: Stack) -> pd.DataFrame:
    """The result of a run without faults."""
    run = stack.run()
    assert (run.outcome, run.failed, run.error) == ("ok", [], None)
    return expected(run)


def test_a_clean_run_joins_each_customers_orders(stack: Stack, clean: pd.DataFrame):
    assert clean["customer_id"].tolist() == list(range(1, CUSTOMERS + 1))
    assert clean["orders"].sum() > 0 and clean["name"].notna().all()
    run = stack.run()
    assert [(s.name, s.kind, s.items, s.done, s.failed) for s in run.steps] == [
        ("customers", "call", 1, 1, 0),
        ("orders", "for_each", CUSTOMERS, CUSTOMERS, 0),
        ("names", "query", 1, 1, 0),
    ]
    assert run.steps[1].rows == clean["orders"].sum()
    # max_rows comes from the run parameter, across pages of 7.
    assert len(stack.run(raw={"limit": "10"}).frames["customers"]) == 10


def test_one_call_in_twenty_failing_is_absorbed_by_the_retries(stack: Stack, clean: pd.DataFrame):
    stack.fault("order_api", mode="error500", count=None, every=20)
    run = stack.run()
    assert (run.outcome, run.failed) == ("ok", [])
    pd.testing.assert_frame_equal(expected(run), clean)


def test_items_that_keep_failing_are_listed_exactly_and_retry_completes_the_run(
    stack: Stack, clean: pd.DataFrame
):
    stack.fault("order_api", mode="error500", count=None, match="customer_id=7")
    stack.fault("order_api", mode="error500", count=None, match="customer_id=13", append=True)
    stack.fault(
        "order_api", mode="slow", delay=2.5, count=None, match="customer_id=21", append=True
    )
    stack.fault("order_api", mode="error500", count=None, every=25, append=True)
    progress = Progress()
    run = stack.run(progress=progress)
    assert run.outcome == "partial"
    by_item = {f.item: (f.step, f.error) for f in run.failed}
    assert by_item == {
        "customers 7": ("orders", "GET /orders answered HTTP 500 (4 tries)"),
        "customers 13": ("orders", "GET /orders answered HTTP 500 (4 tries)"),
        "customers 21": ("orders", "GET /orders timed out after 1 s (4 tries)"),
    }
    assert progress.snapshot() == {
        "step": "names",
        "total": 1,
        "done": 1,
        "failed": 0,
        "not_run": 0,
        "left": 0,
    }
    assert run.steps[1].done == CUSTOMERS - 3 and run.steps[1].failed == 3
    # The result is still there: the failed customers with no orders.
    partial = expected(run).set_index("customer_id")
    assert len(partial) == CUSTOMERS and partial.loc[[7, 13, 21], "orders"].tolist() == [0, 0, 0]

    stack.fault("order_api", mode="none")
    again = stack.run(previous=run)
    assert (again.outcome, again.failed, again.error) == ("ok", [], None)
    assert again.steps[1].items == 3 and again.steps[1].done == 3
    pd.testing.assert_frame_equal(expected(again), clean)


def test_the_order_api_down_fails_every_item_then_retry_completes(tmp_path: Path, demo_dir: Path):
    with demo_services_over(demo_dir) as urls:
        order_api = ServiceThread(create_service("order_api", demo_dir, env={})).start()
        port = order_api.port
        stack = _stack(tmp_path, demo_dir, {**urls, "order_api": order_api.url})
        clean = expected(stack.run())
        order_api.stop()
        run = stack.run()
        assert run.outcome == "partial"
        assert sorted(f.item for f in run.failed) == sorted(
            f"customers {i}" for i in range(1, CUSTOMERS + 1)
        )
        assert {f.error for f in run.failed} == {
            f"GET /orders: cannot connect to http://127.0.0.1:{port} (4 tries)"
        }
        # Combined anyway: every customer, none with orders (their columns made up empty).
        down = expected(run)
        assert down["customer_id"].tolist() == list(range(1, CUSTOMERS + 1))
        assert down["orders"].tolist() == [0] * CUSTOMERS

        order_api = ServiceThread(create_service("order_api", demo_dir, env={}), port).start()
        try:
            again = stack.run(previous=run)
        finally:
            order_api.stop()
        assert (again.outcome, again.failed) == ("ok", [])
        pd.testing.assert_frame_equal(expected(again), clean)


def test_a_step_that_fails_as_a_whole_fails_the_run(tmp_path: Path, demo_dir: Path):
    with demo_services_over(demo_dir) as urls:
        stack = _stack(tmp_path, demo_dir, {"order_api": urls["order_api"]})
        run = stack.run()
    assert run.outcome == "failed" and run.result is None
    assert (
        run.error
        == "Step 'customers': GET /customers: cannot connect to http://127.0.0.1:9 (3 tries)"
    )
    assert [s.name for s in run.steps] == ["customers"]  # the source's retries = 2


class StopAfter(Progress):
    """Presses Stop once `n` items are done, as a user would mid-run."""

    def __init__(self, stop: threading.Event, n: int) -> None:
        super().__init__()
        self.stop, self.n = stop, n

    def item_done(self, ok: bool) -> None:
        super().item_done(ok)
        if self.step == "orders" and self.done >= self.n:
            self.stop.set()


def test_stop_lists_the_items_not_run_and_retry_finishes_them(stack: Stack, clean: pd.DataFrame):
    stack.fault("order_api", mode="slow", delay=0.05, count=None)
    stop = threading.Event()
    run = stack.run(stop=stop, progress=StopAfter(stop, 5))
    assert run.outcome == "stopped"
    not_run = [f for f in run.failed if f.error == "not run: stopped"]
    assert not_run and len(not_run) == len(run.failed)
    assert run.steps[1].done + len(not_run) == CUSTOMERS
    assert [s.name for s in run.steps] == ["customers", "orders"]  # `names` never started

    stack.fault("order_api", mode="none")
    again = stack.run(previous=run)
    assert (again.outcome, again.failed) == ("ok", [])
    pd.testing.assert_frame_equal(expected(again), clean)


def test_the_shipped_customer_orders_workflow_partial_then_retried(stack: Stack):
    shipped = dataclasses.replace(stack.settings, queries_dir=ROOT / "queries")
    found, errors = load_workflows(ROOT / "workflows", shipped)
    assert errors == {}
    wf = found["customer_orders"]

    def run(raw: dict[str, str], previous: RunResult | None = None) -> RunResult:
        params, notes = parse_params(wf, raw)
        assert notes == []
        return run_workflow(
            wf, params, engine=stack.engine, settings=shipped, stop=None, previous=previous
        )

    gold = run({"tier": "gold", "limit": "12"})
    assert (gold.outcome, gold.failed) == ("ok", [])
    assert gold.result is not None and len(gold.result) == 12
    assert set(gold.frames["customers"]["loyalty_tier"]) == {"gold"}

    clean = run({"limit": "12"})
    stack.fault("order_api", mode="error500", count=None, match="customer_id=4")
    stack.fault("order_api", mode="error500", count=None, every=20, append=True)
    partial = run({"limit": "12"})
    assert partial.outcome == "partial"
    assert [(f.step, f.item) for f in partial.failed] == [("orders", "customers 4")]
    stack.fault("order_api", mode="none")
    again = run({"limit": "12"}, previous=partial)
    assert again.outcome == "ok"
    pd.testing.assert_frame_equal(again.result, clean.result)


def test_a_4xx_is_not_retried(stack: Stack):
    # One refusal only: a retry would have succeeded, so the item failing shows none was made.
    stack.fault("order_api", mode="refuse", status=404, count=1, match="customer_id=3")
    run = stack.run()
    assert run.outcome == "partial"
    assert [(f.step, f.item, f.error) for f in run.failed] == [
        ("orders", "customers 3", "GET /orders answered HTTP 404")
    ]


PROFILES = """
title = "Test: one customer's orders with the customer's profile"
concurrency = 4
combine = "wf_test_profiles"

[params.who]
label = "Customer"
kind = "int"
default = 5
min = 1

[[steps]]
name = "orders"
source = "order_api"
path = "/orders"
params = { customer_id = "{who}" }
pagination = "cursor"
page_size = 2

[[steps]]
name = "profiles"
source = "customer_api"
path = "/customers/{customer_id}"
for_each = "orders"
key = "customer_id"
items = ""
"""


def test_repeated_keys_are_called_once_and_a_path_takes_the_rows_field(
    stack: Stack, tmp_path: Path
):
    (stack.settings.queries_dir / "wf_test_profiles.sql").write_text(
        "SELECT o.id AS order_id, p.customer_id, p.id, p.loyalty_tier\n"
        "FROM orders o JOIN profiles p USING (customer_id) ORDER BY o.id",
        encoding="utf-8",
    )
    path = tmp_path / "workflows" / "wf_profiles.toml"
    path.write_text(dedent(PROFILES), encoding="utf-8")
    wf = load_workflow(path)
    run = stack.run(wf, raw={"who": "5"})
    assert (run.outcome, run.failed) == ("ok", [])
    orders = run.frames["orders"]
    assert len(orders) >= 2 and set(orders["customer_id"]) == {5}  # read 2 a page
    assert run.steps[1].items == 1  # one distinct customer: one call
    assert run.result is not None and len(run.result) == len(orders)
    # The profile's own fields, and the key it was called for (absent from its body).
    assert set(run.result["id"]) == {5} and set(run.result["customer_id"]) == {5}
    # An item whose key is not its rows' id is named by the key's field.
    stack.fault("customer_api", mode="error500", count=None, match="/customers/5")
    failing = stack.run(wf, raw={"who": "5"})
    assert failing.outcome == "partial"
    assert [(f.step, f.item, f.error) for f in failing.failed] == [
        ("profiles", "customer_id 5", "GET /customers/5 answered HTTP 500 (3 tries)")
    ]


def test_a_call_that_answers_no_rows_is_an_empty_result_not_a_failure(stack: Stack):
    # The customers past the last page: no rows, so they name no column at all.
    first, *rest = stack.workflow.steps
    past = dataclasses.replace(
        first, pagination="none", params={"page": 999, "per_page": 500}, max_rows=None
    )
    run = stack.run(dataclasses.replace(stack.workflow, steps=(past, *rest)))
    assert (run.outcome, run.failed, run.error) == ("ok", [], None)
    assert run.result is not None and run.result.empty
    assert run.result.columns.tolist() == ["customer_id", "loyalty_tier", "name", "orders", "total"]
    assert [(s.name, s.items, s.done, s.rows) for s in run.steps] == [
        ("customers", 1, 1, 0),
        ("orders", 0, 0, 0),
        ("names", 1, 1, CUSTOMERS),
    ]


BY_EMAIL = """
title = "Test: profiles looked up by e-mail address"
combine = "wf_test_by_email"

[params.who]
label = "E-mail"
kind = "text"
default = "nobody@example.com"

[[steps]]
name = "people"
query = "wf_test_people"

[[steps]]
name = "profiles"
source = "customer_api"
path = "/customers/{email}"
for_each = "people"
key = "email"
items = ""

[[steps]]
name = "one"
source = "customer_api"
path = "/customers/{who}"
items = ""
"""


def test_a_failed_item_or_step_naming_an_email_is_masked(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    qdir = stack.settings.queries_dir
    (qdir / "wf_test_people.sql").write_text(
        "-- sources: crm\nSELECT id, email FROM crm.customers WHERE id <= 3 ORDER BY id",
        encoding="utf-8",
    )
    (qdir / "wf_test_by_email.sql").write_text("SELECT * FROM people", encoding="utf-8")
    path = tmp_path / "workflows" / "wf_by_email.toml"
    path.write_text(dedent(BY_EMAIL), encoding="utf-8")
    wf = load_workflow(path)
    emails = stack.engine.query("wf_test_people")["email"].tolist()
    assert len(emails) == 3 and all("@" in e for e in emails)
    # Without the last step: each e-mail is a path the API refuses (422, not retried).
    per_item = dataclasses.replace(wf, steps=wf.steps[:2])
    run = stack.run(per_item)
    assert run.outcome == "partial"
    shown = [(f.step, f.item, f.error) for f in run.failed]
    # The path's e-mail masked with the rest of the line (the rule reads "/customers/" as
    # part of the address's local part); the item named by the masked e-mail.
    errors = [masked_line(f"GET /customers/{e} answered HTTP 422") for e in emails]
    assert shown == [
        ("profiles", f"email {mask('email', e)}", error)
        for e, error in zip(emails, errors, strict=True)
    ]
    assert not any(looks_like_raw_pii(f"{f.item} {f.error}") for f in run.failed)

    caplog.set_level(logging.INFO)
    whole = stack.run(wf, raw={"who": "jane.doe@example.com"})
    assert whole.outcome == "failed" and whole.error is not None
    assert whole.error == masked_line(
        "Step 'one': GET /customers/jane.doe@example.com answered HTTP 422"
    )
    assert "jane.doe" not in caplog.text and "jane.doe" not in whole.error


def test_stop_while_a_call_step_waits_to_retry_ends_the_run_stopped(stack: Stack):
    stack.fault("customer_api", mode="error500", count=None)
    first, *rest = stack.workflow.steps
    slow = dataclasses.replace(first, retries=3, backoff=60)  # a minute before the retry
    wf = dataclasses.replace(stack.workflow, steps=(slow, *rest))
    stop, progress = threading.Event(), Progress()
    threading.Timer(0.5, stop.set).start()
    run = stack.run(wf, stop=stop, progress=progress)
    assert (run.outcome, run.error, run.result) == ("stopped", None, None)
    assert [s.name for s in run.steps] == ["customers"]
    snap = progress.snapshot()
    assert (snap["done"], snap["failed"], snap["not_run"], snap["left"]) == (0, 0, 1, 0)
