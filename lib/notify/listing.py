"""What the outboxes hold, newest first, for the admin's Notifications page.

    recent(outboxes_for(settings), status="failed")   # DataFrame, one row a message

The recipients a scheduled report's row carries are shown masked; a channel's configured
recipients are not stored in the row (its `to` says the channel).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa

from lib.access.masking import mask, masked_line
from lib.notify.outbox import STATUSES, outbox, parse_at
from lib.records.database import READ_ONLY

COLUMNS = (
    "created",
    "where",
    "id",
    "event",
    "channel",
    "to",
    "subject",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "sent_at",
)


def _to(channel: str, recipients: str | None) -> str:
    if not recipients:
        return channel
    return ", ".join(str(mask("email", r)) for r in json.loads(recipients))


def recent(
    outboxes: Mapping[str, sa.Engine], status: str | None = None, limit: int = 200
) -> pd.DataFrame:
    """The newest `limit` messages of all outboxes together (optionally of one status).

    `where` is the outbox ("audit", "shop", "crm"): with `id` it names the row to retry.
    An outbox whose database cannot be read is left out, its one-line reason in
    frame.attrs["unavailable"] ({where: reason})."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    c = outbox.c
    stmt = sa.select(outbox).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(c.status == status)
    rows: list[dict] = []
    unavailable: dict[str, str] = {}
    for where, engine in outboxes.items():
        try:
            rows += _rows(where, engine, stmt)
        except sa.exc.SQLAlchemyError as exc:
            unavailable[where] = masked_line(exc, 200)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if not frame.empty:
        frame = frame.sort_values(["created", "id"], ascending=False).head(limit)
        for column in ("created", "next_attempt_at", "sent_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame = frame.reset_index(drop=True)
    frame.attrs["unavailable"] = unavailable
    return frame


def _rows(where: str, engine: sa.Engine, stmt: sa.Select) -> list[dict]:
    rows: list[dict] = []
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        for r in conn.execute(stmt):
            rows.append(
                {
                    "created": parse_at(r.created_at),
                    "where": where,
                    "id": int(r.id),
                    "event": r.event,
                    "channel": r.channel,
                    "to": _to(r.channel, r.recipients),
                    "subject": r.subject,
                    "status": r.status,
                    "attempts": int(r.attempts),
                    "last_error": r.last_error,
                    "next_attempt_at": parse_at(r.next_attempt_at)
                    if r.status == "pending"
                    else None,
                    "sent_at": parse_at(r.sent_at),
                }
            )
        conn.rollback()
    return rows
