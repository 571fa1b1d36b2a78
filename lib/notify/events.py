"""The events the app emits, worded once: ids, amounts, counts and statuses only.

No customer name, e-mail, phone or address is ever put in (an order id leads to the record
on its page, where the reader's own permissions apply); the staff member's username is
passed through lib.access.masking.masked_line in case it is an e-mail address. A reject's
or a refund's reason is left out: it is free text and may name the customer.
"""

from __future__ import annotations

from datetime import timedelta

from lib.access.masking import masked_line
from lib.dates import age_text
from lib.notify.model import Event


def _who(username: str) -> str:
    return masked_line(username, 60)


def _order_path(order_id: int) -> str:
    return f"/orders?q={int(order_id)}"


def _won(amount: int | None) -> str:
    return "" if amount is None else f" (₩{int(amount):,})"


def order_rejected(order_id: int, actor: str, canceled: int | None) -> Event:
    """A reject that stands: the order is rejected and its payment canceled (or had none)."""
    if canceled:
        what = f"its payment of ₩{int(canceled):,} was canceled"
    else:
        what = "it had no payment left to cancel"
    return Event(
        kind="order.rejected",
        subject=f"Order {order_id} rejected",
        text=f"Order {order_id} was rejected by {_who(actor)}; {what}.",
        path=_order_path(order_id),
        facts={"order_id": int(order_id), "amount": canceled},
    )


def refund_failed(
    order_id: int, refund_id: int, amount: int, code: str, rejecting: bool, status: str
) -> Event:
    """The gateway did not apply a refund (or a reject's cancel)."""
    now = status.replace("_", " ")
    if rejecting:
        subject = f"Order {order_id} not rejected: its payment was not canceled"
        text = (
            f"The gateway did not cancel the payment of order {order_id}{_won(amount)} "
            f"({code}); the order is {now} again."
        )
    else:
        subject = f"Refund of ₩{amount:,} on order {order_id} failed"
        text = f"The gateway did not apply refund {refund_id} ({code}); the order is {now}."
    return Event(
        kind="refund.failed",
        subject=subject,
        text=masked_line(text),
        path=_order_path(order_id),
        facts={"order_id": order_id, "refund_id": refund_id, "amount": amount, "code": code},
        dedupe=f"refund.failed:{refund_id}",
    )


def refund_unknown(order_id: int, refund_id: int, amount: int, rejecting: bool) -> Event:
    """The gateway left a refund's outcome unknown: someone must reconcile it."""
    what = "cancel of the rejected order's payment" if rejecting else "refund"
    return Event(
        kind="refund.unknown",
        subject=f"Refund on order {order_id} unknown: reconcile it",
        text=(
            f"The gateway did not say whether the {what}{_won(amount)} on order {order_id} "
            f"(refund {refund_id}) was applied. Open the order and use Reconcile; do not "
            "refund it again."
        ),
        path=_order_path(order_id),
        facts={"order_id": order_id, "refund_id": refund_id, "amount": amount},
        dedupe=f"refund.unknown:{refund_id}",
    )


def import_changed(
    table: str, actor: str, new: int, changed: int, unchanged: int, request_id: str
) -> Event:
    return Event(
        kind="import.changed_rows",
        subject=f"Import into {table}: {new:,} new, {changed:,} changed rows",
        text=(
            f"{_who(actor)} imported rows into {table}: {new:,} new, {changed:,} changed, "
            f"{unchanged:,} unchanged (request {request_id})."
        ),
        path="/spreadsheets",
        facts={"table": table, "new": new, "changed": changed, "unchanged": unchanged},
        dedupe=f"import.changed_rows:{request_id}",
    )


def backlog(pending: int, oldest: timedelta | None, limit: int, hours: float) -> Event:
    waiting = "" if oldest is None else f", the oldest waiting {age_text(oldest)}"
    return Event(
        kind="orders.backlog",
        subject=f"Approval backlog: {pending:,} pending orders{waiting}",
        text=(
            f"{pending:,} orders wait for approval{waiting}. The alert is at more than "
            f"{limit:,} pending, or one pending longer than {hours:g} h; it is sent again "
            "once the backlog has cleared and builds up anew."
        ),
        path="/orders?status=pending",
        facts={"pending": pending, "oldest_s": None if oldest is None else oldest.total_seconds()},
    )


def source_down(name: str, where: str, error: str | None) -> Event:
    return Event(
        kind="source.down",
        subject=f"Source {name} is down",
        text=masked_line(f"The health check of {name} ({where}) fails: {error or 'no answer'}."),
        path="/",
        facts={"source": name},
    )
