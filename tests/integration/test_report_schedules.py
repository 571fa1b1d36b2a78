"""Scheduled reports: which period is due, once per period however many processes tick, a
failed build tried again, and the e-mail arriving at a real SMTP server with files that open.
"""

from __future__ import annotations

import email
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from email import policy as email_policy
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
import pytest
import requests
import sqlalchemy as sa

from lib import actions
from lib.access import policy
from lib.actions import context
from lib.config.settings import Settings, load_settings
from lib.demo.services.serve import Sinks, sinks_over
from lib.jobs.worker import Jobs
from lib.notify import outbox
from lib.notify.config import NotifyConfig
from lib.notify.deliver import Deliverer
from lib.notify.model import Event
from lib.notify.outboxes import outboxes_for
from lib.reading.engine import Engine
from lib.reports import files as report_files
from lib.reports import schedules
from lib.reports import schedules_store as store
from lib.reports.schedules import SCHEDULER, Period, due_period
from tests.actions.conftest import PRINCIPALS
from tests.pages.helpers import config_without
from tests.stack import copy_demo, write_config

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # a Monday
OCTOBER = Period("2026-10", date(2026, 10, 1), date(2026, 10, 31))  # the demo's last month


@pytest.mark.parametrize(
    ("frequency", "now", "expected"),
    [
        ("daily", NOW, Period("2026-11-29", date(2026, 11, 29), date(2026, 11, 29))),
        ("daily", datetime(2026, 12, 1, 8, 0, tzinfo=timezone(timedelta(hours=9))),
         Period("2026-11-29", date(2026, 11, 29), date(2026, 11, 29))),  # 23:00 UTC the 30th
        ("weekly", NOW, Period("2026-W48", date(2026, 11, 23), date(2026, 11, 29))),
        ("weekly", datetime(2026, 11, 29, 23, 59, tzinfo=UTC),  # Sunday: its week not over
         Period("2026-W47", date(2026, 11, 16), date(2026, 11, 22))),
        ("weekly", datetime(2027, 1, 6, tzinfo=UTC),  # ISO week 53 of 2026
         Period("2026-W53", date(2026, 12, 28), date(2027, 1, 3))),
        ("monthly", NOW, OCTOBER),
        ("monthly", datetime(2026, 12, 1, tzinfo=UTC),
         Period("2026-11", date(2026, 11, 1), date(2026, 11, 30))),
        ("monthly", datetime(2026, 1, 31, 23, 0, tzinfo=UTC),
         Period("2025-12", date(2025, 12, 1), date(2025, 12, 31))),
    ],
)  # fmt: skip
def test_the_due_period_is_the_latest_finished_one(frequency, now, expected):
    assert due_period(frequency, now) == expected


def test_the_scheduler_reads_every_tenant_and_may_not_schedule_reports():
    assert policy.may_open(SCHEDULER, "dashboard") and policy.sees_all_tenants(SCHEDULER)
    assert not policy.may_run(SCHEDULER, "report.schedule")


# --- a demo configuration of this test's own ------------------------------------------------


@pytest.fixture
def own_demo(seeded_demo_dir: Path, tmp_path: Path) -> Path:
    """The full demo data, this test's own copy: a tick writes the audit database beside it
    (tests/integration's `demo_dir` is one copy shared by the session)."""
    return copy_demo(seeded_demo_dir, tmp_path / "demo")


@pytest.fixture
def settings(tmp_path: Path, own_demo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    config = write_config(tmp_path, own_demo)
    # outboxes_for reuses the process's action context when it is of this configuration
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(config))
    context.reset()
    yield load_settings(config)
    context.reset()


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_db_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The settings with the audit database (schedules, sends, the report e-mails' outbox) on
    SQLite, then in a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return settings
    url = request.getfixturevalue("pg_server").new()
    return Settings(**{**settings.__dict__, "audit_url": url})


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    built = Engine(settings.sources, settings.queries_dir)
    yield built
    built.close()


def schedule(settings: Settings, *, frequency: str = "monthly", **view: Any) -> int:
    db = outboxes_for(settings)["audit"]
    store.ensure(db)
    with db.begin() as conn:
        return store.insert(
            conn,
            name="Monthly sales",
            view={"granularity": "week", **view},
            recipients=["ana@example.com", "ops@example.com"],
            frequency=frequency,
            created_by="admin",
        )


def sends(settings: Settings, schedule_id: int) -> list[dict]:
    return store.sends(outboxes_for(settings)["audit"], schedule_id)


def emails(settings: Settings) -> list[dict]:
    with outboxes_for(settings)["audit"].connect() as conn:
        rows = conn.execute(sa.select(outbox.outbox).where(outbox.outbox.c.channel == "email"))
        return [dict(r._mapping) for r in rows]


# --- once per period ------------------------------------------------------------------------


def test_the_tables_keep_one_send_per_period_on_mariadb_too(mysql_url):
    """The audit store is SQLite or PostgreSQL today; the tables are kept portable anyway
    (keys on VARCHAR, not TEXT; outbox_id as wide as outbox.id)."""
    db = sa.create_engine(mysql_url)
    try:
        store.ensure(db)
        with db.begin() as conn:
            sid = store.insert(conn, name="Weekly", view={}, recipients=["a@example.com"],
                               frequency="weekly", created_by="admin")  # fmt: skip
        row = {"schedule_id": sid, "period_key": "2026-W48", "date_from": "2026-11-23",
               "date_to": "2026-11-29", "created_at": "2026-11-30T00:00:00+00:00",
               "status": "enqueued", "attempts": 1, "outbox_id": 2**40}  # fmt: skip
        with db.begin() as conn:
            conn.execute(sa.insert(store.report_sends).values(**row))
        with pytest.raises(sa.exc.IntegrityError), db.begin() as conn:
            conn.execute(sa.insert(store.report_sends).values(**row))
        [kept] = store.sends(db, sid)
        assert kept["outbox_id"] == 2**40
    finally:
        db.dispose()


def test_a_second_tick_sends_nothing_more_for_the_same_period(audit_db_settings, engine):
    settings = audit_db_settings
    sid = schedule(settings)
    assert schedules.tick(settings, NOW, engine=engine) == 1
    assert schedules.tick(settings, NOW + timedelta(hours=5), engine=engine) == 0
    [sent] = sends(settings, sid)
    assert (sent["period_key"], sent["status"], sent["attempts"]) == ("2026-10", "enqueued", 1)
    [mail] = emails(settings)
    assert sent["outbox_id"] == mail["id"]
    assert mail["subject"] == "Report 'Monthly sales': 2026-10-01 – 2026-10-31"
    assert "granularity=week" in mail["link"] and "from=2026-10-01" in mail["link"]
    # the next month is a period of its own
    assert schedules.tick(settings, datetime(2026, 12, 1, 0, 5, tzinfo=UTC), engine=engine) == 1
    assert [s["period_key"] for s in sends(settings, sid)] == ["2026-11", "2026-10"]


def test_two_processes_ticking_at_once_send_one_email_per_period(audit_db_settings, monkeypatch):
    """Both build the files (the barrier holds each until the other has built too), then
    both try to record the period: the unique key lets one through."""
    settings = audit_db_settings
    sid = schedule(settings)
    built = threading.Barrier(2, timeout=60)
    real = report_files.dashboard_files

    def build_then_wait(data):
        files = real(data)
        built.wait()
        return files

    monkeypatch.setattr(report_files, "dashboard_files", build_then_wait)
    queued: list[int] = []

    def process() -> None:  # an engine and database engines of its own, as a replica has
        own = Engine(settings.sources, settings.queries_dir)
        try:
            queued.append(
                schedules.tick(settings, NOW, engine=own, outboxes=outboxes_for(settings))
            )
        finally:
            own.close()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(queued) == [0, 1]
    assert len(sends(settings, sid)) == 1
    assert len(emails(settings)) == 1


def test_a_failed_build_is_recorded_and_tried_again_until_it_works(
    settings, engine, tmp_path, own_demo
):
    sid = schedule(settings)
    (tmp_path / "broken").mkdir()
    shop_gone = load_settings(config_without(tmp_path / "broken", own_demo, "shop"))
    broken = Engine(shop_gone.sources, shop_gone.queries_dir)
    try:
        assert schedules.tick(settings, NOW, engine=broken) == 0
    finally:
        broken.close()
    [failed] = sends(settings, sid)
    assert (failed["status"], failed["attempts"], failed["outbox_id"]) == ("failed", 1, None)
    assert "shop" in failed["last_error"] and "\n" not in failed["last_error"]
    assert emails(settings) == []

    assert schedules.tick(settings, NOW + timedelta(minutes=1), engine=engine) == 1
    [sent] = sends(settings, sid)
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("enqueued", 2, None)
    assert len(emails(settings)) == 1


def test_a_period_that_keeps_failing_stops_after_max_attempts(settings, monkeypatch):
    sid = schedule(settings)

    def broken(data):
        raise RuntimeError("renderer crashed for ana@example.com")

    monkeypatch.setattr(report_files, "dashboard_files", broken)
    engine = Engine(settings.sources, settings.queries_dir)
    try:
        for minute in range(5):  # max_attempts = 3 in the shipped configuration
            schedules.tick(settings, NOW + timedelta(minutes=minute), engine=engine)
    finally:
        engine.close()
    [failed] = sends(settings, sid)
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert failed["last_error"].startswith("RuntimeError: renderer crashed for a")
    assert "ana@example.com" not in failed["last_error"]
    [row] = store.overview(outboxes_for(settings)["audit"]).to_dict("records")
    assert (row["last_period"], row["last_status"], row["attempts"]) == ("2026-10", "failed", 3)


def test_a_period_that_gave_up_is_sent_after_retry_build_and_send_now(settings, monkeypatch):
    admin = PRINCIPALS["admin"]
    sid = schedule(settings)
    real = report_files.dashboard_files

    def broken(data):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(report_files, "dashboard_files", broken)
    engine = Engine(settings.sources, settings.queries_dir)
    context.current().jobs = Jobs(settings, engine=engine)  # the process's
    try:
        for _ in range(3):  # max_attempts = 3 in the shipped configuration
            result = actions.run("report.send_now", admin)
            assert result.message == "1 report could not be built (listed with the reason)."
        gave_up = actions.run("report.send_now", admin)
        assert gave_up.message.startswith("Nothing due: every schedule's latest period is sent")
        monkeypatch.setattr(report_files, "dashboard_files", real)  # the cause is fixed
        # send_now works on today's latest finished month; a month later it is not the latest
        latest = schedules.due_period("monthly", datetime.now(UTC))
        retry = actions.run("report.retry", admin, schedule_id=sid, period=latest.key)
        assert retry.ok, retry.message
        after = datetime.combine(latest.date_to, datetime.min.time(), tzinfo=UTC)
        later = schedules.due_period("monthly", after + timedelta(days=35))
        when = datetime.combine(later.date_to, datetime.min.time(), tzinfo=UTC)
        with_retry = schedules.send_due(settings, when + timedelta(days=1, minutes=5),
                                        engine=engine)  # fmt: skip
    finally:
        engine.close()
    assert (with_retry.queued, with_retry.failed) == (2, 0)
    sent = {s["period_key"]: (s["status"], s["attempts"], s["last_error"]) for s in sends(
        settings, sid)}  # fmt: skip
    assert sent == {later.key: ("enqueued", 1, None), latest.key: ("enqueued", 1, None)}
    assert len(emails(settings)) == 2
    audited = context.current().audit.query(action="report.send_now", limit=None)
    assert [r["detail"] for r in audited] == [{"queued": 0, "failed": 0}] + [
        {"queued": 0, "failed": 1}
    ] * 3


def test_send_now_queues_the_due_report_and_audits_it(settings):
    sid = schedule(settings)
    engine = Engine(settings.sources, settings.queries_dir)
    try:
        context.current().jobs = Jobs(settings, engine=engine)  # the process's
        result = actions.run("report.send_now", PRINCIPALS["admin"])
    finally:
        engine.close()
    assert (result.outcome, result.message) == ("ok", "Queued 1 report for e-mail.")
    [sent] = sends(settings, sid)
    assert sent["status"] == "enqueued" and sent["outbox_id"] == emails(settings)[0]["id"]
    [row] = context.current().audit.query(action="report.send_now")
    assert (row["actor"], row["detail"]) == ("admin", {"queued": 1, "failed": 0})


def test_retry_build_of_a_period_that_is_not_failed_says_its_status(settings, engine):
    admin = PRINCIPALS["admin"]
    sid = schedule(settings)
    assert schedules.tick(settings, NOW, engine=engine) == 1  # 2026-10 built and queued
    sent = actions.run("report.retry", admin, schedule_id=sid, period="2026-10")
    assert (sent.outcome, sent.message) == (
        "conflict",
        "'Monthly sales' for 2026-10 is not failed (status enqueued): nothing to build again.",
    )
    with outboxes_for(settings)["audit"].begin() as conn:  # as if it had failed
        conn.execute(sa.update(store.report_sends).values(status=store.FAILED))
    assert actions.run("report.retry", admin, schedule_id=sid, period="2026-10").ok
    again = actions.run("report.retry", admin, schedule_id=sid, period="2026-10")
    assert (again.outcome, again.message) == (
        "conflict",
        "'Monthly sales' for 2026-10 is already waiting to be built again.",
    )
    assert [s["status"] for s in sends(settings, sid)] == ["retry"]
    audited = context.current().audit.query(action="report.retry", limit=None)
    assert [r["outcome"] for r in audited] == ["conflict", "ok", "conflict"]


def test_a_stopped_schedule_sends_nothing(settings, engine):
    sid = schedule(settings)
    with outboxes_for(settings)["audit"].begin() as conn:
        assert store.deactivate(conn, sid)
    assert schedules.tick(settings, NOW, engine=engine) == 0
    assert sends(settings, sid) == []


# --- the e-mail at a real SMTP server -------------------------------------------------------


@pytest.fixture
def smtp(settings: Settings, tmp_path: Path) -> Iterator[tuple[Sinks, Settings]]:
    """The demo's SMTP sink (aiosmtpd) and its inbox listing on free ports, and the settings
    sending e-mail to it."""
    with sinks_over(tmp_path / "sinks") as sinks:
        smtp = {**settings.notifications["smtp"], "port": sinks.smtp_port}
        notifications = {**settings.notifications, "smtp": smtp}
        yield sinks, Settings(**{**settings.__dict__, "notifications": notifications})


def test_a_scheduled_report_arrives_with_both_files_that_open(smtp, engine):
    sinks, settings = smtp
    schedule(settings, frequency="monthly")
    assert schedules.tick(settings, NOW, engine=engine) == 1
    deliverer = Deliverer(NotifyConfig.of(settings.notifications), outboxes_for(settings))
    assert deliverer.tick() == 1
    [listed] = requests.get(f"{sinks.url}/mail", timeout=5).json()
    assert listed["subject"] == "Report 'Monthly sales': 2026-10-01 – 2026-10-31"
    assert sorted(listed["to"]) == ["ana@example.com", "ops@example.com"]
    raw = requests.get(f"{sinks.url}/mail/{listed['id']}.eml", timeout=5).content
    message = email.message_from_bytes(raw, policy=email_policy.default)
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert sorted(name.rsplit(".", 1)[1] for name in files) == ["pdf", "xlsx"]
    xlsx = next(content for name, content in files.items() if name.endswith(".xlsx"))
    pdf = next(content for name, content in files.items() if name.endswith(".pdf"))
    assert "Summary" in openpyxl.load_workbook(io.BytesIO(xlsx)).sheetnames
    first_page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Period 2026-10-01 to 2026-10-31" in first_page
    assert "/dashboard?" in message.get_body(("plain",)).get_content()
    # sent once: the period is recorded, the message delivered
    assert schedules.tick(settings, NOW, engine=engine) == 0 and deliverer.tick() == 0
    assert len(requests.get(f"{sinks.url}/mail", timeout=5).json()) == 1


# --- the process's jobs thread --------------------------------------------------------------


class _Broken:
    def tick(self, now=None):
        raise RuntimeError("watcher bug, ana@example.com")


def test_the_jobs_thread_sends_due_reports_and_outlives_a_failing_step(settings, engine, caplog):
    smtp = {**settings.notifications["smtp"], "port": 9}  # closed: nothing leaves the test
    settings = Settings(
        **{**settings.__dict__, "notifications": {**settings.notifications, "smtp": smtp}}
    )
    sid = schedule(settings, frequency="daily")
    jobs = Jobs(settings, engine=engine)
    jobs._watchers = _Broken()
    jobs.start()
    try:
        deadline = time.monotonic() + 60
        while not sends(settings, sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert jobs.running
    finally:
        jobs.stop()
    assert not jobs.running
    [sent] = sends(settings, sid)
    assert sent["status"] == "enqueued"
    failures = [
        r.getMessage() for r in caplog.records if "background watch failed" in r.getMessage()
    ]
    assert failures and "ana@example.com" not in failures[0]
    # a round by hand: each step's result, the failing one None
    assert jobs.tick(reports=True) == {"deliver": 0, "once": True, "watch": None, "reports": 0}


# --- pruning --------------------------------------------------------------------------------


def _send_row(
    db: sa.Engine, schedule_id: int, period: str, built: datetime, status: str, delivery: str
) -> None:
    """A send row of `period` built at `built`, its e-mail's outbox row `delivery`."""
    event = Event("report.scheduled", f"Report {schedule_id} {period}", "attached")
    with db.begin() as conn:
        [outbox_id] = outbox.enqueue(
            conn, event, NotifyConfig(), channel="email", recipients=["ops@example.com"]
        )
        conn.execute(
            sa.update(outbox.outbox).where(outbox.outbox.c.id == outbox_id).values(status=delivery)
        )
        conn.execute(
            sa.insert(store.report_sends).values(
                schedule_id=schedule_id, period_key=period, date_from=f"{period}-01",
                date_to=f"{period}-28", created_at=store.utc_text(built), status=status,
                attempts=1, outbox_id=outbox_id,
            )
        )  # fmt: skip


def test_the_hourly_prune_deletes_old_sent_periods_but_each_schedules_last(audit_db_settings):
    settings = audit_db_settings
    keep_days = NotifyConfig.of(settings.notifications).keep_days
    old, recent = NOW - timedelta(days=keep_days + 1), NOW - timedelta(days=1)
    monthly, stopped = schedule(settings), schedule(settings)
    db = outboxes_for(settings)["audit"]
    outbox.ensure(db)
    _send_row(db, monthly, "2026-06", old, "enqueued", "sent")  # old and sent: deleted
    _send_row(db, monthly, "2026-07", old, "failed", "failed")  # could not be built: kept
    _send_row(db, monthly, "2026-08", old, "enqueued", "pending")  # not delivered yet: kept
    _send_row(db, monthly, "2026-09", recent, "enqueued", "sent")  # within keep_days: kept
    _send_row(db, stopped, "2026-05", old, "enqueued", "sent")  # old, but its last: kept
    with db.begin() as conn:
        assert store.deactivate(conn, stopped)
    jobs = Jobs(settings, outboxes={"audit": db})
    jobs.prune(NOW)  # the jobs thread's hourly step
    assert [s["period_key"] for s in sends(settings, monthly)] == ["2026-09", "2026-08", "2026-07"]
    assert [s["period_key"] for s in sends(settings, stopped)] == ["2026-05"]
    [row] = store.overview(db).to_dict("records")
    assert (row["id"], row["last_period"], row["last_status"]) == (monthly, "2026-09", "sent")
    assert store.prune(db, keep_days, NOW) == 0  # nothing more to delete
    assert store.prune(db, keep_days, NOW + timedelta(days=2)) == 0  # 2026-09: the last one
