"""When the shop's copy of a payment is behind the gateway's (a cancel made in the gateway's
console, a deposit paid in since the shop last looked), and what may travel in a reason:
order.refund / order.reject against the real gateway sandbox, as in test_order_actions."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
import test_order_actions
from test_order_actions import (  # the stack and its helpers, shared with those tests
    OPERATOR,
    VA_ACCOUNT,
    VA_NUMBER,
    Stack,
    _nothing_stored_raw,
    _payment,
    _va_order,
    assert_in_step,
    held_refunds,
    refusing,
)

from lib import actions
from lib.actions.orders import ACCOUNT_IN_REASON
from lib.demo.services.serve import DEFAULT_SECRET

# The fixtures of test_order_actions, used here by name.
sqlite_stack = test_order_actions.sqlite_stack
pg_stack = test_order_actions.pg_stack
stack = test_order_actions.stack


# --- the shop's copy of a payment behind the gateway's ---------------------------------------


def shop_balance_is_the_gateways(stack: Stack, order_id: int) -> int:
    """The shop's balance and status of the order's payment are the gateway's; the balance."""
    pay = _payment(stack, order_id)
    gateway = stack.gateway_payment(pay.payment_key)
    assert (pay.balance_amount, pay.status) == (gateway["balance_amount"], gateway["status"])
    return pay.balance_amount


def cancel_at_the_gateway(stack: Stack, payment_key: str, amount: int | None = None) -> None:
    """A cancel made at the gateway directly (its console, another system): the shop's copy of
    the payment does not know it."""
    body = {"cancelReason": "canceled in the gateway's console"}
    if amount is not None:
        body["cancelAmount"] = amount
    requests.post(
        f"{stack.gateway_url}/v1/payments/{payment_key}/cancel",
        json=body,
        auth=(DEFAULT_SECRET, ""),
        headers={"Idempotency-Key": f"console-{payment_key}"},
        timeout=5,
    ).raise_for_status()
    time.sleep(1.1)  # the gateway takes no second cancel of a payment within 1 s


def test_a_refund_of_a_payment_canceled_at_the_gateway_leaves_the_shop_with_its_balance(
    sqlite_stack,
):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    cancel_at_the_gateway(stack, pay.payment_key)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=2_000, reason="damaged box"
    )
    assert (result.outcome, result.data["code"]) == ("failed", "ALREADY_CANCELED_PAYMENT")
    assert len(stack.ledger(pay.payment_key)) == 1  # the console's cancel only
    assert shop_balance_is_the_gateways(stack, order_id) == 0
    assert assert_in_step(stack, order_id) == "refunded"
    assert stack.row("SELECT status FROM refunds WHERE order_id = :i", i=order_id).status == (
        "failed"  # the refund itself was not applied
    )


def test_a_refund_over_what_the_gateway_has_left_leaves_the_shop_with_its_balance(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    cancel_at_the_gateway(stack, pay.payment_key, pay.balance_amount - 1_000)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=5_000, reason="damaged box"
    )
    assert (result.outcome, result.data["code"]) == ("failed", "NOT_CANCELABLE_AMOUNT")
    assert shop_balance_is_the_gateways(stack, order_id) == 1_000
    assert assert_in_step(stack, order_id) == "partially_refunded"
    # The shop now holds the gateway's balance: the rest is refunded at the first try.
    again = actions.run("order.refund", OPERATOR, order_id=order_id, reason="the rest")
    assert again.ok, again.message
    assert shop_balance_is_the_gateways(stack, order_id) == 0


def test_a_reject_of_a_payment_canceled_at_the_gateway_ends_rejected(stack):
    order_id = stack.order("pending", min_amount=10_000)
    pay = _payment(stack, order_id)
    cancel_at_the_gateway(stack, pay.payment_key)
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert (result.outcome, result.message) == (
        "ok",
        f"Order {order_id} rejected; its payment had already been canceled at the gateway.",
    )
    assert len(stack.ledger(pay.payment_key)) == 1
    assert shop_balance_is_the_gateways(stack, order_id) == 0
    assert assert_in_step(stack, order_id) == "rejected"


def test_an_unknown_refund_reconciled_as_not_applied_takes_the_gateways_balance(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="error500", count=3)  # both attempts and the replay: no answer
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=2_000, reason="damaged box"
    )
    assert result.outcome == "unknown", result.message
    stack.fault(mode="none")
    cancel_at_the_gateway(stack, pay.payment_key, 4_000)  # meanwhile, someone else
    refusing(stack, "NOT_CANCELABLE_PAYMENT")  # the replay refused; the lookup finds no 2,000
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.outcome == "ok", settled.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [4_000]
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - 4_000
    assert assert_in_step(stack, order_id) == "partially_refunded"


@pytest.mark.parametrize("action", ["order.refund", "order.reject"])
def test_a_virtual_account_paid_in_since_the_shop_looked_is_refunded_to_the_account(
    sqlite_stack, action
):
    stack = sqlite_stack
    order_id = _va_order(stack, "approved" if action == "order.refund" else "pending")
    pay = _payment(stack, order_id)
    with stack.shop.begin() as conn:  # the shop's copy from before the customer paid in
        conn.execute(
            sa.text("UPDATE payments SET status = 'WAITING_FOR_DEPOSIT' WHERE order_id = :i"),
            {"i": order_id},
        )
    params = {"amount": 3_000} if action == "order.refund" else {}
    without = actions.run(action, OPERATOR, order_id=order_id, reason="damaged box", **params)
    assert without.outcome == "invalid"
    assert "refund_account is required" in without.message
    assert stack.ledger(pay.payment_key) == []

    done = actions.run(
        action,
        OPERATOR,
        order_id=order_id,
        reason="damaged box",
        refund_account=VA_ACCOUNT,
        **params,
    )
    assert done.ok, done.message
    left = pay.balance_amount - 3_000 if action == "order.refund" else 0
    assert shop_balance_is_the_gateways(stack, order_id) == left
    assert len(stack.ledger(pay.payment_key)) == 1
    _nothing_stored_raw(stack)


def test_a_balance_the_shop_cannot_record_after_an_applied_refund_is_held_for_reconcile(
    sqlite_stack, monkeypatch
):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    client = stack.ctx.payments
    real_cancel = client.cancel

    def fractional_answer(*args, **kwargs):
        payment = real_cancel(*args, **kwargs)
        return dataclasses.replace(payment, balance_amount=payment.balance_amount + Decimal("0.5"))

    monkeypatch.setattr(client, "cancel", fractional_answer)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=2_000, reason="damaged box"
    )
    assert result.outcome == "unknown", result.message
    assert "Reconcile" in result.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [2_000]  # money moved
    assert held_refunds(stack, order_id) == ["unknown"]
    again = actions.run("order.refund", OPERATOR, order_id=order_id, reason="again")
    assert again.outcome == "conflict"

    monkeypatch.undo()
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.ok, settled.message
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - 2_000
    assert assert_in_step(stack, order_id) == "partially_refunded"


@pytest.mark.parametrize(
    "reason",
    [f"refund to {VA_NUMBER}", "acct 110-123-45678 please", "110 1234 5678 please"],
)
@pytest.mark.parametrize("action", ["order.refund", "order.reject"])
def test_a_reason_carrying_the_refund_account_number_is_refused(sqlite_stack, action, reason):
    stack = sqlite_stack
    order_id = _va_order(stack, "approved" if action == "order.refund" else "pending")
    pay = _payment(stack, order_id)
    result = actions.run(
        action, OPERATOR, order_id=order_id, reason=reason, refund_account=VA_ACCOUNT
    )
    assert (result.outcome, result.message) == ("invalid", ACCOUNT_IN_REASON)
    assert stack.ledger(pay.payment_key) == []
    _nothing_stored_raw(stack)
