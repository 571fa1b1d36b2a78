"""Workflow runs of this process (lib.workflows.live): started in a thread, watched, stopped
and retried; checked server side (who may, which params); recorded in the runs store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from lib.access.principal import Principal
from lib.errors import ActionDenied, BackofficeError, ValidationFailed
from lib.workflows import live, runs
from lib.workflows.declaration import Param, Workflow
from lib.workflows.model import FailedItem, Progress, RunResult, StepReport
from lib.workflows.runs import INTERRUPTED

pytestmark = pytest.mark.integration

OPERATOR = Principal("op1", "Operator One", ("operator",))
ADMIN = Principal("admin1", "Admin One", ("admin",))
RAW_EMAIL = "kim.minji@example.com"
DENIED = [
    None,
    Principal("a", "A", ("analyst",)),
    Principal("s", "S", ("support",)),
    Principal("sel", "Seller", ("seller",), tenant=3),
]


def tiny(name: str = "customer_orders") -> Workflow:
    """A workflow with one parameter of each kind (the fake runner never reads its steps)."""
    params = (
        Param("tier", "Loyalty tier", "choice", optional=True, options=("gold", "silver")),
        Param("email", "Customer e-mail", "text", optional=True),
        Param("limit", "At most", "int", default=50, min=1, max=2000),
        Param("since", "Since", "date", optional=True),
    )
    return Workflow(name, name, "", 1, "combine", (), params)


def counts(progress: Progress) -> dict[str, Any]:
    """The counters every snapshot has (a stopped step adds `not_run`)."""
    snap = progress.snapshot()
    return {k: snap[k] for k in ("step", "total", "done", "failed", "left")}


def partial_result() -> RunResult:
    steps = [
        StepReport("customers", "call", datetime.now(UTC), 0.5, 1, 1, 0, 3),
        StepReport("orders", "for_each", datetime.now(UTC), 1.25, 3, 2, 1, 7),
    ]
    failed = [FailedItem("orders", "customers 17", "HTTP 500")]
    frames = {"customers": pd.DataFrame({"id": [1, 2, 3]})}
    frame = pd.DataFrame({"customer_id": [1, 2], "total": [10, 20]})
    return RunResult("partial", frames=frames, result=frame, failed=failed, steps=steps)


# --- the live registry --------------------------------------------------------------------


class FakeRunner:
    """Stands in for runner.run_workflow: three items, held at a gate until released."""

    def __init__(self, result: RunResult | None = None, error: Exception | None = None):
        self.result = result or RunResult("ok", result=pd.DataFrame({"n": [1, 2, 3]}))
        self.error = error
        self.gate = threading.Event()
        self.calls: list[dict[str, Any]] = []

    def __call__(self, workflow, params, *, engine, settings, progress, stop, previous=None):
        self.calls.append({"workflow": workflow, "params": dict(params), "previous": previous})
        assert isinstance(progress, Progress)
        progress.begin_step("items", 3)
        progress.item_done(True)
        while not self.gate.wait(0.01):
            if stop.is_set():
                return RunResult("stopped", steps=[StepReport("items", "for_each", items=3)])
        progress.item_done(True)
        progress.item_done(False)
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def runs_url(tmp_path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    live.reset()
    yield url
    live.reset()
    runs.dispose_stores()


def start(fake: FakeRunner, monkeypatch, url: str, **kwargs) -> str:
    monkeypatch.setattr(live, "_run_workflow", fake)
    workflow = kwargs.pop("workflow", tiny())
    principal = kwargs.pop("principal", OPERATOR)
    params = kwargs.pop("params", {"tier": "gold", "email": RAW_EMAIL})
    settings = SimpleNamespace(audit_url=url)
    return live.start(workflow, params, principal, settings=settings, engine=object(), **kwargs)


def test_a_run_goes_in_a_thread_and_is_recorded_at_start_and_end(runs_url, monkeypatch):
    fake = FakeRunner()
    run_id = start(fake, monkeypatch, runs_url)

    now = live.get(run_id, OPERATOR)
    assert (now.workflow, now.actor, now.outcome, now.done) == (
        "customer_orders",
        "op1",
        "running",
        False,
    )
    assert now.result is None
    assert now.params["tier"] == "gold" and RAW_EMAIL not in str(now.params)
    assert [r.id for r in live.running()] == [run_id]
    recorded = runs.store_for(runs_url).get(run_id)
    assert recorded.outcome == "running" and recorded.actor == "op1"

    fake.gate.set()
    finished = live.wait(run_id, timeout=30)
    assert finished.done and finished.outcome == "ok"
    assert counts(finished.progress) == {
        "step": "items",
        "total": 3,
        "done": 2,
        "failed": 1,
        "left": 0,
    }
    assert list(finished.result.result["n"]) == [1, 2, 3]
    assert finished.finished_at >= finished.started_at
    # The runner gets every declared param, typed, unmasked; missing ones their default.
    assert fake.calls[0]["params"] == {
        "tier": "gold",
        "email": RAW_EMAIL,
        "limit": 50,
        "since": None,
    }
    assert fake.calls[0]["previous"] is None
    recorded = runs.store_for(runs_url).get(run_id)
    assert (recorded.outcome, recorded.rows) == ("ok", 3)
    assert live.running() == []


def test_progress_is_seen_while_the_run_goes(runs_url, monkeypatch):
    fake = FakeRunner()
    run_id = start(fake, monkeypatch, runs_url)
    for _ in range(1000):
        if live.get(run_id, OPERATOR).progress.snapshot()["done"] == 1:
            break
        time.sleep(0.01)
    assert counts(live.get(run_id, OPERATOR).progress) == {
        "step": "items",
        "total": 3,
        "done": 1,
        "failed": 0,
        "left": 2,
    }
    fake.gate.set()
    assert live.wait(run_id, 30).done


@pytest.mark.parametrize("principal", DENIED)
def test_who_may_not_open_integrations_may_not_start_a_run(runs_url, monkeypatch, principal):
    fake = FakeRunner()
    with pytest.raises(ActionDenied):
        start(fake, monkeypatch, runs_url, principal=principal)
    assert fake.calls == []
    assert runs.store_for(runs_url).recent() == []


def test_stop_ends_the_run_as_stopped(runs_url, monkeypatch):
    run_id = start(FakeRunner(), monkeypatch, runs_url)
    assert live.stop(run_id, ADMIN) is True
    assert live.stop(run_id, OPERATOR) is True  # asked again: the first one asked
    finished = live.wait(run_id, timeout=30)
    assert (finished.outcome, finished.stopped_by) == ("stopped", "admin1")
    recorded = runs.store_for(runs_url).get(run_id)
    assert (recorded.outcome, recorded.stopped_by, recorded.actor) == ("stopped", "admin1", "op1")
    assert live.stop(run_id, ADMIN) is False  # already over
    assert live.stop("no-such-run", ADMIN) is False


def test_a_stop_after_the_last_item_leaves_an_ok_run_without_a_stopper(runs_url, monkeypatch):
    last_done, release = threading.Event(), threading.Event()

    def runner(workflow, params, *, engine, settings, progress, stop, previous=None):
        progress.begin_step("items", 1)
        progress.item_done(True)
        last_done.set()
        release.wait(30)  # combining the rows, say: Stop has nothing left to stop
        return RunResult("ok", result=pd.DataFrame({"n": [1]}))

    run_id = start(runner, monkeypatch, runs_url)
    assert last_done.wait(30)
    assert live.stop(run_id, ADMIN) is True  # still running: asked
    release.set()
    finished = live.wait(run_id, timeout=30)
    assert (finished.outcome, finished.stopped_by) == ("ok", None)
    recorded = runs.store_for(runs_url).get(run_id)
    assert (recorded.outcome, recorded.stopped_by) == ("ok", None)


@pytest.mark.parametrize("principal", DENIED)
def test_who_may_not_open_integrations_may_not_watch_or_stop_a_run(
    runs_url, monkeypatch, principal
):
    run_id = start(FakeRunner(), monkeypatch, runs_url)
    with pytest.raises(ActionDenied):
        live.get(run_id, principal)
    with pytest.raises(ActionDenied):
        live.stop(run_id, principal)
    with pytest.raises(ActionDenied):  # an unknown run too: nothing is said about it
        live.get("no-such-run", principal)
    now = live.get(run_id, OPERATOR)
    assert (now.outcome, now.stopped_by) == ("running", None)  # not stopped
    live.stop(run_id, OPERATOR)
    assert live.wait(run_id, 30).stopped_by == "op1"


def test_a_crash_in_the_runner_ends_the_run_failed_in_one_line(runs_url, monkeypatch):
    fake = FakeRunner(error=RuntimeError(f"boom for {RAW_EMAIL}\nsecond line"))
    run_id = start(fake, monkeypatch, runs_url)
    fake.gate.set()
    finished = live.wait(run_id, timeout=30)
    assert finished.outcome == "failed"
    error = runs.store_for(runs_url).get(run_id).error
    assert error == finished.result.error
    assert "RuntimeError" in error and RAW_EMAIL not in error and "\n" not in error


def test_a_backoffice_error_from_the_runner_is_the_runs_error(runs_url, monkeypatch):
    fake = FakeRunner(error=BackofficeError("Source 'customer_api' is unavailable: refused"))
    run_id = start(fake, monkeypatch, runs_url)
    fake.gate.set()
    live.wait(run_id, timeout=30)
    recorded = runs.store_for(runs_url).get(run_id)
    assert recorded.outcome == "failed"
    assert recorded.error == "Source 'customer_api' is unavailable: refused"


def test_retry_reruns_the_failed_items_of_a_run_held_here(runs_url, monkeypatch):
    first_fake = FakeRunner(result=partial_result())
    first = start(first_fake, monkeypatch, runs_url, params={"tier": "gold", "limit": 5})
    first_fake.gate.set()
    previous = live.wait(first, timeout=30).result
    assert previous.outcome == "partial"

    retry_fake = FakeRunner()
    retry_fake.gate.set()
    retry = start(retry_fake, monkeypatch, runs_url, params={"tier": "ignored"}, retry_of=first)
    assert live.wait(retry, timeout=30).outcome == "ok"
    assert retry_fake.calls[0]["previous"] is previous
    ran = {"tier": "gold", "limit": 5, "email": None, "since": None}
    assert retry_fake.calls[0]["params"] == ran
    recorded = runs.store_for(runs_url).get(retry)
    assert recorded.retry_of == first and recorded.params == ran


def test_a_retry_of_a_run_not_held_here_is_refused_clearly(runs_url, monkeypatch):
    with pytest.raises(BackofficeError, match="no longer held by this server"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of="0" * 32)
    other = start(FakeRunner(), monkeypatch, runs_url)
    with pytest.raises(BackofficeError, match="has not finished"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of=other)
    live.stop(other, OPERATOR)
    live.wait(other, 30)
    with pytest.raises(BackofficeError, match="is a run of 'customer_orders'"):
        start(
            FakeRunner(),
            monkeypatch,
            runs_url,
            retry_of=other,
            workflow=tiny("orders_by_segment"),
        )


def test_only_the_last_finished_runs_are_held(runs_url, monkeypatch):
    monkeypatch.setattr(live, "KEEP_FINISHED", 2)
    ids = []
    for _ in range(3):
        fake = FakeRunner()
        fake.gate.set()
        ids.append(start(fake, monkeypatch, runs_url))
        live.wait(ids[-1], timeout=30)
    assert live.get(ids[0], OPERATOR) is None  # dropped: the oldest
    assert live.get(ids[1], OPERATOR).done and live.get(ids[2], OPERATOR).done
    assert runs.store_for(runs_url).get(ids[0]).outcome == "ok"  # still on record
    with pytest.raises(BackofficeError, match="no longer held"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of=ids[0])


def test_runs_at_once_are_bounded(runs_url, monkeypatch):
    monkeypatch.setattr(live, "MAX_RUNNING", 2)
    held = [start(FakeRunner(), monkeypatch, runs_url) for _ in range(2)]
    with pytest.raises(BackofficeError, match="already going"):
        start(FakeRunner(), monkeypatch, runs_url)
    for run_id in held:
        live.stop(run_id, OPERATOR)
        assert live.wait(run_id, 30).outcome == "stopped"
    fake = FakeRunner()
    fake.gate.set()
    assert live.wait(start(fake, monkeypatch, runs_url), 30).outcome == "ok"


def test_the_registry_keeps_its_running_runs_alive_on_record(runs_url, monkeypatch):
    run_id = start(FakeRunner(), monkeypatch, runs_url)
    store = runs.store_for(runs_url)
    old = (datetime.now(UTC) - runs.STALE_AFTER - timedelta(seconds=5)).isoformat()
    with store.db.begin() as conn:
        conn.execute(runs.workflow_runs.update().values(heartbeat_at=old))
    assert store.get(run_id).outcome == INTERRUPTED  # what a dead process leaves

    assert live.heartbeat() is True  # what the heartbeat thread does every HEARTBEAT_S
    assert store.get(run_id).outcome == "running"

    live.stop(run_id, OPERATOR)
    assert live.wait(run_id, 30).outcome == "stopped"
    assert live.heartbeat() is False  # nothing runs: the thread ends


# --- params, checked as declared -----------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"tier": "platinum"}, "Loyalty tier must be one of gold, silver."),
        ({"limit": 0}, "At most must be a whole number from 1 to 2000."),
        ({"limit": 2001}, "At most must be a whole number from 1 to 2000."),
        ({"limit": "12abc"}, "At most must be a whole number from 1 to 2000."),
        ({"limit": True}, "At most must be a whole number from 1 to 2000."),
        ({"limit": 5.0}, "At most must be a whole number from 1 to 2000."),
        ({"since": "2026-02-30"}, "Since must be a date as YYYY-MM-DD."),
        ({"since": date(1200, 1, 1)}, "Since must be a date as YYYY-MM-DD."),
        ({"since": datetime(2026, 1, 1, 12, 0)}, "Since must be a date as YYYY-MM-DD."),
        ({"email": "x" * 201}, "Customer e-mail must be text of at most 200 characters."),
        ({"email": 17}, "Customer e-mail must be text of at most 200 characters."),
        ({"segment": "a"}, "Workflow 'customer_orders' has no parameter 'segment'."),
    ],
)
def test_a_wrong_param_is_refused_in_one_line_before_anything_runs(
    runs_url, monkeypatch, params, says
):
    fake = FakeRunner()
    with pytest.raises(ValidationFailed) as caught:
        start(fake, monkeypatch, runs_url, params=params)
    assert str(caught.value) == says
    assert fake.calls == [] and runs.store_for(runs_url).recent() == []


def test_params_are_typed_as_the_link_would_type_them(runs_url, monkeypatch):
    fake = FakeRunner()
    fake.gate.set()
    given = {"tier": None, "email": "  ", "limit": "20", "since": date(2026, 1, 31)}
    run_id = start(fake, monkeypatch, runs_url, params=given)
    live.wait(run_id, 30)
    ran = {"tier": None, "email": None, "limit": 20, "since": date(2026, 1, 31)}
    assert fake.calls[0]["params"] == ran
    stored = runs.store_for(runs_url).get(run_id).params
    assert stored == {**ran, "since": "2026-01-31"}


def test_a_link_carries_the_values_a_run_ran_with_but_a_masked_one(runs_url, monkeypatch):
    fake = FakeRunner()
    fake.gate.set()
    params = {"tier": "gold", "email": RAW_EMAIL, "limit": 7}
    run_id = start(fake, monkeypatch, runs_url, params=params)
    held = live.wait(run_id, 30)
    assert RAW_EMAIL not in str(held.params)
    assert held.link_params == {"tier": "gold", "limit": 7, "since": None}


# --- what is held, what may be retried -----------------------------------------------------


def test_only_a_retryable_run_keeps_every_steps_rows(runs_url, monkeypatch):
    kept = FakeRunner(result=partial_result())
    kept.gate.set()
    partial = live.wait(start(kept, monkeypatch, runs_url), 30)
    assert partial.retryable and list(partial.result.frames) == ["customers"]

    ok = FakeRunner(result=RunResult("ok", frames=partial_result().frames, result=pd.DataFrame()))
    ok.gate.set()
    done = live.wait(start(ok, monkeypatch, runs_url), 30)
    assert done.outcome == "ok" and not done.retryable
    assert done.result.frames == {} and done.result.result is not None  # the result stays
    with pytest.raises(BackofficeError, match="ended ok: only a partial or stopped run"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of=done.id)

    failed = FakeRunner(result=RunResult("failed", frames=partial_result().frames, error="x"))
    failed.gate.set()
    assert live.wait(start(failed, monkeypatch, runs_url), 30).result.frames == {}


def test_a_run_is_retried_once_at_a_time(runs_url, monkeypatch):
    first = FakeRunner(result=partial_result())
    first.gate.set()
    first_id = start(first, monkeypatch, runs_url)
    live.wait(first_id, 30)

    retry = FakeRunner(result=partial_result())  # held at its gate: still running
    retry_id = start(retry, monkeypatch, runs_url, retry_of=first_id)
    with pytest.raises(BackofficeError, match="being retried already"):  # a double click
        start(FakeRunner(), monkeypatch, runs_url, retry_of=first_id)
    assert [r.id for r in live.running()] == [retry_id]

    retry.gate.set()
    assert live.wait(retry_id, 30).outcome == "partial"
    again = FakeRunner()
    again.gate.set()  # the retry is over: the run may be retried again
    assert live.wait(start(again, monkeypatch, runs_url, retry_of=first_id), 30).outcome == "ok"


def test_a_run_not_recorded_is_not_held(runs_url, monkeypatch):
    """The store refusing the start leaves nothing running here (no slot taken)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise runs.RunsUnavailable("The record of workflow runs is unavailable: down")

    monkeypatch.setattr(runs.RunStore, "create", refuse)
    with pytest.raises(runs.RunsUnavailable):
        start(FakeRunner(), monkeypatch, runs_url)
    assert live.running() == []


# --- with the real runner -----------------------------------------------------------------


def test_the_shipped_customer_orders_runs_partial_then_its_retry_completes(
    tmp_path, demo_dir, runs_url
):
    """live -> runner over real HTTP: one customer's orders keep failing, the run is partial
    with that item, and the retry (of the run held here) ends ok with every customer."""
    import dataclasses

    import requests

    from lib.config.settings import load_settings
    from lib.reading.engine import Engine
    from lib.workflows.declaration import load_workflows, parse_params
    from tests.stack import demo_services_over, write_config

    with demo_services_over(demo_dir) as urls:
        settings = dataclasses.replace(
            load_settings(write_config(tmp_path, demo_dir, urls)), audit_url=runs_url
        )
        found, errors = load_workflows(settings.workflows_dir, settings)
        workflow = found["customer_orders"]
        params, notes = parse_params(workflow, {"limit": "5"})
        assert notes == []
        engine = Engine(settings.sources, settings.queries_dir)
        fault = {"mode": "error500", "count": None, "match": "customer_id=3"}
        requests.post(f"{urls['order_api']}/_faults", json=fault, timeout=5).raise_for_status()

        first = live.start(workflow, params, OPERATOR, settings=settings, engine=engine)
        run = live.wait(first, timeout=120)
        assert run.outcome == "partial"
        assert [(f.step, f.item) for f in run.result.failed] == [("orders", "customers 3")]

        requests.post(
            f"{urls['order_api']}/_faults", json={"mode": "none"}, timeout=5
        ).raise_for_status()
        retry = live.start(workflow, {}, OPERATOR, settings=settings, engine=engine, retry_of=first)
        again = live.wait(retry, timeout=120)
    assert (again.outcome, again.result.failed) == ("ok", [])
    assert len(again.result.result) == 5

    store = runs.store_for(runs_url)
    assert [(r.id, r.outcome, r.retry_of) for r in store.recent()] == [
        (retry, "ok", first),
        (first, "partial", None),
    ]
    recorded = store.get(first)
    assert recorded.params == {"limit": 5, "tier": None}
    assert [(f.step, f.item) for f in recorded.failed] == [("orders", "customers 3")]
    assert [s["name"] for s in recorded.steps][:2] == ["customers", "orders"]
    assert recorded.rows == 5
