"""Workflow runs: the record of each run, on SQLite and PostgreSQL (the live registry of this
process is tested in test_workflow_live.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from lib.access.principal import Principal
from lib.audit import AuditEntry, AuditStore
from lib.errors import ConfigError
from lib.workflows import runs
from lib.workflows.model import FailedItem, RunResult, StepReport
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


def test_params_named_in_keep_are_stored_as_given(run_store):
    """The live registry keeps a workflow's choice, int and date params unmasked: a run's
    link reopens it with them; only text params are masked."""
    # Named like personal data, so masked unless kept: a choice and an int.
    params = {"customer_name": "gold", "phone": 4010, "customer_email": RAW_EMAIL}
    assert runs.mask_params(params)["customer_name"] != "gold"
    record = run_store.create("customer_orders", OPERATOR, params, keep={"customer_name", "phone"})
    stored = run_store.get(record.id).params
    assert stored["customer_name"] == "gold" and stored["phone"] == 4010
    assert RAW_EMAIL not in str(stored)  # not kept: masked as before


def test_who_stopped_a_run_is_recorded(run_store):
    record = run_store.create("customer_orders", OPERATOR, {})
    assert run_store.get(record.id).stopped_by is None
    run_store.finish(record.id, RunResult("stopped"), stopped_by="admin1")
    done = run_store.get(record.id)
    assert (done.outcome, done.stopped_by) == ("stopped", "admin1")


def test_a_table_made_before_stopped_by_gets_the_column(audit_url):
    """A workflow_runs table from the first version (no stopped_by) keeps its rows and is
    used as is once the column is added."""
    old = sa.MetaData()
    columns = [c.copy() for c in runs.workflow_runs.columns if c.name != "stopped_by"]
    sa.Table(runs.TABLE, old, *columns)
    engine = sa.create_engine(audit_url)
    now = runs.utc_text(datetime.now(UTC))
    try:
        old.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                old.tables[runs.TABLE]
                .insert()
                .values(
                    id="a" * 32,
                    workflow="customer_orders",
                    actor="op1",
                    actor_roles='["operator"]',
                    started_at=now,
                    finished_at=now,
                    heartbeat_at=now,
                    params="{}",
                    outcome="ok",
                    steps="[]",
                    failed="[]",
                    rows=3,
                )
            )
    finally:
        engine.dispose()
    first, second = RunStore(audit_url), RunStore(audit_url)
    try:
        assert first.get("a" * 32).rows == 3  # the old row, read after the column came
        second.create_schema()  # the column is there now: nothing to add
        record = second.create("customer_orders", ADMIN, {})
        assert second.finish(record.id, RunResult("stopped"), stopped_by="admin1")
        assert first.get(record.id).stopped_by == "admin1"
        assert first.get("a" * 32).stopped_by is None
    finally:
        first.dispose()
        second.dispose()
