"""Order actions: approve, reject, refund (full or partial, through the payment gateway).

State machine: pending -> approved | rejected; approved / partially_refunded -> refunded |
partially_refunded. A refund is reserved against the payment's balance in the same
transaction that records it as requested, so two refunds cannot together exceed it.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import ActionFailed, Conflict, OutcomeUnknown, ValidationFailed
from lib.payments import GatewayError, Payment
from lib.records import now_text, orders, payments, refunds

REFUNDABLE = ("approved", "partially_refunded", "rejected")
HOLDING = ("requested", "unknown")  # refund states that hold their amount


def _order(conn: sa.Connection, order_id: int, lock: bool = False) -> Any:
    stmt = sa.select(orders).where(orders.c.id == order_id)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


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
            current = _order(tx.conn, order_id)
            if current is None:
                raise ValidationFailed(f"No order {order_id}")
            raise Conflict(
                f"Order {order_id} is already {current.status.replace('_', ' ')}: "
                "another operator got there first."
            )
        tx.audit("ok", {"status": {"before": frm, "after": to}}, reason)
    return call.result("ok", f"Order {order_id} {to}.", status=to)


# --- approve --------------------------------------------------------------------------------


def _validate_approve(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id"})
    return {"order_id": v.integer(p, "order_id", minimum=1)}


def approve(call: Call, order_id: int) -> Result:
    return _transition(call, order_id, "pending", "approved", None)


# --- reject ---------------------------------------------------------------------------------


def _validate_reject(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id", "reason"})
    return {
        "order_id": v.integer(p, "order_id", minimum=1),
        "reason": v.reason(p, min_len=3),
    }


def reject(call: Call, order_id: int, reason: str) -> Result:
    """Reject a pending order, then return its payment in full through the gateway."""
    result = _transition(call, order_id, "pending", "rejected", reason)
    refund_result = refund(call, order_id, None, f"order rejected: {reason}")
    if refund_result.ok:
        return call.result(
            "ok",
            f"Order {order_id} rejected and its payment canceled.",
            status="rejected",
            balance=refund_result.data.get("balance"),
        )
    return call.result(
        refund_result.outcome,
        f"Order {order_id} rejected, but canceling its payment {refund_result.outcome}: "
        f"{refund_result.message}",
        status=result.data["status"],
    )


# --- refund ---------------------------------------------------------------------------------


def _validate_refund(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id", "amount", "reason"})
    return {
        "order_id": v.integer(p, "order_id", minimum=1),
        "amount": v.integer(p, "amount", minimum=1, required=False),
        "reason": v.reason(p, min_len=3),
    }


def _reserve(
    call: Call, order_id: int, amount: int | None, reason: str
) -> tuple[Any, int, str, int]:
    """Record the refund as requested, holding its amount against the balance."""
    with call.transaction("shop") as tx:
        order = _order(tx.conn, order_id, lock=True)
        if order is None:
            raise ValidationFailed(f"No order {order_id}")
        if order.status not in REFUNDABLE:
            raise Conflict(
                f"Order {order_id} is {order.status.replace('_', ' ')}; "
                "only approved or partially refunded orders can be refunded."
            )
        pay = tx.execute(
            sa.select(payments).where(payments.c.order_id == order_id).with_for_update()
        ).first()
        if pay is None:
            raise ValidationFailed(f"Order {order_id} has no payment")
        holding = tx.execute(
            sa.select(refunds.c.status, refunds.c.amount).where(
                refunds.c.payment_key == pay.payment_key, refunds.c.status.in_(HOLDING)
            )
        ).all()
        if any(r.status == "unknown" for r in holding):
            raise Conflict(
                "A previous refund of this payment has an unknown outcome; "
                "it must be reconciled before another refund."
            )
        available = pay.balance_amount - sum(r.amount for r in holding)
        if available <= 0:
            raise Conflict(f"Nothing left to refund on order {order_id}.")
        amount = available if amount is None else amount
        if amount > available:
            raise ValidationFailed(
                f"amount ₩{amount:,} exceeds the refundable balance ₩{available:,}"
            )
        key = uuid.uuid4().hex
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
            )
        ).inserted_primary_key[0]
        tx.audit(
            "requested",
            {
                "payment_key": pay.payment_key,
                "amount": amount,
                "refund_id": refund_id,
                "balance_before": pay.balance_amount,
                "idempotency_key": key,
            },
            reason,
        )
    return pay, amount, key, refund_id


def _settle(
    call: Call, refund_id: int, status: str, code: str | None, outcome: str, detail: dict[str, Any]
) -> None:
    with call.transaction("shop") as tx:
        tx.execute(
            sa.update(refunds)
            .where(refunds.c.id == refund_id)
            .values(status=status, settled_at=now_text(), gateway_code=code)
        )
        tx.audit(outcome, {"refund_id": refund_id, **detail})


def refund(call: Call, order_id: int, amount: int | None, reason: str) -> Result:
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured.")
    pay, amount, key, refund_id = _reserve(call, order_id, amount, reason)
    gateway = call.ctx.payments
    try:
        payment: Payment | None = gateway.cancel(pay.payment_key, amount, reason, key)
    except GatewayError as exc:
        _settle(call, refund_id, "failed", exc.code, "failed", {"gateway_code": exc.code})
        return call.result("failed", f"The gateway refused the refund: {exc.code}.", code=exc.code)
    except OutcomeUnknown:
        # Same key only: the gateway applies one cancel per key, whatever we retry.
        try:
            payment = gateway.reconcile(pay.payment_key, key, amount, reason=reason)
        except OutcomeUnknown:
            _settle(call, refund_id, "unknown", None, "unknown", {"amount": amount})
            return call.result(
                "unknown",
                "The gateway did not answer; the refund's outcome is unknown and will be "
                "reconciled. Do not refund again.",
            )
        if payment is None:
            _settle(call, refund_id, "failed", "NOT_APPLIED", "failed", {"amount": amount})
            return call.result("failed", "The gateway did not apply the refund.")
    return _apply(call, order_id, refund_id, pay.payment_key, amount, payment, reason)


def _apply(
    call: Call,
    order_id: int,
    refund_id: int,
    payment_key: str,
    amount: int,
    payment: Payment,
    reason: str,
) -> Result:
    """The gateway applied the refund: mirror its balance and move the order's status."""
    with call.transaction("shop") as tx:
        balance_before = tx.execute(
            sa.select(payments.c.balance_amount).where(payments.c.payment_key == payment_key)
        ).scalar_one()
        tx.execute(
            sa.update(refunds)
            .where(refunds.c.id == refund_id)
            .values(status="done", settled_at=now_text())
        )
        tx.execute(
            sa.update(payments)
            .where(payments.c.payment_key == payment_key)
            .values(balance_amount=payment.balance_amount, status=payment.status)
        )
        order = _order(tx.conn, order_id)
        new_status = order.status
        if order.status != "rejected":
            new_status = "refunded" if payment.balance_amount == 0 else "partially_refunded"
            tx.execute(
                sa.update(orders)
                .where(orders.c.id == order_id)
                .values(status=new_status, updated_at=now_text())
            )
        tx.audit(
            "ok",
            {
                "refund_id": refund_id,
                "amount": amount,
                "balance": {"before": balance_before, "after": payment.balance_amount},
                "status": {"before": order.status, "after": new_status},
            },
            reason,
        )
    return call.result(
        "ok",
        f"Refunded ₩{amount:,} on order {order_id}; balance ₩{payment.balance_amount:,}.",
        amount=amount,
        balance=payment.balance_amount,
        status=new_status,
    )


# --- reconcile ------------------------------------------------------------------------------


def _validate_reconcile(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id"})
    return {"order_id": v.integer(p, "order_id", minimum=1)}


def reconcile(call: Call, order_id: int) -> Result:
    """Decide refunds of this order whose outcome is unknown: ask the gateway about the same
    idempotency key (replay, then lookup); never send a cancel under a new key."""
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured.")
    with call.ctx.db("shop").connect() as conn:
        pending = conn.execute(
            sa.select(refunds)
            .where(refunds.c.order_id == order_id, refunds.c.status == "unknown")
            .order_by(refunds.c.id)
        ).all()
    if not pending:
        raise Conflict(f"No refund of order {order_id} has an unknown outcome.")
    result = call.result("ok", "")
    for r in pending:
        try:
            payment = call.ctx.payments.reconcile(
                r.payment_key, r.idempotency_key, r.amount, reason=r.reason
            )
        except OutcomeUnknown as exc:
            raise OutcomeUnknown(
                f"The gateway still gives no answer for order {order_id}; try again later."
            ) from exc
        if payment is None:
            _settle(call, r.id, "failed", "NOT_APPLIED", "failed", {"amount": r.amount})
            result = call.result(
                "ok",
                f"The refund of ₩{r.amount:,} was not applied; the amount is free to refund again.",
                applied=False,
            )
        else:
            result = _apply(call, order_id, r.id, r.payment_key, r.amount, payment, r.reason)
    return result


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
