"""The outbox: messages written in the transaction of the change that caused them, delivered
later by lib.notify.deliver.

    ensure(engine)                                     # once per database, safe to race
    ids = enqueue(tx.conn, event, config)              # in the change's own transaction
    [row] = claim(engine, "worker-1", config, now, limit=1)   # a due row, leased to this worker
    renew(engine, row.id, "worker-1", config)          # while its send runs: the lease again
    mark_sent(engine, row.id, "worker-1", now) / mark_retry(engine, row.id, ..., error, config, now)
    retry(conn, outbox_id)                             # a failed row back to pending, now
    prune(engine, keep_days, now)                      # sent rows' recipients, text and files

States: pending (due at next_attempt_at) -> sending (claimed: claimed_by, claimed_until) ->
sent | pending again with a later next_attempt_at (attempts + 1, backoff doubling) | failed
(after max_attempts; only `retry` sends it again).

One delivery across processes: a row is claimed by a conditional UPDATE whose WHERE holds
only while the row is due (pending and next_attempt_at reached, or sending with its lease
run out); the database lets one UPDATE match (SQLite: BEGIN IMMEDIATE serializes writers;
PostgreSQL and MariaDB re-check the WHERE on the row they wait for), so two workers never
both hold a row. The deliverer claims one row just before sending it and renews the lease
while the send runs (an SMTP send can take several timeouts: smtplib's is per socket
operation), so a lease never runs out under a live send. A worker that dies after the
receiver took the message but before `mark_sent` leaves the row `sending`; after its lease
another worker sends it again: delivery is at least once (a webhook receiver can drop the
repeat by X-Backoffice-Message-Id, an e-mail by its Message-ID).

Times are stored as text, 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, which sorts and compares the
same on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from lib.access.masking import mask_contacts, masked_line
from lib.errors import ConfigError
from lib.notify.config import EMAIL, NotifyConfig
from lib.notify.model import EVENTS, Attachment, Event
from lib.records.database import READ_ONLY, create_tables

metadata = sa.MetaData()
STATUSES = ("pending", "sending", "sent", "failed")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_TIME = sa.String(32)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("recipients", sa.Text),  # JSON list, e-mail rows with explicit recipients only
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.Text, nullable=False),  # the app page's path; base_url added on send
    sa.Column("dedupe", sa.String(191)),  # 191: fits a utf8mb4 unique index on MariaDB
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", _TIME, nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_until", _TIME),
    sa.Column("last_error", sa.Text),  # one masked line
    sa.Column("sent_at", _TIME),
    sa.UniqueConstraint("channel", "dedupe", name="uq_outbox_channel_dedupe"),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
)

outbox_attachments = sa.Table(
    "outbox_attachments",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("outbox_id", _ID, nullable=False, index=True),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("mime", sa.String(100), nullable=False),
    # MariaDB's BLOB holds 64 KB: a report's PDF needs LONGBLOB.
    sa.Column(
        "content",
        sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"),
        nullable=False,
    ),
)

BATCH = 20  # rows claimed per outbox per tick


def at(moment: datetime) -> str:
    """A time as the outbox stores it."""
    if moment.tzinfo is None:
        raise ValueError("outbox times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_at(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def ensure(engine: sa.Engine) -> None:
    """Create the outbox tables if missing; another process creating them meanwhile is fine."""
    create_tables(metadata, engine)


# --- writing -----------------------------------------------------------------------------------


def enqueue(
    conn: sa.Connection,
    event: Event,
    config: NotifyConfig | None,
    *,
    channel: str | None = None,
    recipients: Iterable[str] = (),
    attachments: Sequence[Attachment] = (),
) -> list[int]:
    """Write `event` as one row per channel it is routed to (or to `channel` alone, e.g.
    EMAIL with `recipients`), in `conn`'s transaction; the new rows' ids.

    Nothing when there is no config or the event is not routed. A row whose (channel,
    dedupe) is already there is not written again. Attachments go with e-mail rows only.
    Subject and body are masked once more (contact details), so a slip upstream does not
    reach a chat."""
    if event.kind not in EVENTS:
        raise ValueError(f"unknown event kind {event.kind!r}")
    if config is None:
        return []
    to = [r.strip() for r in recipients if r and r.strip()]
    if channel is None:
        names = config.channels_for(event.kind)
    elif channel == EMAIL or channel in config.channels:
        names = (channel,)
    else:
        raise ConfigError(f"No notification channel named '{channel}'")
    if channel == EMAIL and not to:
        raise ValueError("e-mail to given recipients needs at least one recipient")
    stamp = at(datetime.now(UTC))
    ids: list[int] = []
    for name in names:
        if event.dedupe is not None and _exists(conn, name, event.dedupe):
            continue
        is_email = name == EMAIL or config.channels[name].kind == "email"
        values = {
            "created_at": stamp,
            "event": event.kind,
            "channel": name,
            "recipients": json.dumps(to) if to and is_email else None,
            "subject": masked_line(event.subject, 250),
            "body": str(mask_contacts(event.text or "")),
            "link": event.path or "",
            "dedupe": event.dedupe,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": stamp,
        }
        outbox_id = _insert(conn, values)
        if outbox_id is None:
            continue
        if is_email and attachments:  # outbox_attachments' columns are Attachment's fields
            files = [{"outbox_id": outbox_id, **asdict(a)} for a in attachments]
            conn.execute(sa.insert(outbox_attachments), files)
        ids.append(outbox_id)
    return ids


def _exists(conn: sa.Connection, channel: str, dedupe: str) -> bool:
    found = conn.execute(
        sa.select(outbox.c.id).where(outbox.c.channel == channel, outbox.c.dedupe == dedupe)
    ).first()
    return found is not None


def _insert(conn: sa.Connection, values: dict[str, Any]) -> int | None:
    if values["dedupe"] is None:
        return int(conn.execute(sa.insert(outbox).values(**values)).inserted_primary_key[0])
    # Another transaction may write the same key between the look and the insert: a savepoint
    # keeps the caller's transaction usable when the UNIQUE constraint refuses it.
    try:
        with conn.begin_nested():
            result = conn.execute(sa.insert(outbox).values(**values))
    except sa.exc.IntegrityError:
        return None
    return int(result.inserted_primary_key[0])


# --- delivering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A row leased to one worker, with what its message needs."""

    id: int
    created_at: str
    event: str
    channel: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    link: str
    attempts: int  # including this one
    attachments: tuple[Attachment, ...]


def _due(now: str) -> Any:
    c = outbox.c
    return sa.or_(
        sa.and_(c.status == "pending", c.next_attempt_at <= now),
        sa.and_(c.status == "sending", c.claimed_until < now),
    )


def claim(
    engine: sa.Engine,
    worker_id: str,
    config: NotifyConfig,
    now: datetime | None = None,
    *,
    limit: int = BATCH,
    skip: Collection[int] = (),
) -> list[Claimed]:
    """Lease up to `limit` due rows (not in `skip`) to `worker_id` for config.lease_s, oldest
    first; each claim a conditional UPDATE of its own, so a row another worker took
    meanwhile is skipped (and the next due one tried). Counts the attempt (a worker dying
    mid-send used one). Send a row soon after claiming it, renewing the lease (`renew`)
    while the send runs: a lease that runs out lets another worker send it too."""
    moment = _now(now)
    now_s, until = at(moment), at(moment + timedelta(seconds=config.lease_s))
    due = _due(now_s)
    if skip:
        due = sa.and_(due, outbox.c.id.not_in(list(skip)))
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY: True})
        with conn.begin():
            # A few more than asked: rows another worker takes meanwhile are passed over.
            ids = conn.scalars(
                sa.select(outbox.c.id).where(due).order_by(outbox.c.id).limit(limit + 4)
            ).all()
    claimed: list[Claimed] = []
    for outbox_id in ids:
        if len(claimed) >= limit:
            break
        with engine.begin() as conn:
            taken = conn.execute(
                sa.update(outbox)
                .where(outbox.c.id == outbox_id, _due(now_s))
                .values(
                    status="sending",
                    claimed_by=worker_id,
                    claimed_until=until,
                    attempts=outbox.c.attempts + 1,
                )
            ).rowcount
            if taken != 1:
                continue
            row = conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).one()
            files = conn.execute(
                sa.select(
                    outbox_attachments.c.filename,
                    outbox_attachments.c.mime,
                    outbox_attachments.c.content,
                )
                .where(outbox_attachments.c.outbox_id == outbox_id)
                .order_by(outbox_attachments.c.id)
            ).all()
        claimed.append(
            Claimed(
                id=int(row.id),
                created_at=row.created_at,
                event=row.event,
                channel=row.channel,
                recipients=tuple(json.loads(row.recipients)) if row.recipients else (),
                subject=row.subject,
                body=row.body,
                link=row.link,
                attempts=int(row.attempts),
                attachments=tuple(Attachment(f.filename, f.mime, bytes(f.content)) for f in files),
            )
        )
    return claimed


def _mine(outbox_id: int, worker_id: str) -> Any:
    c = outbox.c
    return sa.and_(c.id == outbox_id, c.status == "sending", c.claimed_by == worker_id)


def renew(
    engine: sa.Engine,
    outbox_id: int,
    worker_id: str,
    config: NotifyConfig,
    now: datetime | None = None,
) -> bool:
    """Extend `worker_id`'s lease on a row it is sending to now + lease_s; False if the row is
    not its own any more (sent, or taken over by another worker)."""
    until = at(_now(now) + timedelta(seconds=config.lease_s))
    with engine.begin() as conn:
        changed = conn.execute(
            sa.update(outbox).where(_mine(outbox_id, worker_id)).values(claimed_until=until)
        )
    return changed.rowcount == 1


def mark_sent(
    engine: sa.Engine, outbox_id: int, worker_id: str, now: datetime | None = None
) -> bool:
    """The receiver took the message. False if the lease had gone to another worker."""
    with engine.begin() as conn:
        return (
            conn.execute(
                sa.update(outbox)
                .where(_mine(outbox_id, worker_id))
                .values(status="sent", sent_at=at(_now(now)), claimed_until=None, last_error=None)
            ).rowcount
            == 1
        )


def mark_retry(
    engine: sa.Engine,
    outbox_id: int,
    worker_id: str,
    attempts: int,
    error: str,
    config: NotifyConfig,
    now: datetime | None = None,
) -> str:
    """The attempt failed: pending again after the backoff for `attempts`, or failed once
    max_attempts were made. Returns the row's new status ("" if the lease had gone)."""
    moment = _now(now)
    status = "failed" if attempts >= config.max_attempts else "pending"
    later = moment + timedelta(seconds=config.backoff(attempts))
    with engine.begin() as conn:
        changed = conn.execute(
            sa.update(outbox)
            .where(_mine(outbox_id, worker_id))
            .values(
                status=status,
                next_attempt_at=at(later),
                claimed_until=None,
                last_error=masked_line(error),
            )
        ).rowcount
    return status if changed == 1 else ""


def retry(conn: sa.Connection, outbox_id: int, now: datetime | None = None) -> bool:
    """A failed row back to pending, due now, with its attempts counted from zero again,
    inside `conn`'s transaction (the action's, with its audit row: both commit or neither).
    False if there is no such failed row (sent meanwhile, or retried already)."""
    changed = conn.execute(
        sa.update(outbox)
        .where(outbox.c.id == outbox_id, outbox.c.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=at(_now(now)))
    )
    return changed.rowcount == 1


# --- retention ---------------------------------------------------------------------------------


def prune(engine: sa.Engine, keep_days: float, now: datetime | None = None) -> int:
    """Of the rows sent more than `keep_days` ago: delete their attachments and clear their
    recipients and text; the row itself (event, channel, subject, times) stays for the
    Notifications page and the dedupe key. The number of rows cleared."""
    cutoff = at(_now(now) - timedelta(days=keep_days))
    c = outbox.c
    old = sa.and_(c.status == "sent", c.sent_at < cutoff)
    with engine.begin() as conn:
        conn.execute(
            sa.delete(outbox_attachments).where(
                outbox_attachments.c.outbox_id.in_(sa.select(c.id).where(old))
            )
        )
        cleared = conn.execute(
            sa.update(outbox)
            .where(old, sa.or_(c.recipients.is_not(None), c.body != ""))
            .values(recipients=None, body="")
        )
    return int(cleared.rowcount)
