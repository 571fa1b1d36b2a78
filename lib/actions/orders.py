"""Order actions: approve, reject, refund (full or partial, through the payment gateway),
reconcile.

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

import uuid
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, NoReturn

import sqlalchemy as sa

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result, Tx
from lib.actions.context import current as current_context
from lib.errors import ActionFailed, Conflict, OutcomeUnknown, ValidationFailed
from lib.payments.gateway import MAX_CANCEL_REASON, GatewayError, Payment
from lib.payments.refund_account import REQUIRED as ACCOUNT_REQUIRED
from lib.payments.refund_account import (
    WAITING_FOR_DEPOSIT,
    RefundAccount,
    is_virtual_account,
    needs_account,
)
from lib.payments.refund_account import appears_in as account_in
from lib.payments.refund_account import parse as parse_refund_account
from lib.records.schema import now_text, orders, payments, refunds

# `rejected` only while money is left on the payment (rejected before rejects canceled it).
REFUNDABLE = ("approved", "partially_refunded", "rejected")
HOLDING = ("requested", "unknown")  # refund states that hold their amount
MIN_REASON = 3  # of a reject or a refund; the Orders page states it from here


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
REJECT_CANCEL_PREFIX = REJECT_CANCEL_REASON.format(reason="")
MAX_REJECT_REASON = MAX_CANCEL_REASON - len(REJECT_CANCEL_REASON.format(reason=""))
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
    reserved = _reserve(
        call,
        order_id,
        None,
        cancel_reason,
        reject_reason=reason,
        refund_account=refund_account,
        gateway_status=_gateway_status(call, order_id),
    )
    if reserved is None:  # no payment, or nothing left on it: nothing to cancel
        return call.result("ok", f"Order {order_id} rejected.", status="rejected")
    return _cancel(call, reserved)


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


def _reserve(
    call: Call,
    order_id: int,
    amount: int | None,
    reason: str,
    *,
    reject_reason: str | None = None,
    refund_account: RefundAccount | None = None,
    gateway_status: str | None = None,
) -> Reserved | None:
    """Record the refund as requested, holding its amount against the balance, in one
    transaction. With `reject_reason`, the same transaction moves the order from pending
    to rejected and the refund is the whole balance (None if there is nothing to cancel).
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
                _refuse_transition(tx.conn, order_id)
        else:
            order = _order(tx.conn, order_id, lock=True)
            if order is None:
                raise ValidationFailed(f"No order {order_id}")
            if order.status not in REFUNDABLE:
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


def _gateway_status(call: Call, order_id: int) -> str | None:
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


def _with_cancel_count(call: Call, r: Reserved) -> Reserved:
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
    reserved = _reserve(
        call,
        order_id,
        amount,
        reason,
        refund_account=refund_account,
        gateway_status=_gateway_status(call, order_id),
    )
    assert reserved is not None  # only a reject finds nothing to cancel
    return _cancel(call, reserved)


def _cancel(call: Call, r: Reserved) -> Result:
    """Send the reserved refund to the gateway and record what became of it: applied,
    not applied (a refusal, or no attempt ever sent), or unknown."""
    gateway = call.ctx.payments
    assert gateway is not None  # checked before anything was reserved
    try:
        r = _with_cancel_count(call, r)
        payment: Payment | None = gateway.cancel(
            r.payment_key,
            r.amount,
            r.reason,
            r.idempotency_key,
            refund_account=r.refund_account,
            before_cancel_count=r.cancels_before,
        )
    except GatewayError as exc:  # refused, or never sent: nothing happened
        status = _not_applied(call, r, exc.code)
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
            _settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
            return call.result("unknown", _unknown_message(r), status=_order_status(call, r))
        if payment is None:
            status = _not_applied(call, r, NOT_APPLIED)
            if r.rejecting and status == "rejected":
                return call.result("ok", _canceled_before(r), status=status)
            return call.result("failed", _not_applied_message(r, status), status=status)
    return _apply(call, r, payment)


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


def _not_applied_message(r: Reserved, status: str) -> str:
    if r.rejecting and status == "rejected":
        return _canceled_before(r)
    if r.rejecting:
        now = "pending again" if status == "pending" else status.replace("_", " ")
        return f"The gateway did not cancel the payment of order {r.order_id}; the order is {now}."
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


def _not_applied(call: Call, r: Reserved, code: str) -> str:
    """The gateway did not apply the refund: free its amount and, if it was the reject's own
    cancel, move the order back to pending (a rejected order stands only with its payment
    canceled, whatever was refunded of it before). After a refusal that says the shop's copy
    of the payment is behind (STALE_COPY), the payment's balance and status are copied from
    the gateway (the refund itself stays not applied) and the order follows them: a reject
    whose payment is in fact canceled stands. Returns the order's status after."""
    current = _current(call, r) if code in STALE_COPY else None
    with call.transaction("shop") as tx:
        _claim(tx, r.refund_id, "failed", code)
        order = _order(tx.conn, r.order_id)
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
    return status


def _apply(call: Call, r: Reserved, payment: Payment) -> Result:
    """The gateway applied the refund: mirror its balance and move the order's status.
    A balance the shop cannot record (not whole won) leaves the refund unknown, held for
    order.reconcile: the money moved, so it is never reported as nothing changed."""
    try:
        balance = _won(payment.balance_amount)
    except ValueError as exc:
        _settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
        return call.result(
            "unknown",
            f"The gateway applied the refund but answered a balance the shop cannot record "
            f"({exc}); the refund is held as unknown. Use Reconcile on the order once the "
            "gateway's answer is fixed. Do not refund again.",
            status=_order_status(call, r),
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
        order = _order(tx.conn, r.order_id)
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


def _epoch(text: str | None) -> float | None:
    """A 'YYYY-MM-DD HH:MM:SS' UTC time of the shop's records (lib.records.schema.now_text),
    as epoch seconds; None if it is not one."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


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
        order_status = _order(conn, order_id).status
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
        r = Reserved(
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
                r = _with_cancel_count(call, r)
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
                    _settle(call, r.refund_id, "unknown", None, "unknown", {"amount": r.amount})
            continue
        try:
            if payment is None:
                status = _not_applied(call, r, NOT_APPLIED)
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
