"""report.schedule / unschedule / retry, notification.retry and deliver_now: what they
accept, what they keep, and what their audit rows say (addresses masked)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from lib import actions
from lib.config.settings import load_settings
from lib.jobs.worker import Jobs
from lib.notify import outbox
from lib.notify.config import NotifyConfig, SmtpConfig
from lib.notify.model import Event
from lib.reports import schedules_store as store
from tests.stack import write_config

SMTP = SmtpConfig("127.0.0.1", 9, "backoffice@example.com")  # a closed port: nothing sent


@pytest.fixture(autouse=True)
def _email_configured(sqlite_ctx):
    sqlite_ctx.notify = NotifyConfig(smtp=SMTP)


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


@pytest.mark.parametrize("notify", [None, NotifyConfig()], ids=["no-notifications", "no-smtp"])
def test_a_schedule_is_refused_when_email_is_not_configured(
    sqlite_ctx, principals, audit_rows, notify
):
    sqlite_ctx.notify = notify
    result = actions.run("report.schedule", principals["admin"], **VALID)
    assert (result.outcome, result.message) == (
        "invalid",
        "e-mail is not configured: [notifications.smtp]",
    )
    store.ensure(sqlite_ctx.audit.db)
    assert store.active(sqlite_ctx.audit.db) == []
    [row] = audit_rows(sqlite_ctx, action="report.schedule")
    assert row["outcome"] == "invalid"


def _send(ctx, schedule_id: int, period: str, status: str, attempts: int) -> None:
    with ctx.audit.db.begin() as conn:
        conn.execute(
            sa.insert(store.report_sends).values(
                schedule_id=schedule_id, period_key=period, date_from=f"{period}-01",
                date_to=f"{period}-28", created_at="2026-11-30T10:00:00+00:00", status=status,
                attempts=attempts, last_error="SourceUnavailable: shop" if status == "failed"
                else None,
            )
        )  # fmt: skip


def test_a_period_that_gave_up_is_asked_to_be_built_again_once(sqlite_ctx, principals, audit_rows):
    admin = principals["admin"]
    schedule_id = actions.run("report.schedule", admin, **VALID).data["schedule_id"]
    _send(sqlite_ctx, schedule_id, "2026-10", "failed", 3)
    _send(sqlite_ctx, schedule_id, "2026-09", "enqueued", 1)

    result = actions.run("report.retry", admin, schedule_id=schedule_id, period="2026-10")
    assert result.ok, result.message
    assert result.message == (
        "'Monthly sales' for 2026-10 will be built again at the next round (or Send now)."
    )
    [retry, sent] = store.sends(sqlite_ctx.audit.db, schedule_id)
    assert (retry["period_key"], retry["status"], retry["attempts"]) == ("2026-10", "retry", 0)
    assert retry["last_error"] == "SourceUnavailable: shop"  # shown until it is built again
    [row] = audit_rows(sqlite_ctx, action="report.retry")
    assert row["target_id"] == str(schedule_id)
    assert row["detail"] == {"report": "Monthly sales", "period": "2026-10", "builds": 3}

    again = actions.run("report.retry", admin, schedule_id=schedule_id, period="2026-10")
    assert again.outcome == "conflict" and "already waiting" in again.message
    done = actions.run("report.retry", admin, schedule_id=schedule_id, period="2026-09")
    assert done.outcome == "conflict" and "is not failed (status enqueued)" in done.message
    assert sent["status"] == "enqueued"
    none = actions.run("report.retry", admin, schedule_id=schedule_id, period="2026-08")
    assert none.outcome == "invalid" and "no send for 2026-08" in none.message
    bad = actions.run("report.retry", admin, schedule_id=schedule_id, period="last month")
    assert bad.outcome == "invalid" and bad.message.startswith("period must be like")
    assert actions.run("report.unschedule", admin, schedule_id=schedule_id).ok
    stopped = actions.run("report.retry", admin, schedule_id=schedule_id, period="2026-10")
    assert stopped.outcome == "conflict" and "is stopped" in stopped.message


class Chat:
    """A local chat webhook receiver: `.url` (as the sinks service's base URL) and the JSON
    bodies it took."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def chat() -> Iterator[Chat]:
    receiver = Chat()
    yield receiver
    receiver.stop()


@pytest.fixture
def jobs(sqlite_ctx, tmp_path, demo_dir, request) -> Jobs:
    """The process's jobs over this test's audit database (its outbox); the chat channel
    posts to the `chat` receiver when the test uses it (else to a closed port)."""
    (tmp_path / "config").mkdir()
    urls = {}
    if "chat" in request.fixturenames:
        urls["sinks"] = request.getfixturevalue("chat").url
    settings = load_settings(write_config(tmp_path / "config", demo_dir, urls))
    outbox.ensure(sqlite_ctx.audit.db)
    sqlite_ctx.jobs = Jobs(settings, outboxes={"audit": sqlite_ctx.audit.db})
    return sqlite_ctx.jobs


def test_deliver_now_sends_what_is_due_and_audits_how_many_were_sent(
    sqlite_ctx, principals, audit_rows, chat, jobs
):
    config = jobs.deliverer.config
    with sqlite_ctx.audit.db.begin() as conn:
        [row_id] = outbox.enqueue(conn, Event("order.rejected", "Order 41 rejected", "x"), config)
    result = actions.run("notification.deliver_now", principals["admin"])
    assert (result.outcome, result.message) == ("ok", "Delivered 1 message now.")
    assert [m["text"].splitlines()[0] for m in chat.received] == ["*Order 41 rejected*"]
    with sqlite_ctx.audit.db.connect() as conn:
        status = conn.scalar(sa.select(outbox.outbox.c.status).where(outbox.outbox.c.id == row_id))
    assert status == "sent"
    [row] = audit_rows(sqlite_ctx, action="notification.deliver_now")
    assert (row["actor"], row["outcome"], row["detail"]) == (
        "admin",
        "ok",
        {"sent": 1, "failed": 0},
    )

    again = actions.run("notification.deliver_now", principals["admin"])
    assert again.message == "Delivered 0 messages now." and len(chat.received) == 1


def test_deliver_now_while_a_round_is_running_says_so_without_waiting(
    sqlite_ctx, principals, audit_rows, jobs
):
    deliverer = jobs.deliverer
    deliverer._lock.acquire()  # the jobs thread in a round (against a slow receiver)
    try:
        result = actions.run("notification.deliver_now", principals["admin"])
    finally:
        deliverer._lock.release()
    assert result.outcome == "conflict"
    assert result.message.startswith("A delivery round is running")
    [row] = audit_rows(sqlite_ctx, action="notification.deliver_now")
    assert row["outcome"] == "conflict"


def test_deliver_now_counts_the_sends_that_failed_in_its_message_and_audit_row(
    sqlite_ctx, principals, audit_rows, chat, jobs
):
    config = jobs.deliverer.config
    with sqlite_ctx.audit.db.begin() as conn:
        outbox.enqueue(conn, Event("order.rejected", "Order 41 rejected", "x"), config)
        for order in (42, 43):  # by e-mail, to an SMTP port nobody listens on: retried later
            event = Event("order.rejected", f"Order {order} rejected", "x")
            outbox.enqueue(conn, event, config, channel="ops_mail")
    result = actions.run("notification.deliver_now", principals["admin"])
    assert (result.outcome, result.message) == (
        "ok",
        "Delivered 1 message now; 2 failed and will be retried.",
    )
    [row] = audit_rows(sqlite_ctx, action="notification.deliver_now")
    assert row["detail"] == {"sent": 1, "failed": 2}


@pytest.mark.parametrize("action", ["notification.deliver_now", "report.send_now"])
def test_a_round_now_takes_no_jobs_from_its_caller(sqlite_ctx, principals, action):
    result = actions.run(action, principals["admin"], jobs="every")
    assert (result.outcome, result.message) == ("invalid", "unexpected parameter: jobs")


def test_without_jobs_in_the_context_a_round_now_runs_the_process_jobs(
    sqlite_ctx, principals, audit_rows, chat, jobs, monkeypatch
):
    from lib.config import runtime
    from lib.jobs import worker

    sqlite_ctx.jobs = None  # the app's context: the process's jobs (worker.for_process)
    asked = []
    monkeypatch.setattr(runtime, "settings", lambda: jobs.settings)
    monkeypatch.setattr(runtime, "engine", lambda: "the app's engine")
    monkeypatch.setattr(worker, "for_process", lambda *args: asked.append(args) or jobs)
    with sqlite_ctx.audit.db.begin() as conn:
        outbox.enqueue(conn, Event("order.rejected", "Order 41 rejected", "x"), jobs.notify)
    result = actions.run("notification.deliver_now", principals["admin"])
    assert result.message == "Delivered 1 message now." and len(chat.received) == 1
    assert asked == [(jobs.settings, "the app's engine")]
