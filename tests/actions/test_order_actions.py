"""order.approve / order.reject / order.refund through lib.actions.run, with the real gateway
sandbox over HTTP, on SQLite and on PostgreSQL (orders and audit log in one database)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from lib import actions
from lib.access.principal import Principal
from lib.actions.context import ActionContext
from lib.actions.orders import MAX_REJECT_REASON
from lib.audit import AuditStore
from lib.demo.load_sql import copy_tables
from lib.demo.services.gateway_protocol import TOSS_CANCEL_ERRORS
from lib.demo.services.serve import DEFAULT_SECRET, ServiceThread, create_service
from lib.errors import OutcomeUnknown
from lib.payments.client import PaymentsClient
from lib.payments.gateway import GatewayConfig
from lib.records.database import make_engine
from lib.records.schema import now_text

OPERATOR = Principal("operator", "Oscar Operator", ("operator",))
ANALYST = Principal("analyst", "Ana Analyst", ("analyst",))


class Stack:
    def __init__(
        self, ctx: ActionContext, gateway: ServiceThread, shop: sa.Engine, gateway_dir: Path
    ) -> None:
        self.ctx, self.gateway, self.shop = ctx, gateway, shop
        self.gateway_url = gateway.url
        self.gateway_dir = gateway_dir  # where the gateway keeps its ledger

    def gateway_payment(self, payment_key: str) -> sqlite3.Row:
        """The payment as the gateway's own ledger holds it (read even while it is down)."""
        path = self.gateway_dir / "gateway.sqlite"
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            con.row_factory = sqlite3.Row
            return con.execute(
                "SELECT balance_amount, status FROM payments WHERE payment_key = ?",
                (payment_key,),
            ).fetchone()

    def gateway_key_done(self, key: str) -> bool:
        path = self.gateway_dir / "gateway.sqlite"
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT state FROM idempotency WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] == "done"

    def order(self, status: str, min_amount: int = 0) -> int:
        with self.shop.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id "
                    "WHERE o.status = :s AND p.balance_amount >= :m AND p.status = 'DONE' "
                    "ORDER BY o.id LIMIT 1"
                ),
                {"s": status, "m": min_amount},
            ).scalar_one()

    def row(self, sql: str, **params) -> sa.Row:
        with self.shop.connect() as conn:
            return conn.execute(sa.text(sql), params).one()

    def fault(self, **fault) -> None:
        requests.post(f"{self.gateway_url}/_faults", json=fault, timeout=2).raise_for_status()

    def ledger(self, payment_key: str) -> list[dict]:
        resp = requests.get(
            f"{self.gateway_url}/v1/_ledger/cancels",
            params={"paymentKey": payment_key},
            auth=(DEFAULT_SECRET, ""),
            timeout=2,
        )
        resp.raise_for_status()
        body = resp.json()
        return body["cancels"] if isinstance(body, dict) else body

    def audit_rows(self, **filters) -> list[dict]:
        return self.ctx.audit.query(limit=None, newest_first=False, **filters)


def _gateway(demo: Path) -> ServiceThread:
    return ServiceThread(create_service("gateway", demo)).start()


def _client(url: str, timeout: float = 0.6, retries: int = 1) -> PaymentsClient:
    return PaymentsClient(
        GatewayConfig(url, DEFAULT_SECRET, timeout=timeout, retries=retries, backoff=0.05)
    )


@pytest.fixture
def sqlite_stack(demo_dir: Path, tmp_path: Path) -> Iterator[Stack]:
    for name in ("crm.sqlite", "shop.sqlite"):
        shutil.copy(demo_dir / name, tmp_path / name)
    gateway = _gateway(tmp_path)
    audit = AuditStore(f"sqlite:///{tmp_path}/audit.sqlite")
    audit.create_schema()
    shop = make_engine(f"sqlite:///{tmp_path}/shop.sqlite")
    ctx = ActionContext(
        audit=audit,
        databases={"shop": shop, "crm": make_engine(f"sqlite:///{tmp_path}/crm.sqlite")},
        payments=_client(gateway.url),
    )
    with actions.use_context(ctx):
        yield Stack(ctx, gateway, shop, tmp_path)
    gateway.stop()


@pytest.fixture
def pg_stack(demo_dir: Path, tmp_path: Path, pg_server) -> Iterator[Stack]:
    """Orders, payments and the audit log in one PostgreSQL database."""
    url = pg_server.new()
    copy_tables(demo_dir / "shop.sqlite", url, ["orders", "payments"])
    shutil.copy(demo_dir / "shop.sqlite", tmp_path / "shop.sqlite")  # the gateway's seed
    gateway = _gateway(tmp_path)
    audit = AuditStore(url)
    audit.create_schema()
    shop = make_engine(url)
    ctx = ActionContext(audit=audit, databases={"shop": shop}, payments=_client(gateway.url))
    with actions.use_context(ctx):
        yield Stack(ctx, gateway, shop, tmp_path)
    gateway.stop()
    shop.dispose()
    audit.dispose()


@pytest.fixture(params=["sqlite", "pg"])
def stack(request) -> Stack:
    return request.getfixturevalue(f"{request.param}_stack")


# --- approve / reject -----------------------------------------------------------------------


def test_approving_a_pending_order_changes_it_and_audits_before_and_after(stack):
    order_id = stack.order("pending")
    result = actions.run("order.approve", OPERATOR, order_id=order_id)
    assert (result.outcome, result.message) == ("ok", f"Order {order_id} approved.")
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "approved"
    [row] = stack.audit_rows(action="order.approve", target_id=str(order_id))
    assert row["outcome"] == "ok" and row["actor"] == "operator"
    assert row["detail"]["status"] == {"before": "pending", "after": "approved"}
    assert row["request_id"] == result.request_id


def test_second_approval_of_the_same_order_conflicts(stack):
    order_id = stack.order("pending")
    assert actions.run("order.approve", OPERATOR, order_id=order_id).ok
    second = actions.run("order.approve", OPERATOR, order_id=order_id)
    assert second.outcome == "conflict"
    assert "another operator got there first" in second.message
    outcomes = [r["outcome"] for r in stack.audit_rows(action="order.approve")]
    assert outcomes == ["ok", "conflict"]


def test_fifty_parallel_approvals_give_one_ok_and_forty_nine_conflicts(stack):
    order_id = stack.order("pending")
    barrier = threading.Barrier(50)

    def approve(_: int) -> str:
        barrier.wait()
        return actions.run("order.approve", OPERATOR, order_id=order_id).outcome

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(approve, range(50)))
    assert sorted(outcomes) == ["conflict"] * 49 + ["ok"]
    rows = stack.audit_rows(action="order.approve", target_id=str(order_id))
    assert len(rows) == 50
    assert stack.ctx.audit.verify().ok


def test_unknown_order_and_bad_input_are_invalid_and_audited(stack):
    assert actions.run("order.approve", OPERATOR, order_id=999_999).outcome == "invalid"
    bad = actions.run("order.approve", OPERATOR, order_id="abc")
    assert (bad.outcome, bad.message) == ("invalid", "order_id must be a whole number")
    extra = actions.run("order.approve", OPERATOR, order_id=1, status="approved")
    assert extra.outcome == "invalid" and "unexpected parameter: status" in extra.message
    assert [r["outcome"] for r in stack.audit_rows(action="order.approve")] == ["invalid"] * 3


def test_a_role_without_the_permission_is_denied_and_audited(stack):
    order_id = stack.order("pending")
    result = actions.run("order.approve", ANALYST, order_id=order_id)
    assert result.outcome == "denied"
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "pending"
    [row] = stack.audit_rows(action="order.approve")
    assert (row["outcome"], row["actor"], row["target_id"]) == ("denied", "analyst", str(order_id))


def test_rejecting_a_pending_order_cancels_its_payment_in_full(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("pending")
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert result.ok, result.message
    pay = stack.row(
        "SELECT payment_key, balance_amount, status FROM payments WHERE order_id = :i", i=order_id
    )
    assert (pay.balance_amount, pay.status) == (0, "CANCELED")
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "rejected"
    assert len(stack.ledger(pay.payment_key)) == 1


# --- refunds --------------------------------------------------------------------------------


def _payment(stack: Stack, order_id: int) -> sa.Row:
    return stack.row(
        "SELECT payment_key, amount, balance_amount, status FROM payments WHERE order_id = :i",
        i=order_id,
    )


def test_partial_refund_lowers_the_balance_everywhere(stack):
    order_id = stack.order("approved", min_amount=10_000)
    before = _payment(stack, order_id)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="damaged box"
    )
    assert result.ok, result.message
    after = _payment(stack, order_id)
    assert after.balance_amount == before.balance_amount - 3_000
    assert after.status == "PARTIAL_CANCELED"
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == (
        "partially_refunded"
    )
    assert [c["cancelAmount"] for c in stack.ledger(before.payment_key)] == [3_000]
    outcomes = [r["outcome"] for r in stack.audit_rows(action="order.refund")]
    assert outcomes == ["requested", "ok"]
    assert stack.ctx.audit.verify().ok


def test_refund_over_the_balance_is_refused_before_the_gateway_is_called(stack):
    order_id = stack.order("approved")
    pay = _payment(stack, order_id)
    result = actions.run(
        "order.refund",
        OPERATOR,
        order_id=order_id,
        amount=pay.balance_amount + 100,
        reason="too much",
    )
    assert result.outcome == "invalid"
    assert "exceeds the refundable balance" in result.message
    assert stack.ledger(pay.payment_key) == []


def test_timeout_then_retry_with_the_same_key_cancels_exactly_once(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=5_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="applied_then_slow", delay=1.5, count=1)  # applied, answer too late
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=1_000, reason="late delivery"
    )
    assert result.ok, result.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [1_000]
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - 1_000


def test_applied_then_500_is_reconciled_to_ok(sqlite_stack):
    stack = sqlite_stack
    stack.ctx.payments = _client(stack.gateway_url, retries=0)
    order_id = stack.order("approved", min_amount=5_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="applied_then_500", count=1)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=2_000, reason="wrong size"
    )
    assert result.ok, result.message
    assert len(stack.ledger(pay.payment_key)) == 1
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - 2_000


def test_two_concurrent_refunds_over_the_balance_cannot_both_succeed(stack):
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    share = pay.balance_amount // 2 + 100  # each alone fits; together they exceed it
    stack.fault(mode="slow", delay=0.3, count=2)  # keep the first in flight while the second asks
    barrier = threading.Barrier(2)

    def refund(_: int):
        barrier.wait()
        return actions.run(
            "order.refund", OPERATOR, order_id=order_id, amount=share, reason="split refund"
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(refund, range(2)))
    # The second is refused: while the first is in flight (one refund of a payment at a time),
    # or for the balance if the first was settled before it asked.
    [refused] = [r for r in results if r.outcome != "ok"]
    assert refused.outcome in ("conflict", "invalid"), refused.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [share]
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - share


def test_a_refund_asked_twice_at_once_is_sent_once(stack):
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="slow", delay=0.5, count=2)  # the first is in flight when the second asks
    barrier = threading.Barrier(2)

    def refund(_: int):
        barrier.wait()
        return actions.run(
            "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="shipping fee"
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(refund, range(2)))
    assert sorted(r.outcome for r in results) == ["conflict", "ok"]
    [refused] = [r for r in results if r.outcome == "conflict"]
    assert refused.message == (
        f"Another refund of order {order_id} is still being processed; try again once it is "
        "settled (if it stays so, use Reconcile on the order)."
    )
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    assert assert_in_step(stack, order_id) == "partially_refunded"


def test_an_unknown_outcome_blocks_a_new_refund_until_reconciled(sqlite_stack):
    stack = sqlite_stack
    stack.ctx.payments = _client(stack.gateway_url, timeout=0.3, retries=0)
    order_id = stack.order("approved", min_amount=5_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="slow", delay=1.0, count=3)  # every attempt, replay included, times out
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=1_000, reason="gateway trouble"
    )
    assert result.outcome == "unknown"
    assert "Do not refund again" in result.message
    again = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=1_000, reason="try again"
    )
    assert again.outcome == "conflict" and "unknown outcome" in again.message
    status = stack.row(
        "SELECT status FROM refunds WHERE order_id = :i ORDER BY id LIMIT 1", i=order_id
    ).status
    assert status == "unknown"
    # The gateway's own ledger never saw a second key for this payment.
    assert len(stack.ledger(pay.payment_key)) <= 1

    # Once the gateway answers again, reconciling decides it under the same key.
    stack.fault(mode="none")
    stack.ctx.payments = _client(stack.gateway_url)
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.ok, settled.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [1_000]
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - 1_000
    assert actions.run("order.reconcile", OPERATOR, order_id=order_id).outcome == "conflict"


# --- an order and its payment stay in step when a step fails --------------------------------

# What the gateway holds for a payment, by the status of its order, once nothing is in doubt.
GATEWAY_STATUS_FOR = {
    "pending": "DONE",
    "approved": "DONE",
    "rejected": "CANCELED",
    "refunded": "CANCELED",
    "partially_refunded": "PARTIAL_CANCELED",
}


def held_refunds(stack: Stack, order_id: int) -> list[str]:
    with stack.ctx.db("shop").connect() as conn:  # creates the refunds table if missing
        return list(
            conn.execute(
                sa.text(
                    "SELECT status FROM refunds WHERE order_id = :i "
                    "AND status IN ('requested', 'unknown') ORDER BY id"
                ),
                {"i": order_id},
            ).scalars()
        )


def assert_in_step(stack: Stack, order_id: int) -> str:
    """The order, the shop's payment and the gateway's ledger agree, and the audit chain
    verifies. Returns the order's status."""
    assert stack.ctx.audit.verify().ok
    assert held_refunds(stack, order_id) == [], "a refund is still waiting to be decided"
    status = stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status
    pay = _payment(stack, order_id)
    gateway = stack.gateway_payment(pay.payment_key)
    assert (pay.balance_amount, pay.status) == (gateway["balance_amount"], gateway["status"])
    assert gateway["status"] == GATEWAY_STATUS_FOR[status], (status, gateway["status"])
    return status


def shop_balance_is_the_gateways(stack: Stack, order_id: int) -> int:
    """The shop's balance and status of the order's payment are the gateway's; the balance."""
    pay = _payment(stack, order_id)
    gateway = stack.gateway_payment(pay.payment_key)
    assert (pay.balance_amount, pay.status) == (gateway["balance_amount"], gateway["status"])
    return pay.balance_amount


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the gateway never finished the delayed request"
        time.sleep(0.05)


def refusing(stack: Stack, code: str, count: int = 1, append: bool = False) -> None:
    """The gateway refuses with `code`, under the HTTP status Toss documents for it."""
    status = TOSS_CANCEL_ERRORS[code]
    stack.fault(mode="refuse", status=status, code=code, count=count, append=append)


def test_a_reject_reason_longer_than_the_gateway_takes_is_invalid_and_changes_nothing(stack):
    order_id = stack.order("pending")
    pay = _payment(stack, order_id)
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="x" * 190)
    assert result.outcome == "invalid"
    assert result.message == f"reason must be at most {MAX_REJECT_REASON} characters"
    assert stack.ledger(pay.payment_key) == []
    assert assert_in_step(stack, order_id) == "pending"


def test_a_refund_reason_longer_than_the_gateway_takes_is_invalid(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved")
    pay = _payment(stack, order_id)
    result = actions.run("order.refund", OPERATOR, order_id=order_id, reason="y" * 201)
    assert (result.outcome, result.message) == ("invalid", "reason must be at most 200 characters")
    assert stack.ledger(pay.payment_key) == []


def test_a_reject_without_a_gateway_is_refused_before_anything_changes(sqlite_stack):
    stack = sqlite_stack
    stack.ctx.payments = None
    order_id = stack.order("pending")
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert result.outcome == "failed"
    assert result.message == "No payment gateway is configured; the order was not rejected."
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "pending"
    assert [r["outcome"] for r in stack.audit_rows(action="order.reject")] == ["failed"]


def test_a_reject_the_gateway_refuses_leaves_the_order_pending_and_paid(stack):
    order_id = stack.order("pending")
    refusing(stack, "NOT_CANCELABLE_PAYMENT")
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert result.outcome == "failed"
    assert result.message == (
        f"Order {order_id} was not rejected: the gateway did not cancel its payment "
        "(NOT_CANCELABLE_PAYMENT). It is still pending."
    )
    assert assert_in_step(stack, order_id) == "pending"
    rows = stack.audit_rows(action="order.reject", target_id=str(order_id))
    assert [r["outcome"] for r in rows] == ["requested", "failed"]
    assert rows[1]["detail"]["status"] == {"before": "rejected", "after": "pending"}
    # Nothing holds it: it can be approved (or rejected again) now.
    assert actions.run("order.approve", OPERATOR, order_id=order_id).ok


class Crash(BaseException):
    """The app process dying mid-action (not an error any handler would catch)."""


def test_a_refund_left_requested_by_a_crash_is_settled_by_reconcile(sqlite_stack, monkeypatch):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    real_cancel = stack.ctx.payments.cancel

    def cancel_then_die(*args, **kwargs):
        real_cancel(*args, **kwargs)  # the gateway applies it...
        raise Crash  # ...and the process dies before the refund is settled

    monkeypatch.setattr(stack.ctx.payments, "cancel", cancel_then_die)
    with pytest.raises(Crash):
        actions.run("order.refund", OPERATOR, order_id=order_id, amount=4_000, reason="crash")
    monkeypatch.undo()
    assert held_refunds(stack, order_id) == ["requested"]
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [4_000]
    # It holds the payment: no new refund of it starts before it is decided.
    meanwhile = actions.run("order.refund", OPERATOR, order_id=order_id, amount=100, reason="all")
    assert meanwhile.outcome == "conflict" and "use Reconcile" in meanwhile.message

    stack.ctx.payments = _client(stack.gateway_url)  # a fresh process: nothing remembered
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.ok, settled.message
    assert settled.message == (
        f"Refunded ₩4,000 on order {order_id}; balance ₩{pay.balance_amount - 4_000:,}."
    )
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [4_000]
    assert assert_in_step(stack, order_id) == "partially_refunded"


def test_a_refund_whose_retry_is_refused_after_an_unanswered_attempt_is_not_failed(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="applied_then_500")  # applied, the answer lost
    refusing(stack, "NOT_CANCELABLE_AMOUNT", count=2, append=True)  # retry and replay
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="wrong colour"
    )
    assert result.ok, result.message  # the lookup found it applied
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    assert assert_in_step(stack, order_id) == "partially_refunded"


def test_a_refund_whose_retry_is_refused_and_cannot_be_looked_up_is_unknown(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="applied_then_500")
    refusing(stack, "NOT_CANCELABLE_AMOUNT", count=2, append=True)
    stack.fault(mode="error500", count=1, append=True)  # the lookup fails too
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="wrong colour"
    )
    assert result.outcome == "unknown", result.message
    assert held_refunds(stack, order_id) == ["unknown"]
    assert _payment(stack, order_id).balance_amount == pay.balance_amount  # not freed
    assert actions.run("order.reconcile", OPERATOR, order_id=order_id).ok
    assert assert_in_step(stack, order_id) == "partially_refunded"


# --- the gateway down, slow or failing during each action ------------------------------------
# Client: 0.6 s per attempt, one retry. "slow" holds every request 1 s before handling it
# (so each attempt, the replay and the lookup time out, and the work still happens later);
# "5xx" answers 500 without doing the work; "down" stops the gateway.

FAULTS = ("down", "slow", "5xx")
MEANWHILE = {"order.reject": "rejected", "order.refund": "approved"}  # while unknown
AFTER_NO_GATEWAY = {
    "order.approve": "approved",
    "order.reject": "pending",
    "order.refund": "approved",
}


def _break_gateway(stack: Stack, fault: str) -> None:
    if fault == "down":
        stack.gateway.stop()
    elif fault == "slow":
        stack.fault(mode="slow", delay=1.0, count=4)
    else:
        stack.fault(mode="error500", count=10)


def _act(action: str, order_id: int):
    params = {"order.approve": {}, "order.reject": {"reason": "out of stock"}}.get(
        action, {"amount": 2_000, "reason": "damaged box"}
    )
    return actions.run(action, OPERATOR, order_id=order_id, **params)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("action", ["order.approve", "order.reject", "order.refund"])
def test_the_gateway_failing_during_an_action_leaves_the_order_in_step(sqlite_stack, action, fault):
    stack = sqlite_stack
    order_id = stack.order("approved" if action == "order.refund" else "pending", 10_000)
    _break_gateway(stack, fault)
    result = _act(action, order_id)

    if action == "order.approve" or fault == "down":
        # Approve never calls the gateway; a gateway that is down was never reached.
        expected = "ok" if action == "order.approve" else "failed"
        assert result.outcome == expected, result.message
        assert assert_in_step(stack, order_id) == AFTER_NO_GATEWAY[action]
        return

    # Slow or failing: the cancel may have happened. It is recorded as unknown, meanwhile
    # the order is in its documented state, and nothing else may refund the payment.
    assert result.outcome == "unknown", result.message
    assert "Reconcile" in result.message
    assert held_refunds(stack, order_id) == ["unknown"]
    assert (
        stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status
        == (MEANWHILE[action])
    )
    assert stack.ctx.audit.verify().ok
    again = actions.run("order.refund", OPERATOR, order_id=order_id, reason="again")
    assert again.outcome == "conflict"

    # The gateway recovers (the delayed requests finish); reconcile decides it, once.
    stack.fault(mode="none")
    key = stack.row(
        "SELECT idempotency_key FROM refunds WHERE order_id = :i", i=order_id
    ).idempotency_key
    if fault == "slow":
        wait_until(lambda: stack.gateway_key_done(key))
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.ok, settled.message
    pay = _payment(stack, order_id)
    assert len(stack.ledger(pay.payment_key)) == 1
    assert assert_in_step(stack, order_id) == (
        "rejected" if action == "order.reject" else "partially_refunded"
    )


# --- which cancel is the refund's own ---------------------------------------------------------
# An unknown refund is decided by a lookup among the payment's cancels; an older cancel of the
# same amount and reason must never be taken for it (the ledger decides, not a look-alike).


def passing_the_lookup(stack: Stack) -> None:
    """Let the next request through untouched (the count read before a cancel is sent)."""
    stack.fault(mode="slow", delay=0, count=1)


def test_a_second_refund_of_the_same_amount_refused_on_retry_is_not_taken_for_the_first(stack):
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    first = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="shipping fee"
    )
    assert first.ok, first.message
    stack.fault(mode="error500")  # the second's first attempt: not applied, answered 500
    refusing(stack, "NOT_CANCELABLE_AMOUNT", count=2, append=True)  # its retry and replay
    second = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="shipping fee"
    )
    assert (second.outcome, second.message) == (
        "failed",
        "The gateway did not apply the refund of ₩3,000; the amount is free again.",
    )
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    assert _payment(stack, order_id).balance_amount == pay.balance_amount - 3_000
    assert assert_in_step(stack, order_id) == "partially_refunded"
    done = stack.row(
        "SELECT COUNT(*) AS n FROM refunds WHERE order_id = :i AND status = 'done'", i=order_id
    )
    assert done.n == 1


def test_reconcile_does_not_take_an_earlier_cancel_of_the_same_amount_for_an_unknown_refund(
    sqlite_stack,
):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    assert actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="shipping fee"
    ).ok
    stack.fault(mode="error500")
    refusing(stack, "NOT_CANCELABLE_AMOUNT", count=2, append=True)
    stack.fault(mode="error500", count=1, append=True)  # and the lookup fails: unknown
    second = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="shipping fee"
    )
    assert second.outcome == "unknown", second.message
    assert held_refunds(stack, order_id) == ["unknown"]

    refusing(stack, "NOT_CANCELABLE_AMOUNT")  # the replay refused: the lookup decides
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert (settled.outcome, settled.message) == (
        "ok",
        "The gateway did not apply the refund of ₩3,000; the amount is free again.",
    )
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    assert assert_in_step(stack, order_id) == "partially_refunded"


def forget_refunds(stack: Stack, order_id: int) -> None:
    """Drop the shop's record of an order's refunds (the demo seeds one per refunded order),
    as for a payment canceled before the app or outside it: the gateway holds its cancels,
    the shop does not know how many."""
    with stack.shop.begin() as conn:
        conn.execute(sa.text("DELETE FROM refunds WHERE order_id = :i"), {"i": order_id})


def test_a_refund_like_a_cancel_made_before_the_app_is_not_taken_for_it(sqlite_stack):
    stack = sqlite_stack
    # A payment canceled in part before (the demo gateway holds that cancel, "customer
    # request"): the shop does not know how many cancels it has, so it asks the gateway.
    order_id, earlier = stack.row(
        "SELECT o.id, p.amount - p.balance_amount AS earlier FROM orders o "
        "JOIN payments p ON p.order_id = o.id WHERE o.status = 'partially_refunded' "
        "AND p.amount - p.balance_amount <= p.balance_amount ORDER BY o.id LIMIT 1"
    )
    forget_refunds(stack, order_id)  # canceled outside the app: the shop has no row of it
    pay = _payment(stack, order_id)
    [seeded] = stack.ledger(pay.payment_key)
    assert seeded["cancelAmount"] == earlier
    passing_the_lookup(stack)
    stack.fault(mode="error500", append=True)
    refusing(stack, "NOT_CANCELABLE_AMOUNT", count=2, append=True)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=earlier, reason=seeded["cancelReason"]
    )
    assert result.outcome == "failed", result.message
    assert stack.ledger(pay.payment_key) == [seeded]
    assert _payment(stack, order_id).balance_amount == pay.balance_amount
    assert assert_in_step(stack, order_id) == "partially_refunded"


def test_a_refund_is_not_sent_when_the_gateway_cannot_say_how_many_cancels_it_holds(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.row(
        "SELECT id FROM orders WHERE status = 'partially_refunded' ORDER BY id LIMIT 1"
    ).id
    forget_refunds(stack, order_id)  # canceled outside the app: the shop has no row of it
    pay = _payment(stack, order_id)
    stack.fault(mode="error500", count=2)  # the lookup before the cancel, and its retry
    result = actions.run("order.refund", OPERATOR, order_id=order_id, amount=100, reason="late")
    assert result.outcome == "failed", result.message
    assert len(stack.ledger(pay.payment_key)) == 1  # the earlier one only
    assert assert_in_step(stack, order_id) == "partially_refunded"


# --- a reject that did not happen; refunds of a rejected order --------------------------------


def set_status(stack: Stack, order_id: int, status: str) -> None:
    """Put an order in a state by hand (as data from before a rule, or another path, left it)."""
    with stack.shop.begin() as conn:
        conn.execute(
            sa.text("UPDATE orders SET status = :s WHERE id = :i"), {"s": status, "i": order_id}
        )


def test_a_refused_reject_of_a_partly_refunded_payment_leaves_the_order_pending(stack):
    order_id = stack.order("pending", min_amount=10_000)
    set_status(stack, order_id, "approved")  # part of it was refunded before approval...
    assert actions.run("order.refund", OPERATOR, order_id=order_id, amount=1_000, reason="gift").ok
    set_status(stack, order_id, "pending")  # ...and it waits for an operator again
    pay = _payment(stack, order_id)
    refusing(stack, "NOT_CANCELABLE_PAYMENT")
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert (result.outcome, result.message) == (
        "failed",
        f"Order {order_id} was not rejected: the gateway did not cancel its payment "
        "(NOT_CANCELABLE_PAYMENT). It is still pending.",
    )
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "pending"
    assert held_refunds(stack, order_id) == []
    gateway = stack.gateway_payment(pay.payment_key)
    assert _payment(stack, order_id).balance_amount == gateway["balance_amount"]
    assert gateway["balance_amount"] == pay.amount - 1_000
    assert actions.run("order.approve", OPERATOR, order_id=order_id).ok


def test_an_unknown_reject_reconciled_as_not_applied_puts_the_order_back_to_pending(stack):
    order_id = stack.order("pending")
    pay = _payment(stack, order_id)
    stack.fault(mode="error500", count=3)  # both attempts and the replay: no answer
    result = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert result.outcome == "unknown", result.message
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "rejected"
    assert held_refunds(stack, order_id) == ["unknown"]

    refusing(stack, "NOT_CANCELABLE_PAYMENT")  # the replay refused; the ledger has no cancel
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert (settled.outcome, settled.message) == (
        "ok",
        f"The gateway did not cancel the payment of order {order_id}; the order is pending again.",
    )
    assert stack.ledger(pay.payment_key) == []
    assert assert_in_step(stack, order_id) == "pending"  # held amount freed, balance as paid
    rows = stack.audit_rows(action="order.reconcile", target_id=str(order_id))
    assert rows[-1]["detail"]["status"] == {"before": "rejected", "after": "pending"}
    assert actions.run("order.approve", OPERATOR, order_id=order_id).ok


def test_an_unapplied_refund_of_a_rejected_order_leaves_it_rejected(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("pending", min_amount=10_000)
    set_status(stack, order_id, "rejected")  # rejected before rejects canceled the payment
    pay = _payment(stack, order_id)
    stack.fault(mode="error500", count=3)
    result = actions.run("order.refund", OPERATOR, order_id=order_id, reason="money back")
    assert result.outcome == "unknown", result.message

    refusing(stack, "NOT_CANCELABLE_PAYMENT")
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert (settled.outcome, settled.message) == (
        "ok",
        f"The gateway did not apply the refund of ₩{pay.balance_amount:,}; "
        "the amount is free again.",
    )
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "rejected"
    assert held_refunds(stack, order_id) == []
    assert stack.ledger(pay.payment_key) == []
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount


def test_a_rejected_order_whose_payment_was_canceled_has_nothing_to_refund(stack):
    order_id = stack.row(
        "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE o.status = 'rejected' AND p.balance_amount = 0 ORDER BY o.id LIMIT 1"
    ).id
    result = actions.run("order.refund", OPERATOR, order_id=order_id, reason="money back")
    assert (result.outcome, result.message) == (
        "conflict",
        f"Order {order_id} is rejected and its payment was canceled in full; "
        "there is nothing left to refund.",
    )


def test_a_rejected_order_with_money_left_is_refunded_and_stays_rejected(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("pending", min_amount=10_000)
    set_status(stack, order_id, "rejected")  # rejected before rejects canceled the payment
    pay = _payment(stack, order_id)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="money back"
    )
    left = pay.balance_amount - 3_000
    assert (result.outcome, result.message) == (
        "ok",
        f"Refunded ₩3,000 on order {order_id}; balance ₩{left:,}. The order stays rejected.",
    )
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "rejected"
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    assert stack.gateway_payment(pay.payment_key)["balance_amount"] == left
    assert _payment(stack, order_id).balance_amount == left


def test_a_pending_order_cannot_be_refunded_and_the_refusal_says_which_can(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("pending")
    result = actions.run("order.refund", OPERATOR, order_id=order_id, reason="money back")
    assert (result.outcome, result.message) == (
        "conflict",
        f"Order {order_id} is pending; only approved or partially refunded orders can be "
        "refunded (or a rejected one whose payment still holds money).",
    )


def test_a_refunds_table_from_before_gets_its_new_columns_and_its_rows_reconcile(sqlite_stack):
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    with stack.shop.begin() as conn:  # the table as the previous version made it, one row held
        conn.execute(sa.text("DROP TABLE refunds"))  # the demo's, with today's columns
        conn.execute(
            sa.text(
                "CREATE TABLE refunds (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER "
                "NOT NULL, payment_key VARCHAR(64) NOT NULL, amount INTEGER NOT NULL, reason "
                "TEXT NOT NULL, idempotency_key VARCHAR(64) NOT NULL UNIQUE, status VARCHAR(16) "
                "NOT NULL, requested_by TEXT NOT NULL, requested_at TEXT NOT NULL, settled_at "
                "TEXT, gateway_code TEXT)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO refunds (order_id, payment_key, amount, reason, idempotency_key, "
                "status, requested_by, requested_at) VALUES (:o, :k, 2000, 'old one', 'old-key', "
                "'unknown', 'operator', :at)"
            ),
            # Recent: a key older than Toss keeps (15 days) is never replayed, only looked up.
            {"o": order_id, "k": pay.payment_key, "at": now_text()},
        )
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.ok, settled.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [2_000]
    again = actions.run("order.refund", OPERATOR, order_id=order_id, amount=1_000, reason="more")
    assert again.ok, again.message
    assert assert_in_step(stack, order_id) == "partially_refunded"


# --- virtual-account refunds (issue 8, point 1) -------------------------------------------------
# Toss (docs.tosspayments.com, guides/apis/cancel-payment "가상계좌 결제 취소하기"; reference,
# refundReceiveAccount): a paid-in virtual-account payment is refunded to the customer's bank
# account, which the cancel names {bank code, accountNumber <= 20 digits, holderName <= 60}.

VA_NUMBER, VA_HOLDER = "11012345678", "홍길동"
VA_ACCOUNT = {"bank": "88", "account_number": VA_NUMBER, "holder_name": VA_HOLDER}


def _va_order(stack: Stack, status: str = "approved") -> int:
    with stack.shop.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id"
                " WHERE o.status = :s AND p.method = 'virtual_account' AND p.status = 'DONE'"
                " AND p.balance_amount >= 10000 ORDER BY o.id LIMIT 1"
            ),
            {"s": status},
        ).scalar_one()


def _nothing_stored_raw(stack: Stack) -> None:
    """The raw account number and holder are in no audit row and no refund row."""
    for row in stack.audit_rows():
        text = repr(row)
        assert VA_NUMBER not in text and VA_HOLDER not in text, text
    refunds = []
    if sa.inspect(stack.shop).has_table("refunds"):  # made on the first reserved refund
        with stack.shop.connect() as conn:
            refunds = conn.execute(sa.text("SELECT * FROM refunds")).all()
    assert all(VA_NUMBER not in repr(r) and VA_HOLDER not in repr(r) for r in refunds)


def test_a_virtual_account_refund_without_the_account_is_invalid_then_with_it_refunds_once(stack):
    order_id = _va_order(stack)
    pay = _payment(stack, order_id)

    without = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="damaged box"
    )
    assert without.outcome == "invalid"
    assert "refund_account is required" in without.message
    assert "bank account" in without.message
    assert stack.ledger(pay.payment_key) == []  # nothing was sent
    with stack.shop.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT COUNT(*) FROM refunds WHERE order_id = :i"), {"i": order_id}
            ).scalar_one()
            == 0
        )

    with_it = actions.run(
        "order.refund",
        OPERATOR,
        order_id=order_id,
        amount=3_000,
        reason="damaged box",
        refund_account=VA_ACCOUNT,
    )
    assert with_it.ok, with_it.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    shop = _payment(stack, order_id)
    gateway = stack.gateway_payment(pay.payment_key)
    assert shop.balance_amount == gateway["balance_amount"] == pay.balance_amount - 3_000
    assert shop.status == gateway["status"] == "PARTIAL_CANCELED"

    [requested] = stack.audit_rows(action="order.refund", outcome="requested")
    assert requested["detail"]["refund_account"] == {
        "bank": "88",
        "account_number": "*******5678",
        "holder_name": "홍*동",
    }
    _nothing_stored_raw(stack)
    assert stack.ctx.audit.verify().ok


@pytest.mark.parametrize(
    ("account", "says"),
    [
        ({**VA_ACCOUNT, "bank": "99"}, "bank must be one of Toss's bank codes"),
        ({**VA_ACCOUNT, "bank": "신한은행"}, "bank must be one of Toss's bank codes"),
        ({**VA_ACCOUNT, "account_number": "110-12x-5678"}, "digits only"),
        ({**VA_ACCOUNT, "account_number": "١١٠١٢٣"}, "digits only"),
        ({**VA_ACCOUNT, "account_number": "1" * 21}, "at most 20 digits"),
        ({**VA_ACCOUNT, "holder_name": " "}, "holder_name is required"),
        ({**VA_ACCOUNT, "holder_name": "김" * 61}, "at most 60 characters"),
        ({**VA_ACCOUNT, "iban": "x"}, "unexpected fields"),
        ("88/11012345678", "must be {bank, account_number, holder_name}"),
    ],
)
def test_a_bad_refund_account_is_invalid_and_nothing_is_sent(sqlite_stack, account, says):
    stack = sqlite_stack
    order_id = _va_order(stack)
    pay = _payment(stack, order_id)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, reason="damaged box", refund_account=account
    )
    assert result.outcome == "invalid"
    assert says in result.message
    assert VA_NUMBER not in result.message and VA_HOLDER not in result.message
    assert stack.ledger(pay.payment_key) == []
    _nothing_stored_raw(stack)


def test_a_card_refund_takes_no_refund_account(sqlite_stack):
    stack = sqlite_stack
    with stack.shop.connect() as conn:
        order_id = conn.execute(
            sa.text(
                "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id"
                " WHERE o.status = 'approved' AND p.method = 'card' AND p.status = 'DONE'"
                " ORDER BY o.id LIMIT 1"
            )
        ).scalar_one()
    pay = _payment(stack, order_id)
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, reason="damaged box", refund_account=VA_ACCOUNT
    )
    assert result.outcome == "invalid"
    assert "only for a virtual-account payment" in result.message
    assert stack.ledger(pay.payment_key) == []


def test_rejecting_a_paid_in_virtual_account_order_needs_the_refund_account(sqlite_stack):
    stack = sqlite_stack
    order_id = _va_order(stack, "pending")
    pay = _payment(stack, order_id)
    without = actions.run("order.reject", OPERATOR, order_id=order_id, reason="out of stock")
    assert without.outcome == "invalid" and "refund_account is required" in without.message
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "pending"
    assert stack.ledger(pay.payment_key) == []

    done = actions.run(
        "order.reject",
        OPERATOR,
        order_id=order_id,
        reason="out of stock",
        refund_account=VA_ACCOUNT,
    )
    assert done.ok, done.message
    assert stack.row("SELECT status FROM orders WHERE id = :i", i=order_id).status == "rejected"
    assert len(stack.ledger(pay.payment_key)) == 1
    assert stack.gateway_payment(pay.payment_key)["balance_amount"] == 0
    _nothing_stored_raw(stack)


# --- Toss's documented behaviour, end to end (docs.tosspayments.com) ------------------------


def test_a_consecutive_request_refusal_while_the_first_refund_completes_is_no_double_refund(
    sqlite_stack,
):
    # The refund's first attempt is still being processed when another replica sends the same
    # cancel (same key) within 1 s: Toss refuses it 403 FORBIDDEN_CONSECUTIVE_REQUEST, which
    # says nothing of the first. The refund must end applied once, never freed or doubled.
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="processing_slow", delay=1.8)
    results: list = []
    refund = threading.Thread(
        target=lambda: results.append(
            actions.run(
                "order.refund", OPERATOR, order_id=order_id, amount=2_000, reason="slow provider"
            )
        )
    )

    def reserved() -> bool:
        try:  # the refunds table is made by the first refund
            return (
                stack.row("SELECT COUNT(*) AS n FROM refunds WHERE order_id = :i", i=order_id).n > 0
            )
        except sa.exc.OperationalError:
            return False

    refund.start()
    try:
        wait_until(reserved)
        time.sleep(0.3)  # its request is at the gateway now, being processed
        sent = stack.row(
            "SELECT idempotency_key, amount, reason FROM refunds WHERE order_id = :i", i=order_id
        )
        replica = _client(stack.gateway_url, timeout=5, retries=0)
        with pytest.raises(OutcomeUnknown, match="FORBIDDEN_CONSECUTIVE_REQUEST"):
            replica.cancel(pay.payment_key, sent.amount, sent.reason, sent.idempotency_key)
    finally:
        refund.join(timeout=15)
    [result] = results
    assert result.outcome == "ok", result.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [2_000]
    assert _payment(stack, order_id).balance_amount == pay.balance_amount - 2_000
    assert assert_in_step(stack, order_id) == "partially_refunded"


def test_provider_error_then_success_refunds_once(sqlite_stack):
    # reference/error-codes: 400 PROVIDER_ERROR is temporary ("try again"), not a refusal.
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    refusing(stack, "PROVIDER_ERROR")
    result = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=2_500, reason="damaged box"
    )
    assert result.outcome == "ok", result.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [2_500]
    assert shop_balance_is_the_gateways(stack, order_id) == pay.balance_amount - 2_500
    assert assert_in_step(stack, order_id) == "partially_refunded"


def test_reconcile_of_a_refund_older_than_the_gateway_keeps_keys_looks_it_up_only(sqlite_stack):
    # reference/using-api/idempotency: keys live 15 days; replaying an older one is a new
    # cancel. Reconcile decides such a refund by lookup only.
    stack = sqlite_stack
    order_id = stack.order("approved", min_amount=10_000)
    pay = _payment(stack, order_id)
    stack.fault(mode="applied_then_500")  # applied, answered 500
    stack.fault(mode="error500", count=3, append=True)  # retry, replay, lookup: no answer
    first = actions.run(
        "order.refund", OPERATOR, order_id=order_id, amount=3_000, reason="late parcel"
    )
    assert first.outcome == "unknown", first.message
    with stack.shop.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE refunds SET requested_at = '2026-01-01 00:00:00'"
                " WHERE order_id = :i AND status = 'unknown'"
            ),
            {"i": order_id},
        )
    with closing(sqlite3.connect(stack.gateway_dir / "gateway.sqlite")) as con, con:
        con.execute("UPDATE idempotency SET started_at = started_at - 15 * 86400")
    time.sleep(1.1)  # past the gateway's 1 s between cancels of a payment
    settled = actions.run("order.reconcile", OPERATOR, order_id=order_id)
    assert settled.outcome == "ok", settled.message
    assert [c["cancelAmount"] for c in stack.ledger(pay.payment_key)] == [3_000]
    assert _payment(stack, order_id).balance_amount == pay.balance_amount - 3_000
    assert assert_in_step(stack, order_id) == "partially_refunded"
