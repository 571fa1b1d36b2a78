"""Order actions: approve, reject, refund (full or partial, through the payment gateway),
reconcile. A reject's cancel and a refund are reserved and sent by lib.actions.refunds and
settled in lib.actions.refund_ledger; the rules below are the order's.

State machine: pending -> approved | rejected; approved / partially_refunded -> refunded |
partially_refunded. A refund is reserved against the payment's balance in the same
transaction that records it as requested, so two refunds cannot together exceed it. A rejected
order's payment is canceled in full by the reject, so it has nothing left to refund; only an
order rejected before rejects canceled the payment (its money still held) may be refunded,
and it stays rejected.

One refund of a payment at a time: while one is held (requested or unknown) a new one is
refused. The gateway takes no second cancel of a payment while one is under way (Toss refuses
two within a second), and a refund whose outcome is unknown is found among the payment's
cancels by its place: it can only be one of those after `cancels_before`, the count the
gateway held when it was reserved, so an older cancel of the same amount and reason is never
taken for it. That count is the gateway's answer to the previous refund of the payment, 0 for
a payment the shop shows untouched, else read from the gateway before the cancel is sent.

An order and its payment stay in agreement whatever the gateway does:

- Everything the gateway would refuse that we can know (the reason's length, no gateway
  configured, nothing left to cancel) is checked before anything changes.
- A reject moves the order from pending to rejected and records the cancel of the whole
  balance as requested (marked as the reject's own) in one transaction, then calls the
  gateway. So from that moment the
  order is `rejected` (no one can approve it meanwhile) and its refund row says whether the
  money went back:
  - applied: the payment mirrors the gateway (CANCELED, balance 0);
  - refused, or never sent: in one transaction the refund is `failed` and the order is
    `pending` again, its payment untouched by the reject; the user is told it was not
    rejected;
  - unknown (timeout, 5xx, a connection lost mid-call): the refund is `unknown` and the order
    stays `rejected` while it is: no new refund of the payment is accepted, and the Orders
    page offers Reconcile. order.reconcile then settles it: applied as above, not applied
    back to `pending`. A rejected order stands only with its payment canceled.
- A refund settles the same way, without the order's move. A refund left `requested` (the
  process died between reserving and settling) is decided by order.reconcile too.
- A refund is settled once: settling is a conditional update of a still-held refund, so a
  request and a reconcile racing it cannot both apply it.
- The shop's copy of a payment can be behind the gateway (a cancel made in the gateway's
  console, a deposit paid in since). A refusal that says so (ALREADY_CANCELED_PAYMENT,
  NOT_CANCELABLE_AMOUNT) or a reconcile's "not applied" copies the payment's balance and
  status from a fresh lookup, and a reject whose payment is in fact canceled stands. Whether a
  virtual-account cancel needs the refund account is decided on the gateway's status, read
  just before.
- Applied at the gateway is never reported as "nothing changed": an answer the shop cannot
  record leaves the refund unknown, for order.reconcile.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lib.actions import refund_ledger
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.actions.context import current as current_context
from lib.actions.refunds import (
    cancel,
    not_applied_message,
    reserve,
    status_at_gateway,
    with_cancel_count,
)
from lib.errors import ActionFailed, Conflict, OutcomeUnknown, ValidationFailed
from lib.payments.gateway import MAX_CANCEL_REASON, GatewayError
from lib.payments.refund_account import RefundAccount
from lib.payments.refund_account import appears_in as account_in
from lib.payments.refund_account import parse as parse_refund_account
from lib.records.schema import now_text, orders, refunds

# `rejected` only while money is left on the payment (rejected before rejects canceled it).
REFUNDABLE = ("approved", "partially_refunded", "rejected")
MIN_REASON = 3  # of a reject or a refund; the Orders page states it from here


def _transition(call: Call, order_id: int, frm: str, to: str, reason: str | None) -> Result:
    """pending -> `to`, as a conditional update: of two operators, exactly one wins."""
    call.target(order_id)
    with call.transaction("shop") as tx:
        changed = tx.execute(
            sa.update(orders)
            .where(orders.c.id == order_id, orders.c.status == frm)
            .values(status=to, updated_at=now_text())
        ).rowcount
        if changed != 1:
            refund_ledger.refuse_transition(tx.conn, order_id)
        tx.audit("ok", {"status": {"before": frm, "after": to}}, reason)
    return call.result("ok", f"Order {order_id} {to}.", status=to)


# --- approve --------------------------------------------------------------------------------


def _validate_approve(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id"})
    return {"order_id": v.integer(p, "order_id", minimum=1)}


def approve(call: Call, order_id: int) -> Result:
    return _transition(call, order_id, "pending", "approved", None)


# --- reject ---------------------------------------------------------------------------------

# What the gateway is told when a reject cancels the payment; the reason must fit in what
# the gateway takes with it (Toss: cancelReason at most MAX_CANCEL_REASON characters).
REJECT_CANCEL_REASON = "order rejected: {reason}"
REJECT_CANCEL_PREFIX = REJECT_CANCEL_REASON.format(reason="")
MAX_REJECT_REASON = MAX_CANCEL_REASON - len(REJECT_CANCEL_PREFIX)
MAX_REFUND_REASON = MAX_CANCEL_REASON


def _validate_reject(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id", "reason", "refund_account"})
    return _without_account_in_reason(
        {
            "order_id": v.integer(p, "order_id", minimum=1),
            "reason": v.reason(p, min_len=MIN_REASON, max_len=MAX_REJECT_REASON),
            "refund_account": parse_refund_account(p.get("refund_account")),
        }
    )


ACCOUNT_IN_REASON = (
    "reason must not contain the refund account's number: give it only as the refund account "
    "(the reason is kept and sent as typed)."
)


def _without_account_in_reason(params: dict[str, Any]) -> dict[str, Any]:
    """The reason is audited, stored on the refund and sent to the gateway as typed: one that
    carries the refund account's number would put it everywhere unmasked. Refused."""
    account = params.get("refund_account")
    if account is not None and account_in(account, params["reason"]):
        raise ValidationFailed(ACCOUNT_IN_REASON)
    return params


def reject(
    call: Call, order_id: int, reason: str, refund_account: RefundAccount | None = None
) -> Result:
    """Reject a pending order and cancel its payment in full through the gateway, so that the
    order and its payment agree whatever the gateway does (see the module's docstring).
    A paid-in virtual-account payment is refunded to `refund_account` (required then)."""
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured; the order was not rejected.")
    cancel_reason = REJECT_CANCEL_REASON.format(reason=reason)
    reserved = reserve(
        call,
        order_id,
        None,
        cancel_reason,
        reject_reason=reason,
        refund_account=refund_account,
        gateway_status=status_at_gateway(call, order_id),
    )
    if reserved is None:  # no payment, or nothing left on it: nothing to cancel
        return call.result("ok", f"Order {order_id} rejected.", status="rejected")
    return cancel(call, reserved)


# --- refund ---------------------------------------------------------------------------------


def _validate_refund(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id", "amount", "reason", "refund_account"})
    return _without_account_in_reason(
        {
            "order_id": v.integer(p, "order_id", minimum=1),
            "amount": v.integer(p, "amount", minimum=1, required=False),
            "reason": v.reason(p, min_len=MIN_REASON, max_len=MAX_REFUND_REASON),
            # {bank, account_number, holder_name}: where a paid-in virtual-account payment is
            # refunded to (lib.payments.refund_account); held in memory for the cancel,
            # audited masked.
            "refund_account": parse_refund_account(p.get("refund_account")),
        }
    )


def refund(
    call: Call,
    order_id: int,
    amount: int | None,
    reason: str,
    refund_account: RefundAccount | None = None,
) -> Result:
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured.")
    reserved = reserve(
        call,
        order_id,
        amount,
        reason,
        refundable=REFUNDABLE,
        refund_account=refund_account,
        gateway_status=status_at_gateway(call, order_id),
    )
    assert reserved is not None  # only a reject finds nothing to cancel
    return cancel(call, reserved)


# --- reconcile ------------------------------------------------------------------------------


def _validate_reconcile(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id"})
    return {"order_id": v.integer(p, "order_id", minimum=1)}


def _epoch(text: str | None) -> float | None:
    """A 'YYYY-MM-DD HH:MM:SS' UTC time of the shop's records (lib.records.schema.now_text),
    as epoch seconds; None if it is not one."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def awaiting_reconcile(order_ids: Collection[int]) -> set[int]:
    """Which of these orders have a refund that order.reconcile would decide: one whose
    outcome is unknown, or one left requested (its request died before it was settled).

    A read of the action layer's own table (created by it on first use, so not a table the
    read side declares): the Orders page asks it which orders to offer Reconcile for.
    """
    ids = [int(i) for i in order_ids]
    if not ids:
        return set()
    with current_context().db("shop").connect() as conn:
        rows = conn.execute(
            sa.select(refunds.c.order_id)
            .where(refunds.c.order_id.in_(ids), refunds.c.status.in_(refund_ledger.HOLDING))
            .distinct()
        ).all()
    return {int(r.order_id) for r in rows}


def reconcile(call: Call, order_id: int) -> Result:
    """Decide this order's refunds still held: unknown ones, and requested ones a crash left
    between reserving and settling. Each is asked about under its own idempotency key
    (replay, then lookup); a cancel is never sent under a new key."""
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured.")
    with call.ctx.db("shop").connect() as conn:
        held = conn.execute(
            sa.select(refunds)
            .where(refunds.c.order_id == order_id, refunds.c.status.in_(refund_ledger.HOLDING))
            .order_by(refunds.c.id)
        ).all()
    if not held:
        raise Conflict(f"No refund of order {order_id} is waiting to be reconciled.")
    with call.ctx.db("shop").connect() as conn:
        order_status = refund_ledger.order_row(conn, order_id).status
    result: Result | None = None
    still_unknown = 0
    for row in held:
        # A row written before the reject mark and the cancel count were kept: a reject's
        # cancel is told by its cancelReason, and its lookup matches any cancel of its amount
        # and reason, as it did then (a count read now could be one after its own cancel).
        legacy = row.rejects_order is None
        rejecting = row.rejects_order
        if legacy:
            rejecting = order_status == "rejected" and row.reason.startswith(REJECT_CANCEL_PREFIX)
        r = refund_ledger.Reserved(
            row.id,
            order_id,
            row.payment_key,
            row.amount,
            row.idempotency_key,
            row.reason,
            bool(rejecting),
            row.cancels_before,
        )
        try:
            if not legacy:
                # Without its count, its cancel was never sent (the count is kept first), so
                # the count read now is the one before it.
                r = with_cancel_count(call, r)
            payment = call.ctx.payments.reconcile(
                r.payment_key,
                r.idempotency_key,
                r.amount,
                r.cancels_before,
                reason=r.reason,
                # Toss forgets a key after 15 days: an older one is decided by lookup only.
                key_sent_at=_epoch(row.requested_at),
            )
        except (OutcomeUnknown, GatewayError):
            still_unknown += 1
            if row.status == "requested":
                # Its request is gone and the gateway will not say: hold it as unknown, so no
                # new refund of this payment starts before it is decided.
                with suppress(Conflict):
                    refund_ledger.settle(
                        call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount}
                    )
            continue
        try:
            if payment is None:
                status = refund_ledger.not_applied(call, r, refund_ledger.NOT_APPLIED)
                result = call.result(
                    "ok",
                    not_applied_message(r, status),
                    applied=False,
                    status=status,
                )
            else:
                result = refund_ledger.apply(call, r, payment)
        except Conflict:
            continue  # settled meanwhile by the request itself
    if still_unknown:
        raise OutcomeUnknown(
            f"The gateway still gives no answer for order {order_id}; try again later."
        )
    return result or call.result("ok", f"The refunds of order {order_id} were already settled.")


ACTIONS = (
    Action("order.approve", "order", _validate_approve, approve, "Approve a pending order"),
    Action(
        "order.reject",
        "order",
        _validate_reject,
        reject,
        "Reject a pending order and cancel its payment",
    ),
    Action(
        "order.reconcile",
        "order",
        _validate_reconcile,
        reconcile,
        "Decide a refund whose outcome the gateway left unknown",
    ),
    Action(
        "order.refund",
        "order",
        _validate_refund,
        refund,
        "Refund all or part of an order's payment",
    ),
)
