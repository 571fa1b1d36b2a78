"""Where scheduled reports are kept: `report_schedules` and `report_sends` in the audit
database (lib.reports.schedules decides what is sent; this module only reads and writes).

    ensure(engine)                 # both tables, created if missing (race-safe)
    with engine.begin() as conn: insert(conn, name=..., view=..., recipients=[...], ...)
    active(engine) -> [Schedule]; overview(engine), failures(engine) -> DataFrame (the
    Notifications page: each schedule's last send; the periods that could not be built)
    prune(engine, keep_days, now)  # sent periods older than keep_days (not a schedule's last)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lib.access.masking import mask
from lib.notify.outbox import _ID as OUTBOX_ID  # outbox.id's type: BIGINT but on SQLite
from lib.records.database import create_tables

FREQUENCIES = ("daily", "weekly", "monthly")
VIEW_KEYS = ("granularity", "seller", "segment", "method")  # Filters.url() without from/to
# A send row's own status (delivery is the outbox's): its e-mail queued; its build failed;
# an admin asked for a failed period to be built again (report.retry), at the next round.
ENQUEUED, FAILED, RETRY = "enqueued", "failed", "retry"

metadata = sa.MetaData()
report_schedules = sa.Table(
    "report_schedules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("view", sa.Text, nullable=False),  # JSON: VIEW_KEYS -> value (None left out)
    sa.Column("recipients", sa.Text, nullable=False),  # comma-separated addresses
    sa.Column("frequency", sa.String(16), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),  # ISO 8601 UTC
    sa.Column("active", sa.Boolean, nullable=False, default=True),
)
report_sends = sa.Table(
    "report_sends",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule_id", sa.Integer, sa.ForeignKey("report_schedules.id"), nullable=False),
    # String, not Text, in the unique key: MySQL / MariaDB key a TEXT column only by a prefix.
    sa.Column("period_key", sa.String(16), nullable=False),  # 2026-11-29 | 2026-W48 | 2026-11
    sa.Column("date_from", sa.String(10), nullable=False),
    sa.Column("date_to", sa.String(10), nullable=False),  # inclusive
    sa.Column("created_at", sa.String(32), nullable=False),  # of the latest attempt
    sa.Column("status", sa.String(16), nullable=False),  # enqueued | failed | retry
    sa.Column("attempts", sa.Integer, nullable=False),  # builds; 0 after report.retry
    sa.Column("last_error", sa.Text),
    sa.Column("outbox_id", OUTBOX_ID),  # the e-mail's row in the audit database's outbox
    sa.UniqueConstraint("schedule_id", "period_key", name="uq_report_sends_period"),
)


def ensure(engine: sa.Engine) -> None:
    """Create both tables if missing; safe when another process does the same at once."""
    create_tables(metadata, engine)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# --- schedules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    id: int
    name: str
    view: Mapping[str, Any]
    recipients: tuple[str, ...]
    frequency: str
    created_by: str
    created_at: str
    active: bool

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Schedule:
        return cls(
            id=int(row["id"]),
            name=row["name"],
            view=json.loads(row["view"]),
            recipients=tuple(r for r in row["recipients"].split(",") if r),
            frequency=row["frequency"],
            created_by=row["created_by"],
            created_at=row["created_at"],
            active=bool(row["active"]),
        )

    @property
    def masked_recipients(self) -> list[str]:
        return [str(mask("email", r)) for r in self.recipients]

    def filters(self, date_from: date, date_to: date) -> Any:
        """The dashboard view over those days (lib.dashboard.model.Filters)."""
        from lib.dashboard.model import Filters

        seller = self.view.get("seller")
        return Filters(
            date_from=date_from,
            date_to=date_to,
            granularity=self.view.get("granularity") or "month",
            seller_id=None if seller in (None, "") else int(seller),
            segment=self.view.get("segment") or None,
            method=self.view.get("method") or None,
        )


def insert(
    conn: sa.Connection,
    *,
    name: str,
    view: Mapping[str, Any],
    recipients: Sequence[str],
    frequency: str,
    created_by: str,
) -> int:
    """A new active schedule in `conn`'s transaction; its id."""
    values = {
        "name": name,
        "view": json.dumps({k: view[k] for k in VIEW_KEYS if view.get(k) is not None}),
        "recipients": ",".join(recipients),
        "frequency": frequency,
        "created_by": created_by,
        "created_at": utc_text(datetime.now(UTC)),
        "active": True,
    }
    return int(conn.execute(sa.insert(report_schedules).values(**values)).inserted_primary_key[0])


def get(conn: sa.Connection, schedule_id: int) -> Schedule | None:
    row = conn.execute(
        sa.select(report_schedules).where(report_schedules.c.id == schedule_id)
    ).first()
    return None if row is None else Schedule.of(row._mapping)


def deactivate(conn: sa.Connection, schedule_id: int) -> bool:
    """Stop an active schedule; False if it is not there or already stopped."""
    t = report_schedules.c
    done = conn.execute(
        sa.update(report_schedules)
        .where(t.id == schedule_id, t.active == sa.true())
        .values(active=False)
    )
    return done.rowcount == 1


def send_of(conn: sa.Connection, schedule_id: int, period_key: str) -> dict[str, Any] | None:
    """A schedule's send row of one period, or None."""
    r = report_sends.c
    row = conn.execute(
        sa.select(report_sends).where(r.schedule_id == schedule_id, r.period_key == period_key)
    ).first()
    return None if row is None else dict(row._mapping)


def ask_retry(conn: sa.Connection, send_id: int) -> bool:
    """A failed send to be built again at the next round, with a fresh count of builds (its
    last error stays shown until then); False if it is no longer failed."""
    r = report_sends.c
    done = conn.execute(
        sa.update(report_sends)
        .where(r.id == send_id, r.status == FAILED)
        .values(status=RETRY, attempts=0)
    )
    return done.rowcount == 1


def retries(engine: sa.Engine) -> list[tuple[Schedule, dict[str, Any]]]:
    """The sends asked to be built again (report.retry) of active schedules, with them."""
    s, r = report_schedules.c, report_sends.c
    stmt = (
        sa.select(report_sends, report_schedules)
        .join(report_schedules, s.id == r.schedule_id)
        .where(r.status == RETRY, s.active == sa.true())
        .order_by(r.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for row in rows:
        m = row._mapping
        send = {c.name: m[c] for c in report_sends.c}
        out.append((Schedule.of({c.name: m[c] for c in report_schedules.c}), send))
    return out


def active(engine: sa.Engine) -> list[Schedule]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(report_schedules)
            .where(report_schedules.c.active == sa.true())
            .order_by(report_schedules.c.id)
        )
        return [Schedule.of(r._mapping) for r in rows]


def overview(engine: sa.Engine) -> pd.DataFrame:
    """The active schedules with their latest send, for the Notifications page: id, name,
    frequency, recipients (count), to (masked), created_by, created_at, last_period,
    last_status (the e-mail's delivery status once queued, else the build's), attempts,
    last_error."""
    ensure(engine)
    s, r = report_schedules.c, report_sends.c
    latest = (
        sa.select(r.schedule_id, sa.func.max(r.id).label("send_id"))
        .group_by(r.schedule_id)
        .subquery()
    )
    outbox = sa.table("outbox", sa.column("id"), sa.column("status"))
    stmt = (
        sa.select(report_schedules, r.period_key, r.status, r.attempts, r.last_error, r.outbox_id)
        .select_from(report_schedules)
        .outerjoin(latest, latest.c.schedule_id == s.id)
        .outerjoin(report_sends, r.id == latest.c.send_id)
        .where(s.active == sa.true())
        .order_by(s.id)
    )
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(stmt)]
        ids = [row["outbox_id"] for row in rows if row["outbox_id"] is not None]
        delivery = _outbox_status(conn, outbox, ids)
    out = []
    for row in rows:
        schedule = Schedule.of(row)
        status = row["status"]
        if status == ENQUEUED and row["outbox_id"] in delivery:
            status = delivery[row["outbox_id"]]
        out.append(
            {
                "id": schedule.id,
                "name": schedule.name,
                "frequency": schedule.frequency,
                "recipients": len(schedule.recipients),
                "to": ", ".join(schedule.masked_recipients),
                "created_by": schedule.created_by,
                "created_at": schedule.created_at,
                "last_period": row["period_key"],
                "last_status": status,
                "attempts": row["attempts"],
                "last_error": row["last_error"],
            }
        )
    columns = ["id", "name", "frequency", "recipients", "to", "created_by", "created_at"]
    extra = ["last_period", "last_status", "attempts", "last_error"]
    return pd.DataFrame(out, columns=[*columns, *extra])


def failures(engine: sa.Engine) -> pd.DataFrame:
    """The periods of active schedules that could not be built (failed, however many builds
    are left) or wait to be built again (retry), oldest first: schedule_id, name, period,
    status, builds, last_error, at (the latest build's time, UTC)."""
    ensure(engine)
    s, r = report_schedules.c, report_sends.c
    stmt = (
        sa.select(
            r.schedule_id,
            s.name,
            r.period_key.label("period"),
            r.status,
            r.attempts.label("builds"),
            r.last_error,
            r.created_at.label("at"),
        )
        .join(report_schedules, s.id == r.schedule_id)
        .where(r.status.in_((FAILED, RETRY)), s.active == sa.true())
        .order_by(r.date_from, r.id)
    )
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(stmt)]
    columns = ["schedule_id", "name", "period", "status", "builds", "last_error", "at"]
    return pd.DataFrame(rows, columns=columns)


def _outbox_status(conn: sa.Connection, outbox: Any, ids: list[int]) -> dict[int, str]:
    if not ids or not sa.inspect(conn).has_table("outbox"):
        return {}
    found = conn.execute(sa.select(outbox.c.id, outbox.c.status).where(outbox.c.id.in_(ids)))
    return {int(i): str(status) for i, status in found}


def sends(engine: sa.Engine, schedule_id: int) -> list[dict[str, Any]]:
    """Every send row of a schedule, newest period first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(report_sends)
            .where(report_sends.c.schedule_id == schedule_id)
            .order_by(report_sends.c.date_from.desc())
        )
        return [dict(r._mapping) for r in rows]


def prune(engine: sa.Engine, keep_days: float, now: datetime | None = None) -> int:
    """Delete the send rows built more than `keep_days` ago whose e-mail was sent (queued,
    and its outbox row `sent`), except each schedule's latest, which the Notifications page
    shows as its last period (and the scheduler reads); failed and retry rows stay, to be
    built again. The rows deleted (each a period that could not be sent again anyway: the
    scheduler only looks at the latest finished one and the ones asked to be built again)."""
    ensure(engine)
    cutoff = utc_text((now or datetime.now(UTC)) - timedelta(days=keep_days))
    r = report_sends.c
    outbox = sa.table("outbox", sa.column("id"), sa.column("status"))
    latest = sa.select(sa.func.max(r.id)).group_by(r.schedule_id)
    with engine.begin() as conn:
        if not sa.inspect(conn).has_table("outbox"):
            return 0
        # The ids first: MySQL / MariaDB refuse a DELETE whose subquery reads its own table.
        ids = conn.scalars(
            sa.select(r.id)
            .join(outbox, outbox.c.id == r.outbox_id)
            .where(
                r.status == ENQUEUED,
                outbox.c.status == "sent",
                r.created_at < cutoff,
                r.id.not_in(latest),
            )
        ).all()
        if not ids:
            return 0
        done = conn.execute(sa.delete(report_sends).where(r.id.in_(ids)))
    return int(done.rowcount)
