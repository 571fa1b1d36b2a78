"""Asking the gateway for a refund: reserve it against the payment's balance (the refund
account rule and the payment's cancel count checked first), then send the cancel under the
refund's own idempotency key and record what became of it (lib.actions.refund_ledger).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from lib.actions.base import Call, Result
from lib.actions.refund_ledger import (
    HOLDING,
    NOT_APPLIED,
    Reserved,
    apply,
    not_applied,
    order_row,
    order_status,
    refuse_transition,
    settle,
    touch_order,
)
from lib.errors import Conflict, OutcomeUnknown, ValidationFailed
from lib.notify import events
from lib.payments.gateway import GatewayError, Payment
from lib.payments.refund_account import REQUIRED as ACCOUNT_REQUIRED
from lib.payments.refund_account import (
    WAITING_FOR_DEPOSIT,
    RefundAccount,
    is_virtual_account,
    needs_account,
)
from lib.records.schema import now_text, orders, payments, refunds


def reserve(
    call: Call,
    order_id: int,
    amount: int | None,
    reason: str,
    *,
    refundable: Collection[str] = (),
    reject_reason: str | None = None,
    refund_account: RefundAccount | None = None,
    gateway_status: str | None = None,
) -> Reserved | None:
    """Record the refund as requested, holding its amount against the balance, in one
    transaction. A refund needs the order in one of `refundable` (the order's rule,
    lib.actions.orders.REFUNDABLE). With `reject_reason`, the same transaction moves the
    order from pending to rejected and the refund is the whole balance (None if there is
    nothing to cancel).
    A paid-in virtual-account payment needs `refund_account`; a card payment refuses one.
    `gateway_status` is the payment's status read from the gateway just before, if known."""
    rejecting = reject_reason is not None
    with call.transaction("shop") as tx:
        if rejecting:
            # A conditional update, first: of an approval and a reject, exactly one wins.
            moved = tx.execute(
                sa.update(orders)
                .where(orders.c.id == order_id, orders.c.status == "pending")
                .values(status="rejected", updated_at=now_text())
            ).rowcount
            if moved != 1:
                refuse_transition(tx.conn, order_id)
        else:
            order = order_row(tx.conn, order_id, lock=True)
            if order is None:
                raise ValidationFailed(f"No order {order_id}")
            if order.status not in refundable:
                raise Conflict(
                    f"Order {order_id} is {order.status.replace('_', ' ')}; only approved or "
                    "partially refunded orders can be refunded (or a rejected one whose "
                    "payment still holds money)."
                )
        pay = tx.execute(
            sa.select(payments).where(payments.c.order_id == order_id).with_for_update()
        ).first()
        holding = []
        if pay is not None:
            holding = tx.execute(
                sa.select(refunds.c.status, refunds.c.amount).where(
                    refunds.c.payment_key == pay.payment_key, refunds.c.status.in_(HOLDING)
                )
            ).all()
        available = 0 if pay is None else pay.balance_amount - sum(r.amount for r in holding)
        if rejecting and available <= 0 and not holding:
            tx.audit("ok", {"status": {"before": "pending", "after": "rejected"}}, reject_reason)
            tx.notify(events.order_rejected(order_id, call.actor.username, None))
            return None
        if pay is None:
            raise ValidationFailed(f"Order {order_id} has no payment")
        if any(r.status == "unknown" for r in holding):
            raise Conflict(
                "A previous refund of this payment has an unknown outcome; "
                "it must be reconciled before another refund."
            )
        if holding:
            raise Conflict(
                f"Another refund of order {order_id} is still being processed; try again once "
                "it is settled (if it stays so, use Reconcile on the order)."
            )
        if available <= 0:
            if not rejecting and order.status == "rejected":
                raise Conflict(
                    f"Order {order_id} is rejected and its payment was canceled in full; "
                    "there is nothing left to refund."
                )
            raise Conflict(f"Nothing left to refund on order {order_id}.")
        amount = available if amount is None else amount
        if amount > available:
            raise ValidationFailed(
                f"amount ₩{amount:,} exceeds the refundable balance ₩{available:,}"
            )
        refund_account = _check_refund_account(pay, amount, refund_account, gateway_status)
        key = uuid.uuid4().hex
        before = _known_cancel_count(tx.conn, pay)
        refund_id = tx.execute(
            sa.insert(refunds).values(
                order_id=order_id,
                payment_key=pay.payment_key,
                amount=amount,
                reason=reason,
                idempotency_key=key,
                status="requested",
                requested_by=call.actor.username,
                requested_at=now_text(),
                cancels_before=before,
                rejects_order=rejecting,
            )
        ).inserted_primary_key[0]
        touch_order(tx, order_id)
        detail: dict[str, Any] = {
            "payment_key": pay.payment_key,
            "amount": amount,
            "refund_id": refund_id,
            "balance_before": pay.balance_amount,
            "idempotency_key": key,
        }
        if rejecting:
            detail["status"] = {"before": "pending", "after": "rejected"}
        if refund_account is not None:
            detail["refund_account"] = refund_account.masked()  # never the raw account
        tx.audit("requested", detail, reject_reason if rejecting else reason)
    return Reserved(
        refund_id,
        order_id,
        pay.payment_key,
        amount,
        key,
        reason,
        rejecting,
        before,
        refund_account,
    )


def _check_refund_account(
    pay: Any, amount: int, account: RefundAccount | None, gateway_status: str | None
) -> RefundAccount | None:
    """Toss's virtual-account rule, before anything is recorded or sent: a paid-in
    virtual-account payment is refunded to the customer's bank account, which the cancel
    must name; before the deposit only the whole amount can be canceled; no other payment
    takes an account (docs.tosspayments.com, guides/apis/cancel-payment). Returns the
    account to send.

    Decided on the gateway's status read just before (`gateway_status`), else the shop's
    copy, which can be behind: the customer may have paid in since it was written. So an
    account given for a virtual-account payment is taken unless the gateway itself says it
    still waits for its deposit (then there is nothing to send it for); the gateway decides."""
    status = gateway_status or pay.status
    virtual = is_virtual_account(pay.method)
    if account is not None and not virtual:
        raise ValidationFailed(
            "refund_account is only for a virtual-account payment that was paid in; "
            "this payment is refunded the way it was paid."
        )
    if account is None and needs_account(pay.method, status):
        raise ValidationFailed(ACCOUNT_REQUIRED)
    if virtual and status == WAITING_FOR_DEPOSIT:
        if amount != pay.amount:
            raise ValidationFailed(
                "A virtual-account payment not yet paid in can only be canceled in full."
            )
        if gateway_status == WAITING_FOR_DEPOSIT:
            return None  # nothing was paid in: the cancel is not refunded to an account
    return account


def status_at_gateway(call: Call, order_id: int) -> str | None:
    """The status of the order's payment as the gateway holds it now, for a virtual-account
    payment: whether its cancel needs the refund account depends on whether the customer has
    paid in, which the shop's copy may not know yet. None for any other payment (nothing to
    ask), and when the gateway cannot say (the shop's copy decides then, leniently)."""
    gateway = call.ctx.payments
    with call.ctx.db("shop").connect() as conn:
        pay = conn.execute(
            sa.select(payments.c.payment_key, payments.c.method).where(
                payments.c.order_id == order_id
            )
        ).first()
    if gateway is None or pay is None or not is_virtual_account(pay.method):
        return None
    try:
        return gateway.get(pay.payment_key).status
    except GatewayError:
        return None


def _known_cancel_count(conn: sa.Connection, pay: Any) -> int | None:
    """How many cancels the gateway holds for this payment, as far as the shop knows without
    asking: the count the gateway answered the payment's last refund with, or 0 for a payment
    the shop shows untouched. None when it does not know (a payment canceled in part before or
    outside the app, or refunded before counts were kept): the gateway is asked then."""
    last_done = conn.execute(
        sa.select(refunds.c.cancels_after)
        .where(refunds.c.payment_key == pay.payment_key, refunds.c.status == "done")
        .order_by(refunds.c.id.desc())
        .limit(1)
    ).first()
    if last_done is not None:
        return last_done.cancels_after
    if pay.status == "DONE" and pay.balance_amount == pay.amount:
        return 0
    return None


def with_cancel_count(call: Call, r: Reserved) -> Reserved:
    """`r` with its `cancels_before`, read from the gateway and kept on the refund row if it
    was not known. Called before the cancel is sent (nothing of this refund can be among the
    cancels yet), and no other refund of the payment can start meanwhile: the count is exact.
    Raises GatewayError if the gateway cannot say (then nothing was sent)."""
    if r.cancels_before is not None:
        return r
    gateway = call.ctx.payments
    assert gateway is not None  # checked before anything was reserved
    count = len(gateway.get(r.payment_key).cancels)
    with call.ctx.db("shop").begin() as conn:
        conn.execute(
            sa.update(refunds)
            .where(refunds.c.id == r.refund_id, refunds.c.cancels_before.is_(None))
            .values(cancels_before=count)
        )
    return replace(r, cancels_before=count)


def cancel(call: Call, r: Reserved) -> Result:
    """Send the reserved refund to the gateway and record what became of it: applied,
    not applied (a refusal, or no attempt ever sent), or unknown."""
    gateway = call.ctx.payments
    assert gateway is not None  # checked before anything was reserved
    try:
        r = with_cancel_count(call, r)
        payment: Payment | None = gateway.cancel(
            r.payment_key,
            r.amount,
            r.reason,
            r.idempotency_key,
            refund_account=r.refund_account,
            before_cancel_count=r.cancels_before,
        )
    except GatewayError as exc:  # refused, or never sent: nothing happened
        status = not_applied(call, r, exc.code)
        if r.rejecting and status == "rejected":
            return call.result("ok", _canceled_before(r), code=exc.code, status=status)
        if r.rejecting:
            message = (
                f"Order {r.order_id} was not rejected: the gateway did not cancel its payment "
                f"({exc.code}). {_it_is(status)}"
            )
        else:
            message = f"The gateway refused the refund: {exc.code}."
        return call.result("failed", message, code=exc.code, status=status)
    except OutcomeUnknown:
        # Same key only: the gateway applies one cancel per key, whatever we retry.
        try:
            payment = gateway.reconcile(
                r.payment_key,
                r.idempotency_key,
                r.amount,
                r.cancels_before,
                reason=r.reason,
            )
        except OutcomeUnknown:
            settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
            return call.result("unknown", _unknown_message(r), status=order_status(call, r))
        if payment is None:
            status = not_applied(call, r, NOT_APPLIED)
            if r.rejecting and status == "rejected":
                return call.result("ok", _canceled_before(r), status=status)
            return call.result("failed", not_applied_message(r, status), status=status)
    return apply(call, r, payment)


def _canceled_before(r: Reserved) -> str:
    return f"Order {r.order_id} rejected; its payment had already been canceled at the gateway."


def _unknown_message(r: Reserved) -> str:
    if r.rejecting:
        return (
            f"Order {r.order_id} is rejected, but the gateway did not say whether its payment "
            "was canceled. Use Reconcile on the order to decide it; do not refund it again."
        )
    return (
        "The gateway did not answer; the refund's outcome is unknown. Use Reconcile on the "
        "order to decide it. Do not refund again."
    )


def _it_is(status: str) -> str:
    """The order's status after a reject that did not happen, as the user is told it."""
    if status == "pending":
        return "It is still pending."
    return f"It is {status.replace('_', ' ')}."


def not_applied_message(r: Reserved, status: str) -> str:
    if r.rejecting and status == "rejected":
        return _canceled_before(r)
    if r.rejecting:
        now = "pending again" if status == "pending" else status.replace("_", " ")
        return f"The gateway did not cancel the payment of order {r.order_id}; the order is {now}."
    return f"The gateway did not apply the refund of ₩{r.amount:,}; the amount is free again."
