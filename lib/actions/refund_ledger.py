"""The shop's record of a refund (lib.records.schema.refunds): held against its payment's
balance while requested or unknown, then settled once, applied or not. Settling a refund also
moves its payment and order to match the gateway (lib.actions.orders says when and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import sqlalchemy as sa

from lib.actions.base import Call, Result, Tx
from lib.errors import Conflict, ValidationFailed
from lib.notify import events
from lib.payments.gateway import GatewayError, Payment
from lib.payments.refund_account import RefundAccount
from lib.records.schema import now_text, orders, payments, refunds

HOLDING = ("requested", "unknown")  # refund states that hold their amount


def order_row(conn: sa.Connection, order_id: int, lock: bool = False) -> Any:
    stmt = sa.select(orders).where(orders.c.id == order_id)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


def refuse_transition(conn: sa.Connection, order_id: int) -> NoReturn:
    """Why a conditional move out of pending changed nothing."""
    current = order_row(conn, order_id)
    if current is None:
        raise ValidationFailed(f"No order {order_id}")
    raise Conflict(
        f"Order {order_id} is already {current.status.replace('_', ' ')}: "
        "another operator got there first."
    )


@dataclass(frozen=True)
class Reserved:
    """A refund recorded as requested, its amount held against the payment's balance."""

    refund_id: int
    order_id: int
    payment_key: str
    amount: int
    idempotency_key: str
    reason: str  # the cancelReason sent to the gateway
    rejecting: bool  # the reject's own cancel, recorded with the order's move to rejected
    cancels_before: int | None  # the payment's cancels at the gateway before this one
    # Where a paid-in virtual-account payment is refunded to: in memory only, never stored
    # (a reconcile has none; the client's memory of the body, or the lookup, decides then).
    refund_account: RefundAccount | None = None


def order_status(call: Call, r: Reserved) -> str:
    with call.ctx.db("shop").connect() as conn:
        return str(order_row(conn, r.order_id).status)


def touch_order(tx: Tx, order_id: Any) -> None:
    """Move the order's updated_at with any write to its refunds or payment: the dashboard's
    snapshots re-read an order's payment and refunds when the order moves (lib.reading.
    snapshots, `follows`), so a refund that leaves the order's status as it was still shows."""
    tx.execute(sa.update(orders).where(orders.c.id == order_id).values(updated_at=now_text()))


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
    touch_order(
        tx, sa.select(refunds.c.order_id).where(refunds.c.id == refund_id).scalar_subquery()
    )


def settle(
    call: Call, refund_id: int, status: str, code: str | None, outcome: str, detail: dict[str, Any]
) -> None:
    with call.transaction("shop") as tx:
        _claim(tx, refund_id, status, code)
        tx.audit(outcome, {"refund_id": refund_id, **detail})
        if status == "unknown":
            held = tx.execute(
                sa.select(refunds.c.order_id, refunds.c.amount, refunds.c.rejects_order).where(
                    refunds.c.id == refund_id
                )
            ).one()
            tx.notify(
                events.refund_unknown(
                    held.order_id, refund_id, held.amount, bool(held.rejects_order)
                )
            )


# What reconcile's "not applied" is recorded as.
NOT_APPLIED = "NOT_APPLIED"
# Refusals that say the shop's copy of the payment is behind the gateway's (it was canceled,
# in part or in full, at the gateway directly or by another system), and reconcile's "not
# applied" (its refund is not there, but others may be): the payment is read again.
STALE_COPY = frozenset({"ALREADY_CANCELED_PAYMENT", "NOT_CANCELABLE_AMOUNT", NOT_APPLIED})


def _current(call: Call, r: Reserved) -> tuple[Payment, int] | None:
    """The payment and its balance in whole won as the gateway holds them now; None if the
    gateway cannot say (the shop's copy stays as it is then)."""
    gateway = call.ctx.payments
    assert gateway is not None  # checked before anything was reserved
    try:
        payment = gateway.get(r.payment_key)
        return payment, _won(payment.balance_amount)
    except (GatewayError, ValueError):
        return None


def not_applied(call: Call, r: Reserved, code: str) -> str:
    """The gateway did not apply the refund: free its amount and, if it was the reject's own
    cancel, move the order back to pending (a rejected order stands only with its payment
    canceled, whatever was refunded of it before). After a refusal that says the shop's copy
    of the payment is behind (STALE_COPY), the payment's balance and status are copied from
    the gateway (the refund itself stays not applied) and the order follows them: a reject
    whose payment is in fact canceled stands. Returns the order's status after."""
    current = _current(call, r) if code in STALE_COPY else None
    with call.transaction("shop") as tx:
        _claim(tx, r.refund_id, "failed", code)
        order = order_row(tx.conn, r.order_id)
        status = order.status
        mirrored: dict[str, Any] = {}
        if current is not None:
            payment, balance = current
            pay = tx.execute(
                sa.select(payments).where(payments.c.payment_key == r.payment_key)
            ).one()
            if (pay.balance_amount, pay.status) != (balance, payment.status):
                tx.execute(
                    sa.update(payments)
                    .where(payments.c.payment_key == r.payment_key)
                    .values(balance_amount=balance, status=payment.status)
                )
                mirrored["balance"] = {"before": pay.balance_amount, "after": balance}
            if status in ("approved", "partially_refunded") and balance < pay.amount:
                status = "refunded" if balance == 0 else "partially_refunded"
        canceled = current is not None and current[1] == 0
        if r.rejecting and order.status == "rejected" and not canceled:
            tx.execute(
                sa.update(orders)
                .where(orders.c.id == r.order_id, orders.c.status == "rejected")
                .values(status="pending", updated_at=now_text())
            )
            status = "pending"
        elif status != order.status:
            tx.execute(
                sa.update(orders)
                .where(orders.c.id == r.order_id, orders.c.status == order.status)
                .values(status=status, updated_at=now_text())
            )
        detail: dict[str, Any] = {
            "refund_id": r.refund_id,
            "amount": r.amount,
            "gateway_code": code,
            **mirrored,
        }
        if status != order.status:
            detail["status"] = {"before": order.status, "after": status}
        tx.audit("failed", detail)
        if r.rejecting and status == "rejected":  # its payment was canceled before: it stands
            tx.notify(events.order_rejected(r.order_id, call.actor.username, None))
        else:
            tx.notify(
                events.refund_failed(r.order_id, r.refund_id, r.amount, code, r.rejecting, status)
            )
    return status


def apply(call: Call, r: Reserved, payment: Payment) -> Result:
    """The gateway applied the refund: mirror its balance and move the order's status.
    A balance the shop cannot record (not whole won) leaves the refund unknown, held for
    order.reconcile: the money moved, so it is never reported as nothing changed."""
    try:
        balance = _won(payment.balance_amount)
    except ValueError as exc:
        settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
        return call.result(
            "unknown",
            f"The gateway applied the refund but answered a balance the shop cannot record "
            f"({exc}); the refund is held as unknown. Use Reconcile on the order once the "
            "gateway's answer is fixed. Do not refund again.",
            status=order_status(call, r),
        )
    with call.transaction("shop") as tx:
        _claim(tx, r.refund_id, "done", None)
        tx.execute(  # the next refund of the payment counts the cancels from here
            sa.update(refunds)
            .where(refunds.c.id == r.refund_id)
            .values(cancels_after=len(payment.cancels))
        )
        balance_before = tx.execute(
            sa.select(payments.c.balance_amount).where(payments.c.payment_key == r.payment_key)
        ).scalar_one()
        tx.execute(
            sa.update(payments)
            .where(payments.c.payment_key == r.payment_key)
            .values(balance_amount=balance, status=payment.status)
        )
        order = order_row(tx.conn, r.order_id)
        new_status = order.status
        if order.status != "rejected":
            new_status = "refunded" if balance == 0 else "partially_refunded"
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
                "balance": {"before": balance_before, "after": balance},
                "status": {"before": order.status, "after": new_status},
            },
            r.reason,
        )
        if r.rejecting:
            tx.notify(events.order_rejected(r.order_id, call.actor.username, r.amount))
    if r.rejecting:
        message = f"Order {r.order_id} rejected and its payment canceled."
    else:
        message = f"Refunded ₩{r.amount:,} on order {r.order_id}; balance ₩{balance:,}."
        if new_status == "rejected":
            message += " The order stays rejected."
    return call.result("ok", message, amount=r.amount, balance=balance, status=new_status)


def _won(amount: Any) -> int:
    """A gateway amount (exact, lib.payments.gateway parses it as Decimal) as the shop's whole won.
    A fraction cannot be mirrored in a KRW shop: it stops here, before anything is recorded,
    rather than being cut as int() would."""
    if amount != int(amount):
        raise ValueError(f"the gateway's amount {amount} is not a whole number of won")
    return int(amount)
