"""The outboxes' messages (admins): send a failed one again, and deliver what is due now.

notification.retry: the outbox row goes back to pending, and the delivery worker takes it at
its next poll with a fresh count of attempts. A message is named by its outbox (each
database an event is written in has one: "audit", "shop", "crm") and its id there; the
audit row's target is "<outbox>:<id>".

notification.deliver_now (no parameters): one round of the process's deliverer
(lib.notify.deliver, the one its jobs thread runs every poll_s: process_jobs) in the
caller's request; refused as a conflict while that thread is in a round. Each message is
marked sent by the round itself (rows are claimed, so once across processes); the audit row
that follows says how many were sent and how many failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.actions.context import ActionContext
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


def process_jobs(ctx: ActionContext) -> Any:
    """The process's background jobs (lib.jobs.worker.Jobs: the deliverer, the scheduler's
    settings) a round now runs with: the context's, else the app's, the one its jobs thread
    runs (worker.for_process over lib.config.runtime's settings and engine), so a page, a
    script and a test all act on that process's own and never on one a caller passes."""
    if ctx.jobs is not None:
        return ctx.jobs
    from lib.config import runtime
    from lib.jobs import worker

    return worker.for_process(runtime.settings(), runtime.engine())


def no_parameters(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, ())
    return {}


BUSY = "A delivery round is running: what is due is being sent; look again in a moment."


def deliver_now(call: Call) -> Result:
    """Send what is due in every outbox now, unless the process is already in a round."""
    done = _round(process_jobs(call.ctx).deliverer)
    if done is None:
        raise Conflict(BUSY)
    call.audit("ok", {"sent": done.sent, "failed": done.failed})
    noun = "message" if done.sent == 1 else "messages"
    message = f"Delivered {done.sent} {noun} now"
    if done.failed:
        message += f"; {done.failed} failed and will be retried"
    return call.result("ok", message + ".", sent=done.sent, failed=done.failed)


def _round(deliverer: Any) -> Any:
    """One delivery round without waiting for one in progress (lib.notify.deliver.Round:
    sent, failed), or None when a round was running."""
    from lib.notify.deliver import RoundRunning

    try:
        return deliverer.round(blocking=False)
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
        no_parameters,
        deliver_now,
        "Deliver the messages that are due now, instead of at the next poll",
    ),
)
