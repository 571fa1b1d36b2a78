"""The outboxes' messages (admins): send a failed one again, and deliver what is due now.

notification.retry: the outbox row goes back to pending, and the delivery worker takes it at
its next poll with a fresh count of attempts. A message is named by its outbox (each
database an event is written in has one: "audit", "shop", "crm") and its id there; the
audit row's target is "<outbox>:<id>".

notification.deliver_now: one round of the process's deliverer (lib.notify.deliver, the one
its jobs thread runs every poll_s) in the caller's request; refused as a conflict while that
thread is in a round. Each message is marked sent by the round itself (rows are claimed, so
once across processes); the audit row that follows says how many were sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import Conflict, ValidationFailed

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


def process_jobs(p: dict[str, Any]) -> Any:
    """The `jobs` parameter: the process's background jobs (lib.jobs.worker.Jobs), which
    hold the deliverer and the scheduler's settings; given by the page, never typed."""
    from lib.jobs.worker import Jobs

    jobs = p.get("jobs")
    if not isinstance(jobs, Jobs):
        raise ValidationFailed("jobs: the app process's background jobs are required")
    return jobs


def _validate_deliver_now(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"jobs"})
    return {"jobs": process_jobs(p)}


BUSY = "A delivery round is running: what is due is being sent; look again in a moment."


def deliver_now(call: Call, jobs: Any) -> Result:
    """Send what is due in every outbox now, unless the process is already in a round."""
    sent = _round(jobs.deliverer)
    if sent is None:
        raise Conflict(BUSY)
    call.audit("ok", {"sent": sent})
    noun = "message" if sent == 1 else "messages"
    return call.result("ok", f"Delivered {sent} {noun} now.", sent=sent)


def _round(deliverer: Any) -> int | None:
    """One delivery round without waiting for one in progress: the messages sent, or None
    when a round was running."""
    from lib.notify.deliver import RoundRunning

    try:
        return int(deliverer.tick(blocking=False))
    except RoundRunning:
        return None


ACTIONS = (
    Action(
        "notification.retry",
        "notification",
        _validate,
        retry,
        "Send a failed notification again (back to pending, attempts from zero)",
    ),
    Action(
        "notification.deliver_now",
        "notification",
        _validate_deliver_now,
        deliver_now,
        "Deliver the messages that are due now, instead of at the next poll",
    ),
)
