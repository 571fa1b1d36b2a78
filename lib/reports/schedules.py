"""Scheduled reports: a saved dashboard view e-mailed to its recipients once per period.

    due_period("monthly", now)              # Period("2026-10", 2026-10-01, 2026-10-31)
    tick(settings)                          # send what is due; how many e-mails were queued
    send_due(settings) -> Round(queued, failed)   # the same, with the builds that failed

A schedule (`report_schedules` in the audit database, lib.reports.schedules_store; written by
the report.schedule / report.unschedule actions) holds a dashboard view without dates: the
period decides them. Each period sent is one row
of `report_sends`, UNIQUE (schedule_id, period_key); the row and the outbox e-mail carrying
the files are inserted in ONE transaction of the audit database, so:
- with several app processes ticking at once, the second insert of a period fails on the
  unique key and that process throws its files away: one e-mail per period, whoever builds;
- a process that dies between building and committing leaves nothing behind: the next tick
  (here or elsewhere) builds the period again.
A build that fails (a source down, a bug) is recorded as `failed` with a one-line, masked
error and tried again on later ticks, [reports] max_attempts times per period in all; the
retry claims the failed row with a conditional UPDATE on its attempt count, so two processes
cannot both send it. After that the period waits for an admin: report.retry marks its row
`retry` with no builds counted, and the next round builds it again (even when it is no longer
the latest period: sent late because someone asked). A sent period's delivery status is the
status of its outbox row (lib.notify), which has its own retries.

Periods are UTC days. The period sent is the latest finished one: yesterday (daily), last
Monday to Sunday (weekly), last calendar month (monthly); a schedule made today sends its
latest finished period at the next tick, and a missed period is never sent late.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from lib.access.masking import masked_line
from lib.access.principal import Principal
from lib.config.settings import Settings
from lib.errors import BackofficeError
from lib.reports.schedules_store import (
    ENQUEUED,
    FAILED,
    FREQUENCIES,
    RETRY,
    Schedule,
    active,
    ensure,
    report_sends,
    retries,
    utc_text,
)

log = logging.getLogger(__name__)

MAX_ERROR = 200  # characters of a failed build's error
SNAPSHOT_WAIT_S = 600  # a first copy at 1.5M orders takes seconds to minutes


# Who the scheduler reads the dashboard as: not a signed-in user (the admin who made the
# schedule may have left), a fixed system principal whose username "scheduler" names it in
# logs. Its role is the analyst's, the policy's narrowest that opens the dashboard over every
# tenant with the company-wide spend KPIs, as staff see it; admin would grant far more than
# a read. It is only ever handed to lib.dashboard.data.load, never to lib.actions.run. The
# view's own seller filter narrows the report as it does the page.
SCHEDULER = Principal("scheduler", "Report scheduler", ("analyst",))

# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    key: str
    date_from: date
    date_to: date  # inclusive

    @property
    def label(self) -> str:
        if self.date_from == self.date_to:
            return self.date_from.isoformat()
        return f"{self.date_from.isoformat()} – {self.date_to.isoformat()}"


def due_period(frequency: str, now: datetime) -> Period:
    """The latest period of `frequency` that has ended by `now` (a UTC day is the unit)."""
    today = (now.astimezone(UTC) if now.tzinfo else now).date()
    if frequency == "daily":
        day = today - timedelta(days=1)
        return Period(day.isoformat(), day, day)
    if frequency == "weekly":
        monday = today - timedelta(days=today.weekday() + 7)
        year, week, _ = monday.isocalendar()
        return Period(f"{year}-W{week:02d}", monday, monday + timedelta(days=6))
    if frequency == "monthly":
        last = today.replace(day=1) - timedelta(days=1)
        return Period(f"{last:%Y-%m}", last.replace(day=1), last)
    raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Previous:
    """A period's send row as this tick found it."""

    id: int
    status: str
    attempts: int


class _Lost(Exception):
    """Another process recorded this period first: roll back, keep nothing."""


@dataclass(frozen=True)
class Round:
    """What one round of the scheduler did: e-mails queued, builds that failed."""

    queued: int = 0
    failed: int = 0


def tick(
    settings: Settings,
    now: datetime | None = None,
    *,
    engine: Any = None,
    outboxes: Mapping[str, sa.Engine] | None = None,
) -> int:
    """Send each active schedule's due period that has no successful send yet; returns how
    many e-mails were queued. `engine` (lib.reading.engine.Engine) is the one the dashboard
    reads through (a fresh one for this tick when None); `outboxes` as
    lib.notify.outboxes.outboxes_for gives them (the audit database's is used)."""
    return send_due(settings, now, engine=engine, outboxes=outboxes).queued


def send_due(
    settings: Settings,
    now: datetime | None = None,
    *,
    engine: Any = None,
    outboxes: Mapping[str, sa.Engine] | None = None,
) -> Round:
    """tick's round, saying how many builds failed too (the report.send_now action's)."""
    from lib.notify.config import NotifyConfig
    from lib.notify.outboxes import outboxes_for
    from lib.reports.config import ReportsConfig

    now = now or datetime.now(UTC)
    max_attempts = ReportsConfig.of(settings.reports).max_attempts
    notify = NotifyConfig.of(settings.notifications)
    db = (outboxes if outboxes is not None else outboxes_for(settings))["audit"]
    ensure(db)
    due = _due(db, now, max_attempts)
    if not due:
        return Round()
    own_engine = engine is None
    if own_engine:
        from lib.reading.engine import Engine

        engine = Engine(settings.sources, settings.queries_dir)
    queued = failed = 0
    # A report reads the dashboard's snapshots: in a process that just started, wait for their
    # first copy rather than count a failed attempt ('the data is being prepared').
    engine.snapshots.wait_built(SNAPSHOT_WAIT_S)
    try:
        for schedule, period, previous in due:
            try:
                files, event = _build(engine, schedule, period)
            except Exception as exc:  # any failure is this period's, recorded and retried
                log.warning(
                    "scheduled report %s (%s) failed: %s", schedule.id, period.key, _error(exc)
                )
                failed += _record_failure(db, schedule, period, previous, _error(exc))
                continue
            queued += _record_sent(db, schedule, period, previous, event, files, notify)
    finally:
        if own_engine:
            engine.close()
    return Round(queued, failed)


def _due(
    db: sa.Engine, now: datetime, max_attempts: int
) -> list[tuple[Schedule, Period, _Previous | None]]:
    """Each active schedule's latest finished period not sent yet, then the periods an admin
    asked to build again (report.retry) that are not among them."""
    due = []
    for schedule in active(db):
        period = due_period(schedule.frequency, now)
        previous = _previous(db, schedule.id, period)
        if _wants(previous, max_attempts):
            due.append((schedule, period, previous))
    taken = {(s.id, p.key) for s, p, _ in due}
    for schedule, send in retries(db):
        if (schedule.id, send["period_key"]) in taken:
            continue
        period = Period(
            send["period_key"],
            date.fromisoformat(send["date_from"]),
            date.fromisoformat(send["date_to"]),
        )
        due.append((schedule, period, _Previous(int(send["id"]), RETRY, int(send["attempts"]))))
    return due


def _previous(db: sa.Engine, schedule_id: int, period: Period) -> _Previous | None:
    r = report_sends.c
    with db.connect() as conn:
        row = conn.execute(
            sa.select(r.id, r.status, r.attempts).where(
                r.schedule_id == schedule_id, r.period_key == period.key
            )
        ).first()
    return None if row is None else _Previous(int(row.id), row.status, int(row.attempts))


def _wants(previous: _Previous | None, max_attempts: int) -> bool:
    if previous is None or previous.status == RETRY:
        return True
    return previous.status == FAILED and previous.attempts < max_attempts


def _error(exc: BaseException) -> str:
    """One line, contacts masked; a project error's message as it is, else the type too."""
    text = str(exc) if isinstance(exc, BackofficeError) else f"{type(exc).__name__}: {exc}"
    return masked_line(text, MAX_ERROR)


def _build(engine: Any, schedule: Schedule, period: Period) -> tuple[list[Any], Any]:
    """The files and the e-mail's event for one period (outside any transaction: slow)."""
    from lib.dashboard import data as dashboard_data
    from lib.notify.model import Event
    from lib.reports import files as report_files

    filters = schedule.filters(period.date_from, period.date_to)
    data = dashboard_data.load(engine, SCHEDULER, filters)
    files = list(report_files.dashboard_files(data))
    lines = [
        f"{schedule.frequency.capitalize()} report '{schedule.name}' for {period.label}.",
        *(_kpi_line(k) for k in data.kpis),
        "Attached: " + ", ".join(f.filename for f in files) + ".",
    ]
    view = {k: v for k, v in filters.url().items() if v is not None}
    event = Event(
        kind="report.scheduled",
        subject=f"Report '{schedule.name}': {period.label}",
        text="\n".join(lines),
        path="/dashboard?" + urlencode(view),
        facts={"schedule": schedule.id, "period": period.key, "files": len(files)},
        dedupe=f"report.scheduled:{schedule.id}:{period.key}",
    )
    return files, event


def _kpi_line(kpi: Any) -> str:
    if kpi.value is None:
        shown = "–"
    elif kpi.unit == "krw":
        shown = f"₩{kpi.value:,.0f}"
    elif kpi.unit == "percent":
        shown = f"{kpi.value * 100:.1f} %"
    elif kpi.unit == "count":
        shown = f"{kpi.value:,.0f}"
    else:
        shown = f"{kpi.value:,.2f}"
    change = "" if kpi.change is None else f" ({kpi.change * 100:+.1f} % on the previous period)"
    note = f"; {kpi.note}" if kpi.note else ""
    return f"- {kpi.label}: {shown}{change}{note}"


def _send_values(schedule: Schedule, period: Period) -> dict[str, Any]:
    return {
        "schedule_id": schedule.id,
        "period_key": period.key,
        "date_from": period.date_from.isoformat(),
        "date_to": period.date_to.isoformat(),
        "created_at": utc_text(datetime.now(UTC)),
    }


def _claim(
    conn: sa.Connection,
    schedule: Schedule,
    period: Period,
    previous: _Previous | None,
    **values: Any,
) -> int:
    """Insert the period's row, or take over the failed one this tick saw; raises _Lost when
    another process got there first. The row's id."""
    if previous is None:
        row = {**_send_values(schedule, period), "attempts": 1, **values}
        try:  # the unique key decides between processes; the transaction then rolls back
            inserted = conn.execute(sa.insert(report_sends).values(**row))
        except sa.exc.IntegrityError:
            raise _Lost from None
        return int(inserted.inserted_primary_key[0])
    r = report_sends.c
    done = conn.execute(
        sa.update(report_sends)
        .where(
            r.id == previous.id,
            r.status.in_((FAILED, RETRY)),
            r.attempts == previous.attempts,
        )
        .values(attempts=previous.attempts + 1, created_at=utc_text(datetime.now(UTC)), **values)
    )
    if done.rowcount != 1:
        raise _Lost
    return previous.id


def _record_sent(
    db: sa.Engine,
    schedule: Schedule,
    period: Period,
    previous: _Previous | None,
    event: Any,
    files: list[Any],
    notify: Any,
) -> int:
    from lib.notify import outbox

    try:
        with db.begin() as conn:
            send_id = _claim(conn, schedule, period, previous, status=ENQUEUED, last_error=None)
            ids = outbox.enqueue(
                conn,
                event,
                notify,
                channel="email",
                recipients=list(schedule.recipients),
                attachments=files,
            )
            conn.execute(
                sa.update(report_sends)
                .where(report_sends.c.id == send_id)
                .values(outbox_id=ids[0] if ids else None)
            )
    except _Lost:
        log.info("scheduled report %s (%s) sent by another process", schedule.id, period.key)
        return 0
    return 1


def _record_failure(
    db: sa.Engine, schedule: Schedule, period: Period, previous: _Previous | None, error: str
) -> int:
    """1 when this process recorded the failure, 0 when another one recorded the period."""
    try:
        with db.begin() as conn:
            _claim(conn, schedule, period, previous, status=FAILED, last_error=error)
    except _Lost:
        return 0  # another process recorded this period (sent or failed) meanwhile
    return 1
