"""Workflow runs: the record of each run (SQLite and PostgreSQL) and the live registry of
this process (start in a thread, watch, stop, retry, deny)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from lib.access.principal import Principal
from lib.audit import AuditEntry, AuditStore
from lib.errors import ActionDenied, BackofficeError, ConfigError
from lib.workflows import live, runs
from lib.workflows.model import FailedItem, Progress, RunResult, StepReport
from lib.workflows.runs import INTERRUPTED, RunStore, RunsUnavailable

pytestmark = pytest.mark.integration

OPERATOR = Principal("op1", "Operator One", ("operator",))
ADMIN = Principal("admin1", "Admin One", ("admin",))
RAW_EMAIL = "kim.minji@example.com"
RAW_PHONE = "010-1234-5678"


@pytest.fixture
def run_store(audit_url: str) -> Iterator[RunStore]:
    store = RunStore(audit_url)
    yield store
    store.dispose()


def partial_result() -> RunResult:
    steps = [
        StepReport("customers", "call", datetime.now(UTC), 0.5, 1, 1, 0, 3),
        StepReport("orders", "for_each", datetime.now(UTC), 1.25, 3, 2, 1, 7),
    ]
    failed = [FailedItem("orders", "customers 17", f"HTTP 500 for {RAW_EMAIL}")]
    frame = pd.DataFrame({"customer_id": [1, 2], "total": [10, 20]})
    return RunResult("partial", result=frame, failed=failed, steps=steps)


# --- the store ----------------------------------------------------------------------------


def test_a_run_is_recorded_as_running_with_masked_params(run_store):
    params = {
        "tier": "gold",
        "customer_email": RAW_EMAIL,
        "note": f"call {RAW_PHONE} first",
        "since": date(2026, 1, 31),
        "limit": 50,
        "segment": None,
    }
    record = run_store.create("customer_orders", OPERATOR, params)
    assert len(record.id) == 32

    stored = run_store.get(record.id)
    assert stored == record
    assert stored.workflow == "customer_orders"
    assert stored.actor == "op1"
    assert stored.actor_roles == ("operator",)
    assert stored.outcome == "running"
    assert stored.finished_at is None and stored.seconds is None
    assert stored.started_at.tzinfo is not None
    assert abs(datetime.now(UTC) - stored.started_at) < timedelta(minutes=1)
    assert stored.params["tier"] == "gold"
    assert stored.params["since"] == "2026-01-31"
    assert stored.params["limit"] == 50
    assert stored.params["segment"] is None
    assert RAW_EMAIL not in str(stored.params) and "*" in stored.params["customer_email"]
    assert RAW_PHONE not in stored.params["note"] and stored.params["note"].startswith("call ")
    assert stored.steps == () and stored.failed == () and stored.rows == 0
    assert stored.retry_of is None and stored.error is None


def test_finishing_a_run_records_its_steps_failures_and_rows_once(run_store):
    record = run_store.create("customer_orders", OPERATOR, {"tier": "gold"})
    assert run_store.finish(record.id, partial_result()) is True

    done = run_store.get(record.id)
    assert done.outcome == "partial"
    assert done.rows == 2
    assert [s["name"] for s in done.steps] == ["customers", "orders"]
    assert done.steps[1] == {
        **done.steps[1],
        "kind": "for_each",
        "items": 3,
        "done": 2,
        "failed": 1,
        "rows": 7,
        "seconds": 1.25,
    }
    assert len(done.failed) == 1
    failed = done.failed[0]
    assert (failed.step, failed.item) == ("orders", "customers 17")
    assert failed.error.startswith("HTTP 500 for ") and RAW_EMAIL not in failed.error
    assert done.finished_at >= done.started_at and done.seconds >= 0

    # A run ends once: a second finish changes nothing.
    assert run_store.finish(record.id, RunResult("ok")) is False
    assert run_store.get(record.id).outcome == "partial"
    assert run_store.finish("no-such-run", RunResult("ok")) is False


def test_a_failed_run_keeps_its_error_on_one_line(run_store):
    record = run_store.create("customer_orders", OPERATOR, {})
    run_store.finish(record.id, RunResult("failed", error="step customers:\nAPI down"))
    done = run_store.get(record.id)
    assert (done.outcome, done.error, done.rows) == ("failed", "step customers: API down", 0)


def test_recent_lists_newest_first_by_workflow_with_a_limit(run_store):
    ids = [
        run_store.create("customer_orders" if n % 2 else "orders_by_segment", ADMIN, {"n": n}).id
        for n in range(5)
    ]
    newest_first = list(reversed(ids))
    assert [r.id for r in run_store.recent()] == newest_first
    assert [r.id for r in run_store.recent(limit=2)] == newest_first[:2]
    assert [r.id for r in run_store.recent(workflow="customer_orders")] == [ids[3], ids[1]]
    assert run_store.recent(workflow="unknown") == []
    assert run_store.get("no-such-run") is None


def test_a_retry_names_the_run_it_retries(run_store):
    first = run_store.create("customer_orders", OPERATOR, {"tier": "gold"})
    retry = run_store.create("customer_orders", OPERATOR, {"tier": "gold"}, retry_of=first.id)
    assert run_store.get(retry.id).retry_of == first.id


def test_a_running_run_without_heartbeat_reads_as_interrupted(run_store, audit_url):
    record = run_store.create("customer_orders", OPERATOR, {})
    finished = run_store.create("customer_orders", OPERATOR, {})
    run_store.finish(finished.id, RunResult("ok"))
    # As its dead process left it: no heartbeat for longer than the store waits.
    old = (datetime.now(UTC) - runs.STALE_AFTER - timedelta(seconds=5)).isoformat()
    with run_store.db.begin() as conn:
        conn.execute(
            runs.workflow_runs.update()
            .where(runs.workflow_runs.c.id.in_([record.id, finished.id]))
            .values(heartbeat_at=old)
        )
    seen = run_store.get(record.id)
    assert seen.outcome == INTERRUPTED
    assert seen.error == runs.INTERRUPTED_ERROR and seen.finished_at is None
    assert run_store.get(finished.id).outcome == "ok"  # only running runs can be interrupted

    run_store.heartbeat([record.id])  # its process is alive after all
    assert run_store.get(record.id).outcome == "running"

    patient = RunStore(audit_url, stale_after=timedelta(days=1))
    try:
        patient.heartbeat([])
        assert patient.get(record.id).outcome == "running"
    finally:
        patient.dispose()


def test_the_runs_table_lives_beside_the_audit_log(audit_url):
    audit = AuditStore(audit_url)
    audit.create_schema()
    first, second = RunStore(audit_url), RunStore(audit_url)
    try:
        run = first.create("customer_orders", OPERATOR, {})
        second.create_schema()  # already there: nothing happens
        assert second.get(run.id).id == run.id
        audit.append(AuditEntry("op1", ("operator",), "x.test", None, None, "ok"))
        assert audit.verify().ok
        with first.db.connect() as conn:
            assert sa.inspect(conn).has_table("workflow_runs")
    finally:
        first.dispose()
        second.dispose()
        audit.dispose()


def test_an_unreachable_database_is_one_line_without_secrets():
    store = RunStore("postgresql://backoffice:s3cret-pw@127.0.0.1:1/nowhere")
    try:
        with pytest.raises(RunsUnavailable) as caught:
            store.recent()
    finally:
        store.dispose()
    message = str(caught.value)
    assert message.startswith("The record of workflow runs is unavailable")
    assert "\n" not in message and "s3cret-pw" not in message


def test_only_sqlite_or_postgresql():
    with pytest.raises(ConfigError):
        RunStore("mysql+pymysql://root@127.0.0.1/x")


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
    workflow = kwargs.pop("workflow", SimpleNamespace(name="customer_orders"))
    principal = kwargs.pop("principal", OPERATOR)
    params = kwargs.pop("params", {"tier": "gold", "email": RAW_EMAIL})
    settings = SimpleNamespace(audit_url=url)
    return live.start(workflow, params, principal, settings=settings, engine=object(), **kwargs)


def test_a_run_goes_in_a_thread_and_is_recorded_at_start_and_end(runs_url, monkeypatch):
    fake = FakeRunner()
    run_id = start(fake, monkeypatch, runs_url)

    now = live.get(run_id)
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
    assert finished.progress.snapshot() == {
        "step": "items",
        "total": 3,
        "done": 2,
        "failed": 1,
        "left": 0,
    }
    assert list(finished.result.result["n"]) == [1, 2, 3]
    assert finished.finished_at >= finished.started_at
    assert fake.calls[0]["params"] == {
        "tier": "gold",
        "email": RAW_EMAIL,
    }  # the runner gets them as given
    assert fake.calls[0]["previous"] is None
    recorded = runs.store_for(runs_url).get(run_id)
    assert (recorded.outcome, recorded.rows) == ("ok", 3)
    assert live.running() == []


def test_progress_is_seen_while_the_run_goes(runs_url, monkeypatch):
    fake = FakeRunner()
    run_id = start(fake, monkeypatch, runs_url)
    for _ in range(1000):
        if live.get(run_id).progress.snapshot()["done"] == 1:
            break
        time.sleep(0.01)
    assert live.get(run_id).progress.snapshot() == {
        "step": "items",
        "total": 3,
        "done": 1,
        "failed": 0,
        "left": 2,
    }
    fake.gate.set()
    assert live.wait(run_id, 30).done


@pytest.mark.parametrize(
    "principal",
    [
        None,
        Principal("a", "A", ("analyst",)),
        Principal("s", "S", ("support",)),
        Principal("sel", "Seller", ("seller",), tenant=3),
    ],
)
def test_who_may_not_open_integrations_may_not_start_a_run(runs_url, monkeypatch, principal):
    fake = FakeRunner()
    with pytest.raises(ActionDenied):
        start(fake, monkeypatch, runs_url, principal=principal)
    assert fake.calls == []
    assert runs.store_for(runs_url).recent() == []


def test_stop_ends_the_run_as_stopped(runs_url, monkeypatch):
    run_id = start(FakeRunner(), monkeypatch, runs_url, principal=ADMIN)
    assert live.stop(run_id) is True
    finished = live.wait(run_id, timeout=30)
    assert finished.outcome == "stopped"
    assert runs.store_for(runs_url).get(run_id).outcome == "stopped"
    assert live.stop(run_id) is False  # already over
    assert live.stop("no-such-run") is False


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
    assert retry_fake.calls[0]["params"] == {"tier": "gold", "limit": 5}
    recorded = runs.store_for(runs_url).get(retry)
    assert recorded.retry_of == first and recorded.params == {"tier": "gold", "limit": 5}


def test_a_retry_of_a_run_not_held_here_is_refused_clearly(runs_url, monkeypatch):
    with pytest.raises(BackofficeError, match="no longer held by this server"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of="0" * 32)
    other = start(FakeRunner(), monkeypatch, runs_url)
    with pytest.raises(BackofficeError, match="has not finished"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of=other)
    live.stop(other)
    live.wait(other, 30)
    with pytest.raises(BackofficeError, match="is a run of 'customer_orders'"):
        start(
            FakeRunner(),
            monkeypatch,
            runs_url,
            retry_of=other,
            workflow=SimpleNamespace(name="orders_by_segment"),
        )


def test_only_the_last_finished_runs_are_held(runs_url, monkeypatch):
    monkeypatch.setattr(live, "KEEP_FINISHED", 2)
    ids = []
    for _ in range(3):
        fake = FakeRunner()
        fake.gate.set()
        ids.append(start(fake, monkeypatch, runs_url))
        live.wait(ids[-1], timeout=30)
    assert live.get(ids[0]) is None  # dropped: the oldest
    assert live.get(ids[1]).done and live.get(ids[2]).done
    assert runs.store_for(runs_url).get(ids[0]).outcome == "ok"  # still on record
    with pytest.raises(BackofficeError, match="no longer held"):
        start(FakeRunner(), monkeypatch, runs_url, retry_of=ids[0])


def test_runs_at_once_are_bounded(runs_url, monkeypatch):
    monkeypatch.setattr(live, "MAX_RUNNING", 2)
    held = [start(FakeRunner(), monkeypatch, runs_url) for _ in range(2)]
    with pytest.raises(BackofficeError, match="already going"):
        start(FakeRunner(), monkeypatch, runs_url)
    for run_id in held:
        live.stop(run_id)
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

    live.stop(run_id)
    assert live.wait(run_id, 30).outcome == "stopped"
    assert live.heartbeat() is False  # nothing runs: the thread ends


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
