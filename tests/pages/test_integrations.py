"""Integrations through the page (AppTest): an operator opens a shared link to the customer
API → order API workflow with its parameters, runs it against the demo APIs over real HTTP,
follows it to its result; under injected faults the run ends partial with exactly the failing
items listed, and "Retry the failed items" completes it to the full result. A run's link opens
that run in a fresh session (from the live registry, or from its record once this process no
longer holds it). Only the roles given the page may open it.

Fragments with run_every do not tick in AppTest, so the tests follow a run with `at.run()`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import requests
from streamlit.testing.v1 import AppTest

from lib.config.settings import ROOT
from lib.errors import ActionDenied
from lib.ui import integrations_form as form
from lib.ui import integrations_run as run_view
from lib.ui.integrations import WF_KEY
from lib.ui.navigation import NOT_PERMITTED, PRINCIPAL_KEY
from lib.workflows import live, runs
from lib.workflows.declaration import load_workflow
from lib.workflows.model import Progress
from tests.pages.helpers import (
    apps_for,
    fragment_reruns,
    log_out_elsewhere,
    open_page,
    rows_of,
    run_page_file,
    sign_in,
)
from tests.stack import shop, write_config

pytestmark = pytest.mark.pages

PAGE = "app_pages/integrations.py"
WORKFLOW = "customer_orders"
WORKFLOW_FILE = ROOT / "workflows" / f"{WORKFLOW}.toml"
BADGE = re.compile(r"^:(\w+)-badge\[:material/[a-z_]+: (\w+)\]$")
TOKEN = {"Authorization": "Bearer demo-token"}  # the demo APIs' token (config [demo_secrets])

App = Callable[[], AppTest]


@pytest.fixture
def services_app(
    tmp_path: Path, demo_dir: Path, demo_services: dict[str, str], monkeypatch
) -> Iterator[App]:
    """Like the `app` fixture, with the demo APIs up: workflows call them over HTTP."""
    live.reset()
    with apps_for(write_config(tmp_path, demo_dir, demo_services), monkeypatch) as make:
        yield make
    live.reset()
    runs.dispose_stores()


def outcome(at: AppTest) -> str | None:
    """The outcome badge of the open run, if one is shown."""
    found = [m.group(2) for m in (BADGE.match(el.value) for el in at.markdown) if m]
    return found[0] if found else None


def progress(at: AppTest) -> str:
    """The text of the open run's progress bar."""
    [bar] = at.get("progress")
    return bar.proto.text


def follow(at: AppTest, timeout: float = 90) -> AppTest:
    """Run the page again until its run is no longer running."""
    deadline = time.monotonic() + timeout
    while outcome(at) == "running":
        assert time.monotonic() < deadline, "the run did not finish in time"
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception
    return at


def run_now(at: AppTest) -> AppTest:
    at.button(key=form.submit_key(load_workflow(WORKFLOW_FILE))).click().run()
    assert not at.exception, at.exception
    assert at.query_params.get("run"), "the run is not in the link"
    return follow(at)


TABLES = {  # a table of the page -> columns only it has
    "result": ["customer_id", "tier", "points", "orders"],
    "failed": ["step", "item", "error"],
    "steps": ["name", "kind", "items", "done", "failed", "rows", "seconds"],
    "recent": ["when", "who", "workflow", "params", "outcome"],
}


def tables(at: AppTest, which: str) -> list[pd.DataFrame]:
    want = TABLES[which]
    return [df.value for df in at.dataframe if list(df.value.columns[: len(want)]) == want]


def table(at: AppTest, which: str) -> pd.DataFrame:
    found = tables(at, which)
    assert found, f"no {which} table: {[e.value for e in (*at.info, *at.error, *at.warning)]}"
    return found[0]


def shown_rows(at: AppTest) -> int:
    caption = next(c.value for c in at.caption if re.fullmatch(r"[0-9,]+ rows", c.value))
    return int(caption.split()[0].replace(",", ""))


def steps(at: AppTest) -> dict[str, dict]:
    return {row["name"]: row for row in table(at, "steps").to_dict("records")}


def first_step() -> str:
    return load_workflow(WORKFLOW_FILE).steps[0].name


def per_item_step() -> str:
    return next(s.name for s in load_workflow(WORKFLOW_FILE).steps if s.for_each)


def gold_customers(urls: dict[str, str], limit: int) -> list[int]:
    """The first `limit` gold customers, as the customer API lists them."""
    answer = requests.get(
        f"{urls['customer_api']}/customers",
        params={"tier": "gold", "page": 1, "per_page": limit},
        headers=TOKEN,
        timeout=10,
    )
    answer.raise_for_status()
    return [int(c["id"]) for c in answer.json()["items"]][:limit]


def arm(url: str, **fault: object) -> None:
    requests.post(f"{url}/_faults", json=fault, timeout=10).raise_for_status()


def test_an_operator_runs_a_shared_link_and_sees_the_result(services_app: App, downloads):
    at = open_page(services_app, PAGE, "operator", workflow=WORKFLOW, tier="gold", limit="20")
    assert [t.value for t in at.title] == ["Integrations"]
    assert at.selectbox(key=WF_KEY).value == WORKFLOW
    assert at.selectbox(key=f"integrations_p_{WORKFLOW}_tier").value == "gold"
    assert at.number_input(key=f"integrations_p_{WORKFLOW}_limit").value == 20
    run_now(at)
    assert outcome(at) == "ok"
    result = table(at, "result")
    assert len(result) == shown_rows(at) > 0
    done = steps(at)
    assert done[first_step()]["rows"] == 20
    item_step = done[per_item_step()]
    assert (item_step["items"], item_step["done"], item_step["failed"]) == (20, 20, 0)
    assert dict(at.query_params) == {
        "workflow": WORKFLOW,
        "tier": "gold",
        "limit": "20",
        "run": at.query_params["run"],
    }
    csv = next(data for name, data in downloads.items() if name.endswith(".csv"))
    assert len(rows_of(csv)) == len(result) + 1
    # The run is listed under Recent runs, by whom and with which parameters.
    recent = table(at, "recent")
    assert recent.iloc[0]["who"] == "operator"
    assert recent.iloc[0]["outcome"] == "ok"
    assert "tier=gold" in recent.iloc[0]["params"] and "limit=20" in recent.iloc[0]["params"]


def test_failing_items_end_partial_and_a_retry_completes_the_run(
    services_app: App, demo_services: dict[str, str], demo_dir: Path
):
    with_orders = [
        c
        for c in gold_customers(demo_services, 20)
        if shop(demo_dir, "SELECT count(*) FROM orders WHERE customer_id = ?", c)[0][0]
    ]
    failing = sorted(with_orders[2:4])
    for customer_id in failing:
        arm(
            demo_services["order_api"],
            mode="error500",
            match=f"customer_id={customer_id}",
            count=None,
            append=True,
        )
    at = open_page(services_app, PAGE, "operator", workflow=WORKFLOW, tier="gold", limit="20")
    run_now(at)
    assert outcome(at) == "partial"
    failed = table(at, "failed")
    assert set(failed["step"]) == {per_item_step()}
    assert sorted(int(re.findall(r"[0-9]+", item)[-1]) for item in failed["item"]) == failing
    assert all(error for error in failed["error"])
    partial = table(at, "result").set_index("customer_id")
    assert len(partial) == 20  # every customer found, the failing ones without their orders
    assert set(partial.loc[failing, "orders"]) == {0}
    first_run = at.query_params["run"]

    arm(demo_services["order_api"], mode="none")
    at.button(key="integrations_retry").click().run()
    assert not at.exception, at.exception
    assert at.query_params["run"] != first_run
    follow(at)
    assert outcome(at) == "ok"
    assert not tables(at, "failed")
    retried = table(at, "result")
    assert (retried.set_index("customer_id").loc[failing, "orders"] > 0).all()
    # The same parameters run clean from the start give the very same rows.
    run_now(at)
    assert outcome(at) == "ok"
    pd.testing.assert_frame_equal(table(at, "result"), retried)


def test_a_runs_link_opens_that_run_in_a_fresh_session(services_app: App):
    at = open_page(services_app, PAGE, "operator", workflow=WORKFLOW, tier="silver", limit="5")
    run_now(at)
    run_id, rows = at.query_params["run"], shown_rows(at)

    other = open_page(services_app, PAGE, "admin", run=run_id)  # no workflow= in the link
    assert outcome(other) == "ok"
    assert other.selectbox(key=WF_KEY).value == WORKFLOW
    assert other.selectbox(key=f"integrations_p_{WORKFLOW}_tier").value == "silver"
    assert shown_rows(other) == rows == len(table(other, "result"))

    live.reset()  # as after a restart: only the record is left
    later = open_page(services_app, PAGE, "operator", run=run_id)
    assert outcome(later) == "ok"
    assert any("no longer held" in i.value for i in later.info)
    assert shown_rows(later) == rows
    assert steps(later)[first_step()]["rows"] == 5
    assert later.query_params["run"] == run_id


def test_picking_a_recent_run_opens_it(services_app: App):
    at = open_page(services_app, PAGE, "operator", workflow=WORKFLOW, tier="gold", limit="3")
    run_now(at)
    first = at.query_params["run"]
    at.number_input(key=f"integrations_p_{WORKFLOW}_limit").set_value(4)
    run_now(at)
    assert at.query_params["run"] != first
    recent = table(at, "recent")
    row = list(recent["run"]).index(first)
    at.session_state["integrations_recent_0"] = {
        "selection": {"rows": [row], "columns": [], "cells": []}
    }
    at.run()
    assert not at.exception, at.exception
    assert at.query_params["run"] == first
    assert at.query_params["limit"] == "3"  # the link is the open run's, whatever the form holds
    assert shown_rows(at) == len(table(at, "result"))
    assert steps(at)[first_step()]["rows"] == 3


def test_an_unknown_workflow_or_run_in_the_link_is_noted(app: App):
    at = open_page(app, PAGE, "admin", workflow="nope", run="0123abc")
    notes = " ".join(c.value for c in at.caption)
    assert "Ignored workflow 'nope' from the link" in notes
    assert "Ignored run '0123abc' from the link" in notes
    first = sorted(p.stem for p in WORKFLOW_FILE.parent.glob("*.toml"))[0]
    assert at.selectbox(key=WF_KEY).value == first
    assert "run" not in at.query_params


def test_a_broken_declaration_is_one_warning_and_the_others_load(
    tmp_path: Path, demo_dir: Path, monkeypatch
):
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / WORKFLOW_FILE.name).write_text(WORKFLOW_FILE.read_text(encoding="utf-8"))
    (folder / "broken.toml").write_text('title = "x"\nsteps = 3\n', encoding="utf-8")
    (folder / "not_toml.toml").write_text("title = \n", encoding="utf-8")
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[workflows\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text)
    config.write_text(f'{text}\n[workflows]\ndir = "{folder}"\n', encoding="utf-8")
    with apps_for(config, monkeypatch) as make:
        at = open_page(make, PAGE, "admin")
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 2
    assert warnings[0].startswith("broken.toml") and warnings[1].startswith("not")
    assert at.selectbox(key=WF_KEY).options == [load_workflow(WORKFLOW_FILE).title]


@pytest.mark.parametrize("user", ["analyst", "support", "seller1"])
def test_roles_without_the_page_are_not_permitted(app: App, user: str):
    at = sign_in(app(), user, f"{user}-demo")
    principal = at.session_state[PRINCIPAL_KEY]
    assert "Integrations" not in {el.proto.label for el in at.sidebar.get("page_link")}
    # The page file itself, as a URL typed by hand reaches it, shows only "not permitted".
    direct = run_page_file(principal, PAGE)
    assert [e.value for e in direct.error] == [NOT_PERMITTED]
    assert not direct.title and not direct.button and not direct.selectbox
    # And the server refuses to start, watch or stop a run for them, whatever the page shows.
    with pytest.raises(ActionDenied):
        live.start(load_workflow(WORKFLOW_FILE), {}, principal, settings=None, engine=None)
    with pytest.raises(ActionDenied):
        live.get("0" * 32, principal)
    with pytest.raises(ActionDenied):
        live.stop("0" * 32, principal)


def test_an_admin_may_open_the_page(app: App):
    at = open_page(app, PAGE, "admin")
    assert [t.value for t in at.title] == ["Integrations"]
    subheaders = [s.value for s in at.subheader]
    assert subheaders[:3] == ["Workflows", "Recent runs", "Back-end health"]


def test_a_run_shows_its_progress_and_stops_when_asked(
    services_app: App, demo_services: dict[str, str]
):
    # Every order call is held 10 s, past the step's 3 s timeout: each customer takes its
    # three tries (about 10 s) and fails, so 40 customers, 8 at once, would take some 50 s.
    # Stop lands long before, however slow the machine; it does not wait that long either:
    # a call in flight ends at its timeout and Stop cuts its backoff, no new call starts.
    arm(demo_services["order_api"], mode="slow", delay=10.0, match="customer_id=", count=None)
    at = open_page(services_app, PAGE, "operator", workflow=WORKFLOW, limit="40")
    at.button(key=form.submit_key(load_workflow(WORKFLOW_FILE))).click().run()
    assert outcome(at) == "running"
    # Stop once the per-item step is going (a Stop before it leaves that step not begun).
    deadline = time.monotonic() + 60
    while not progress(at).startswith(f"Step {per_item_step()}:"):
        assert time.monotonic() < deadline, "the per-item step did not begin"
        time.sleep(0.2)
        at.run()
    assert re.fullmatch(r"Step \w+: [0-9]+ done / [0-9]+ failed / [0-9]+ left", progress(at))
    at.button(key="integrations_stop").click().run()
    assert not at.exception, at.exception
    follow(at)
    assert outcome(at) == "stopped"
    assert any("stop asked by operator" in c.value for c in at.caption)
    item_step = steps(at)[per_item_step()]
    assert item_step["done"] < 40
    not_run = table(at, "failed")
    assert len(not_run) == 40 - item_step["done"]
    # What was not run is retried like failed items, and the run completes.
    arm(demo_services["order_api"], mode="none")
    at.button(key="integrations_retry").click().run()
    follow(at)
    assert outcome(at) == "ok"
    assert len(table(at, "result")) == 40


def test_a_tab_logged_out_elsewhere_cannot_stop_a_run_from_its_progress(
    services_app: App, demo_services: dict[str, str]
):
    # Calls held 10 s (past their 3 s timeout): the run is still going when Stop is clicked.
    arm(demo_services["order_api"], mode="slow", delay=10.0, match="customer_id=", count=None)
    at = open_page(services_app, PAGE, "operator", workflow=WORKFLOW, limit="40")
    operator = at.session_state[PRINCIPAL_KEY]
    at.button(key=form.submit_key(load_workflow(WORKFLOW_FILE))).click().run()
    assert outcome(at) == "running"
    run_id = at.query_params["run"]
    with fragment_reruns(at, run_view.PROGRESS):
        at.run()  # the progress alone, as its timer redraws it: still signed in
    assert not at.exception, at.exception
    assert at.button(key="integrations_stop")
    log_out_elsewhere(services_app, at)
    with fragment_reruns(at, run_view.PROGRESS):
        at.button(key="integrations_stop").click().run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]  # the whole app ran
    held = live.get(run_id, operator)
    assert (held.outcome, held.stopped_by) == ("running", None)  # nobody stopped it


def test_contact_details_in_a_result_are_masked(
    tmp_path: Path, demo_dir: Path, demo_services: dict[str, str], monkeypatch
):
    tickets = json.loads((demo_dir / "tickets.json").read_text(encoding="utf-8"))
    ticket = next(t for t in tickets if t["status"] == "open")
    ticket["subject"] = "Call me on 010-2345-6789 or at sora.park@example.com, order 4321"
    (demo_dir / "tickets.json").write_text(json.dumps(tickets, ensure_ascii=False), "utf-8")
    config = write_config(tmp_path, demo_dir, demo_services)
    # A MongoDB stand-in of its own, seeded from the changed file (one per URI per process).
    text = config.read_text(encoding="utf-8").replace("mongomock://demo", f"mongomock://{tmp_path}")
    config.write_text(text, encoding="utf-8")
    live.reset()
    with apps_for(config, monkeypatch) as make:
        at = open_page(make, PAGE, "admin", workflow="tickets_with_profiles")
        at.button(key="integrations_run_tickets_with_profiles").click().run()
        follow(at)
    assert outcome(at) in ("ok", "partial")
    result = next(df.value for df in at.dataframe if "subject" in df.value.columns)
    subject = result.set_index("ticket").loc[ticket["_id"], "subject"]
    assert subject == "Call me on 010-****-6789 or at s***@example.com, order 4321"
    live.reset()


def test_the_progress_text_names_what_stop_left_not_run():
    progress = Progress()
    progress.begin_step("orders", 10)
    progress.item_done(True)
    progress.item_done(False)
    for _ in range(3):
        progress.item_not_run()
    held = SimpleNamespace(progress=progress)
    assert run_view.progress_text(held) == "Step orders: 1 done / 1 failed / 5 left / 3 not run"
    assert run_view.progress_fraction(held) == 0.5
    progress.begin_step("tickets", 4)  # nothing left undone: no "not run"
    assert run_view.progress_text(held) == "Step tickets: 0 done / 0 failed / 4 left"
