"""report.schedule / report.unschedule and notification.retry: what they accept, what they
keep, and what their audit rows say (addresses masked)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from lib import actions
from lib.notify import outbox
from lib.notify.config import NotifyConfig
from lib.notify.model import Event
from lib.reports import schedules_store as store

VALID = {
    "name": "Monthly sales",
    "recipients": "ana@example.com; Ops@Example.com ops@example.com",
    "frequency": "monthly",
    "view": {"from": "2026-01-01", "to": "2026-01-31", "granularity": "week", "seller": "2"},
}


def test_a_schedule_keeps_the_view_without_dates_and_audits_masked_addresses(
    sqlite_ctx, principals, audit_rows
):
    result = actions.run("report.schedule", principals["admin"], **VALID)
    assert result.ok, result.message
    with sqlite_ctx.audit.db.connect() as conn:
        kept = store.get(conn, result.data["schedule_id"])
    assert kept.recipients == ("ana@example.com", "Ops@Example.com")  # one per address
    assert kept.view == {"granularity": "week", "seller": 2}
    assert (kept.frequency, kept.created_by, kept.active) == ("monthly", "admin", True)
    [row] = audit_rows(sqlite_ctx, action="report.schedule")
    assert row["target_id"] == str(kept.id)
    assert row["detail"]["recipients"] == 2
    assert row["detail"]["to"] == ["a***@example.com", "O***@Example.com"]
    assert "ana@example.com" not in json.dumps(row, default=str)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recipients": "ana@example.com, not-an-address"}, "is not an e-mail address"),
        ({"recipients": ""}, "at least one"),
        ({"recipients": [f"u{i}@example.com" for i in range(21)]}, "at most 20"),
        ({"frequency": "hourly"}, "frequency must be one of"),
        ({"name": "call 010-1234-5678"}, "must not contain"),
        ({"view": {"granularity": "year"}}, "granularity"),
        ({"view": {"seller": "x"}}, "seller"),
        ({"view": {"colour": "red"}}, "unknown parameter colour"),
    ],
)
def test_a_schedule_with_bad_input_is_refused_and_nothing_kept(
    sqlite_ctx, principals, change, message
):
    result = actions.run("report.schedule", principals["admin"], **{**VALID, **change})
    assert result.outcome == "invalid" and message in result.message
    assert "not-an-address" not in result.message
    store.ensure(sqlite_ctx.audit.db)
    assert store.active(sqlite_ctx.audit.db) == []


def test_stopping_a_schedule_twice_is_a_conflict(sqlite_ctx, principals):
    admin = principals["admin"]
    schedule_id = actions.run("report.schedule", admin, **VALID).data["schedule_id"]
    assert actions.run("report.unschedule", admin, schedule_id=schedule_id).ok
    assert store.active(sqlite_ctx.audit.db) == []
    again = actions.run("report.unschedule", admin, schedule_id=schedule_id)
    assert again.outcome == "conflict" and "already stopped" in again.message
    assert actions.run("report.unschedule", admin, schedule_id=999).outcome == "invalid"


def test_a_failed_message_is_sent_again_once(sqlite_ctx, principals, audit_rows):
    db = sqlite_ctx.db("shop")
    outbox.ensure(db)
    with db.begin() as conn:
        [message_id] = outbox.enqueue(
            conn, Event("order.rejected", "Order 7 rejected", "out of stock"),
            NotifyConfig(), channel="email", recipients=["ops@example.com"],
        )  # fmt: skip
        conn.execute(
            sa.update(outbox.outbox)
            .where(outbox.outbox.c.id == message_id)
            .values(status="failed", attempts=10)
        )
    admin = principals["admin"]
    result = actions.run("notification.retry", admin, outbox="shop", message_id=message_id)
    assert result.ok, result.message
    with db.connect() as conn:
        row = conn.execute(sa.select(outbox.outbox).where(outbox.outbox.c.id == message_id)).one()
    assert (row.status, row.attempts) == ("pending", 0)
    assert audit_rows(sqlite_ctx, action="notification.retry")[0]["target_id"] == (
        f"shop:{message_id}"
    )
    again = actions.run("notification.retry", admin, outbox="shop", message_id=message_id)
    assert again.outcome == "conflict"
    other = actions.run("notification.retry", admin, outbox="billing", message_id=message_id)
    assert other.outcome == "invalid"


def _failed_message(db: sa.Engine) -> int:
    outbox.ensure(db)
    with db.begin() as conn:
        [message_id] = outbox.enqueue(
            conn, Event("order.rejected", "Order 8 rejected", "out of stock"),
            NotifyConfig(), channel="email", recipients=["ops@example.com"],
        )  # fmt: skip
        conn.execute(
            sa.update(outbox.outbox)
            .where(outbox.outbox.c.id == message_id)
            .values(status="failed", attempts=10)
        )
    return message_id


@pytest.mark.parametrize("where", ["audit", "shop"])
def test_a_retry_whose_audit_row_cannot_be_written_leaves_the_message_failed(
    sqlite_ctx, principals, monkeypatch, where
):
    db = sqlite_ctx.audit.db if where == "audit" else sqlite_ctx.db("shop")
    message_id = _failed_message(db)
    audit = sqlite_ctx.audit
    record = audit.record

    def failing(conn, entry):
        if entry.action == "notification.retry" and entry.outcome == "ok":
            raise sa.exc.OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O"))
        return record(conn, entry)

    monkeypatch.setattr(audit, "record", failing)
    result = actions.run("notification.retry", principals["admin"], outbox=where,
                         message_id=message_id)  # fmt: skip
    assert not result.ok
    with db.connect() as conn:
        row = conn.execute(sa.select(outbox.outbox).where(outbox.outbox.c.id == message_id)).one()
    assert (row.status, row.attempts) == ("failed", 10)
