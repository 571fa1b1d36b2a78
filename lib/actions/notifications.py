"""Sending a failed notification again (admins): its outbox row goes back to pending, and
the delivery worker takes it at its next poll with a fresh count of attempts.

A message is named by its outbox (each database an event is written in has one: "audit",
"shop", "crm") and its id there; the audit row's target is "<outbox>:<id>".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import Conflict

OUTBOXES = ("audit", "shop", "crm")


def _validate(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"outbox", "message_id"})
    return {
        "outbox": v.choice(p, "outbox", OUTBOXES),
        "message_id": v.integer(p, "message_id", minimum=1),
    }


def _engine(call: Call, outbox: str) -> sa.Engine:
    """The database holding that outbox, as this action context knows it."""
    return call.ctx.audit.db if outbox == "audit" else call.ctx.db(outbox)


@contextmanager
def _transaction(call: Call, outbox: str) -> Iterator[tuple[sa.Connection, Callable[..., Any]]]:
    """The outbox's database in a write transaction and the way to record the audit row in
    it: the audit store's own transaction for the audit outbox, else Call.transaction."""
    if outbox == "audit":
        audit = call.ctx.audit
        with audit.begin() as conn:
            yield conn, lambda outcome, detail: audit.record(conn, call.entry(outcome, detail))
        return
    with call.transaction(outbox) as tx:
        yield tx.conn, tx.audit


def retry(call: Call, outbox: str, message_id: int) -> Result:
    """The row back to pending and its audit row in one transaction: if either fails, the
    message stays failed."""
    from lib.notify import outbox as outbox_rows

    call.target(f"{outbox}:{message_id}")
    outbox_rows.ensure(_engine(call, outbox))
    with _transaction(call, outbox) as (conn, audit):
        if not outbox_rows.retry(conn, message_id):
            raise Conflict(f"Message {outbox}:{message_id} is not failed: nothing to send again.")
        audit("ok", {"outbox": outbox, "message_id": message_id})
    return call.result("ok", f"Message {outbox}:{message_id} will be sent again shortly.")


ACTIONS = (
    Action(
        "notification.retry",
        "notification",
        _validate,
        retry,
        "Send a failed notification again (back to pending, attempts from zero)",
    ),
)
