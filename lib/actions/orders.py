"""Order actions: approve, reject, refund (full or partial, through the payment gateway),
reconcile.

State machine: pending -> approved | rejected; approved / partially_refunded -> refunded |
partially_refunded. A refund is reserved against the payment's balance in the same
transaction that records it as requested, so two refunds cannot together exceed it.

An order and its payment stay in agreement whatever the gateway does:

- Everything the gateway would refuse that we can know (the reason's length, no gateway
  configured, nothing left to cancel) is checked before anything changes.
- A reject moves the order from pending to rejected and records the cancel of the whole
  balance as requested in one transaction, then calls the gateway. So from that moment the
  order is `rejected` (no one can approve it meanwhile) and its refund row says whether the
  money went back:
  - applied: the payment mirrors the gateway (CANCELED, balance 0);
  - refused, or never sent: in one transaction the refund is `failed` and the order is
    `pending` again; the user is told it was not rejected;
  - unknown (timeout, 5xx, a connection lost mid-call): the refund is `unknown` and the order
    stays `rejected` while it is: no new refund of the payment is accepted, and the Orders
    page offers Reconcile. order.reconcile then settles it: applied as above, not applied
    back to `pending`. A rejected order stands only with its payment canceled.
- A refund settles the same way, without the order's move. A refund left `requested` (the
  process died between reserving and settling) is decided by order.reconcile too.
- A refund is settled once: settling is a conditional update of a still-held refund, so a
  request and a reconcile racing it cannot both apply it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, NoReturn

import sqlalchemy as sa

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result, Tx
from lib.actions.context import current as current_context
from lib.errors import ActionFailed, Conflict, OutcomeUnknown, ValidationFailed
from lib.payments import MAX_CANCEL_REASON, GatewayError, Payment
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
            _refuse_transition(tx.conn, order_id)
        tx.audit("ok", {"status": {"before": frm, "after": to}}, reason)
    return call.result("ok", f"Order {order_id} {to}.", status=to)


def _refuse_transition(conn: sa.Connection, order_id: int) -> NoReturn:
    """Why a conditional move out of pending changed nothing."""
    current = _order(conn, order_id)
    if current is None:
        raise ValidationFailed(f"No order {order_id}")
    raise Conflict(
        f"Order {order_id} is already {current.status.replace('_', ' ')}: "
        "another operator got there first."
    )


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
MAX_REJECT_REASON = MAX_CANCEL_REASON - len(REJECT_CANCEL_REASON.format(reason=""))
MAX_REFUND_REASON = MAX_CANCEL_REASON


def _validate_reject(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id", "reason"})
    return {
        "order_id": v.integer(p, "order_id", minimum=1),
        "reason": v.reason(p, min_len=3, max_len=MAX_REJECT_REASON),
    }


def reject(call: Call, order_id: int, reason: str) -> Result:
    """Reject a pending order and cancel its payment in full through the gateway, so that the
    order and its payment agree whatever the gateway does (see the module's docstring)."""
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured; the order was not rejected.")
    cancel_reason = REJECT_CANCEL_REASON.format(reason=reason)
    reserved = _reserve(call, order_id, None, cancel_reason, reject_reason=reason)
    if reserved is None:  # no payment, or nothing left on it: nothing to cancel
        return call.result("ok", f"Order {order_id} rejected.", status="rejected")
    return _cancel(call, reserved)


# --- refund ---------------------------------------------------------------------------------


def _validate_refund(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id", "amount", "reason"})
    return {
        "order_id": v.integer(p, "order_id", minimum=1),
        "amount": v.integer(p, "amount", minimum=1, required=False),
        "reason": v.reason(p, min_len=3, max_len=MAX_REFUND_REASON),
    }


@dataclass(frozen=True)
class Reserved:
    """A refund recorded as requested, its amount held against the payment's balance."""

    refund_id: int
    order_id: int
    payment_key: str
    amount: int
    idempotency_key: str
    reason: str  # the cancelReason sent to the gateway
    rejecting: bool  # recorded with the order's move from pending to rejected


def _reserve(
    call: Call,
    order_id: int,
    amount: int | None,
    reason: str,
    *,
    reject_reason: str | None = None,
) -> Reserved | None:
    """Record the refund as requested, holding its amount against the balance, in one
    transaction. With `reject_reason`, the same transaction moves the order from pending
    to rejected and the refund is the whole balance (None if there is nothing to cancel)."""
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
                _refuse_transition(tx.conn, order_id)
        else:
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
            return None
        if pay is None:
            raise ValidationFailed(f"Order {order_id} has no payment")
        if any(r.status == "unknown" for r in holding):
            raise Conflict(
                "A previous refund of this payment has an unknown outcome; "
                "it must be reconciled before another refund."
            )
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
        detail: dict[str, Any] = {
            "payment_key": pay.payment_key,
            "amount": amount,
            "refund_id": refund_id,
            "balance_before": pay.balance_amount,
            "idempotency_key": key,
        }
        if rejecting:
            detail["status"] = {"before": "pending", "after": "rejected"}
        tx.audit("requested", detail, reject_reason if rejecting else reason)
    return Reserved(refund_id, order_id, pay.payment_key, amount, key, reason, rejecting)


def refund(call: Call, order_id: int, amount: int | None, reason: str) -> Result:
    call.target(order_id)
    if call.ctx.payments is None:
        raise ActionFailed("No payment gateway is configured.")
    reserved = _reserve(call, order_id, amount, reason)
    assert reserved is not None  # only a reject finds nothing to cancel
    return _cancel(call, reserved)


def _cancel(call: Call, r: Reserved) -> Result:
    """Send the reserved refund to the gateway and record what became of it: applied,
    not applied (a refusal, or no attempt ever sent), or unknown."""
    gateway = call.ctx.payments
    assert gateway is not None  # checked before anything was reserved
    try:
        payment: Payment | None = gateway.cancel(
            r.payment_key, r.amount, r.reason, r.idempotency_key
        )
    except GatewayError as exc:  # refused, or never sent: nothing happened
        status = _not_applied(call, r, exc.code)
        if r.rejecting:
            message = (
                f"Order {r.order_id} was not rejected: the gateway did not cancel its payment "
                f"({exc.code}). It is still pending."
            )
        else:
            message = f"The gateway refused the refund: {exc.code}."
        return call.result("failed", message, code=exc.code, status=status)
    except OutcomeUnknown:
        # Same key only: the gateway applies one cancel per key, whatever we retry.
        try:
            payment = gateway.reconcile(r.payment_key, r.idempotency_key, r.amount, reason=r.reason)
        except OutcomeUnknown:
            _settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
            return call.result("unknown", _unknown_message(r), status=_order_status(call, r))
        if payment is None:
            status = _not_applied(call, r, "NOT_APPLIED")
            return call.result("failed", _not_applied_message(r, status), status=status)
    return _apply(call, r, payment)


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


def _not_applied_message(r: Reserved, status: str) -> str:
    if status == "pending":
        return (
            f"The gateway did not cancel the payment of order {r.order_id}; "
            "the order is pending again."
        )
    return f"The gateway did not apply the refund of ₩{r.amount:,}; the amount is free again."


def _order_status(call: Call, r: Reserved) -> str:
    with call.ctx.db("shop").connect() as conn:
        return str(_order(conn, r.order_id).status)


def _claim(tx: Tx, refund_id: int, status: str, code: str | None) -> None:
    """Settle a refund still held (requested or unknown), once: whoever settles it first
    (the request itself, or a reconcile racing it) wins; the other gets a Conflict."""
    changed = tx.execute(
        sa.update(refunds)
        .where(refunds.c.id == refund_id, refunds.c.status.in_(HOLDING))
        .values(status=status, settled_at=now_text(), gateway_code=code)
    ).rowcount
    if changed != 1:
        raise Conflict(f"Refund {refund_id} was already settled by another request.")


def _settle(
    call: Call, refund_id: int, status: str, code: str | None, outcome: str, detail: dict[str, Any]
) -> None:
    with call.transaction("shop") as tx:
        _claim(tx, refund_id, status, code)
        tx.audit(outcome, {"refund_id": refund_id, **detail})


def _not_applied(call: Call, r: Reserved, code: str) -> str:
    """The gateway did not apply the refund: free its amount and, if it was a reject's cancel
    of the whole balance, move the order back to pending (a rejected order stands only with
    its payment canceled). Returns the order's status after."""
    with call.transaction("shop") as tx:
        _claim(tx, r.refund_id, "failed", code)
        order = _order(tx.conn, r.order_id)
        pay = tx.execute(
            sa.select(payments.c.balance_amount, payments.c.status).where(
                payments.c.payment_key == r.payment_key
            )
        ).one()
        status = order.status
        # A reject's cancel of a still fully paid payment: the order goes back to pending.
        paid = pay.status == "DONE" and r.amount >= pay.balance_amount
        if r.rejecting and order.status == "rejected" and paid:
            tx.execute(
                sa.update(orders)
                .where(orders.c.id == r.order_id, orders.c.status == "rejected")
                .values(status="pending", updated_at=now_text())
            )
            status = "pending"
        detail: dict[str, Any] = {
            "refund_id": r.refund_id,
            "amount": r.amount,
            "gateway_code": code,
        }
        if status != order.status:
            detail["status"] = {"before": order.status, "after": status}
        tx.audit("failed", detail)
    return status


def _apply(call: Call, r: Reserved, payment: Payment) -> Result:
    """The gateway applied the refund: mirror its balance and move the order's status."""
    with call.transaction("shop") as tx:
        _claim(tx, r.refund_id, "done", None)
        balance_before = tx.execute(
            sa.select(payments.c.balance_amount).where(payments.c.payment_key == r.payment_key)
        ).scalar_one()
        tx.execute(
            sa.update(payments)
            .where(payments.c.payment_key == r.payment_key)
            .values(balance_amount=payment.balance_amount, status=payment.status)
        )
        order = _order(tx.conn, r.order_id)
        new_status = order.status
        if order.status != "rejected":
            new_status = "refunded" if payment.balance_amount == 0 else "partially_refunded"
            tx.execute(
                sa.update(orders)
                .where(orders.c.id == r.order_id)
                .values(status=new_status, updated_at=now_text())
            )
        tx.audit(
            "ok",
            {
                "refund_id": r.refund_id,
                "amount": r.amount,
                "balance": {"before": balance_before, "after": payment.balance_amount},
                "status": {"before": order.status, "after": new_status},
            },
            r.reason,
        )
    if order.status == "rejected":
        message = f"Order {r.order_id} rejected and its payment canceled."
    else:
        message = (
            f"Refunded ₩{r.amount:,} on order {r.order_id}; balance ₩{payment.balance_amount:,}."
        )
    return call.result(
        "ok", message, amount=r.amount, balance=payment.balance_amount, status=new_status
    )


# --- reconcile ------------------------------------------------------------------------------


def _validate_reconcile(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"order_id"})
    return {"order_id": v.integer(p, "order_id", minimum=1)}


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
            .where(refunds.c.order_id.in_(ids), refunds.c.status.in_(HOLDING))
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
            .where(refunds.c.order_id == order_id, refunds.c.status.in_(HOLDING))
            .order_by(refunds.c.id)
        ).all()
    if not held:
        raise Conflict(f"No refund of order {order_id} is waiting to be reconciled.")
    with call.ctx.db("shop").connect() as conn:
        rejecting = _order(conn, order_id).status == "rejected"
    result: Result | None = None
    still_unknown = 0
    for row in held:
        r = Reserved(
            row.id,
            order_id,
            row.payment_key,
            row.amount,
            row.idempotency_key,
            row.reason,
            rejecting,
        )
        try:
            payment = call.ctx.payments.reconcile(
                r.payment_key, r.idempotency_key, r.amount, reason=r.reason
            )
        except OutcomeUnknown:
            still_unknown += 1
            if row.status == "requested":
                # Its request is gone and the gateway will not say: hold it as unknown, so no
                # new refund of this payment starts before it is decided.
                with suppress(Conflict):
                    _settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
            continue
        try:
            if payment is None:
                status = _not_applied(call, r, "NOT_APPLIED")
                result = call.result(
                    "ok",
                    _not_applied_message(r, status),
                    applied=False,
                    status=status,
                )
            else:
                result = _apply(call, r, payment)
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
