"""lib.payments.client against the gateway sandbox over real HTTP: refusals, retries under one
idempotency key, unknown outcomes and their reconciliation, and no secret in any error."""

from __future__ import annotations

import base64
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import requests

from lib.demo.services.auth import basic_secret_header
from lib.demo.services.serve import DEFAULT_SECRET, free_port
from lib.errors import OutcomeUnknown
from lib.payments.client import PaymentsClient
from lib.payments.gateway import (
    GatewayConfig,
    GatewayError,
    GatewayUnavailable,
    Payment,
)
from lib.payments.refund_account import RefundAccount

pytestmark = pytest.mark.integration

BASIC = {"Authorization": basic_secret_header(DEFAULT_SECRET)}
TIMEOUT = 0.3  # per attempt; the injected delays below are longer


class RecordingSession(requests.Session):
    """A session that notes each request's method, path and Idempotency-Key."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, str | None]] = []

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        headers = kwargs.get("headers") or {}
        self.sent.append((method, url, headers.get("Idempotency-Key")))
        return super().request(method, url, *args, **kwargs)

    def keys_sent(self) -> set[str | None]:
        return {key for method, _, key in self.sent if method == "POST"}

    def posts(self) -> int:
        return sum(1 for method, _, _ in self.sent if method == "POST")


def make_client(
    url: str, secret: str = DEFAULT_SECRET, retries: int = 2, timeout: float = TIMEOUT
) -> PaymentsClient:
    config = GatewayConfig(url, secret, timeout=timeout, retries=retries, backoff=0.05)
    return PaymentsClient(config, session=RecordingSession())


def arm(url: str, mode: str, delay: float = 1.0, count: int = 1) -> None:
    body = {"mode": mode, "delay": delay, "count": count}
    requests.post(f"{url}/_faults", json=body, timeout=5).raise_for_status()


def ledger(url: str, payment_key: str) -> list[dict]:
    resp = requests.get(
        f"{url}/v1/_ledger/cancels", params={"paymentKey": payment_key}, headers=BASIC, timeout=5
    )
    resp.raise_for_status()
    return resp.json()


def idempotency_rows(demo_dir: Path) -> list[tuple[str, str]]:
    """(key, state) of every idempotency key the gateway has seen, from its own ledger file."""
    with closing(sqlite3.connect(f"file:{demo_dir / 'gateway.sqlite'}?mode=ro", uri=True)) as con:
        return con.execute("SELECT key, state FROM idempotency ORDER BY key").fetchall()


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def assert_secret_free(exc: BaseException, secret: str = DEFAULT_SECRET) -> None:
    """Neither the secret nor its Basic header form in the error or anything it chains to."""
    forms = (secret, base64.b64encode(f"{secret}:".encode()).decode())
    seen: BaseException | None = exc
    while seen is not None:
        for text in (str(seen), repr(seen), repr(seen.args)):
            assert not any(form in text for form in forms), text
        seen = seen.__cause__ or seen.__context__


@pytest.fixture
def gateway(tiny_demo, start_service) -> str:
    return start_service("gateway", tiny_demo.dir)


# --- answers the gateway gives at once -----------------------------------------------------


def test_full_cancel_refunds_the_whole_balance(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway)
    paid = client.get(key)
    assert (paid.status, paid.balance_amount, paid.cancels) == ("DONE", 20_000, [])

    done = client.cancel(key, None, "out of stock", idempotency_key="refund-full")

    assert isinstance(done, Payment)
    assert (done.status, done.total_amount, done.balance_amount) == ("CANCELED", 20_000, 0)
    assert [(c.amount, c.reason) for c in done.cancels] == [(20_000, "out of stock")]
    assert done.cancels[0].transaction_key and done.cancels[0].canceled_at
    assert client.get(key) == done
    assert len(ledger(gateway, key)) == 1


def test_partial_cancels_leave_the_rest_until_nothing_is_left(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    client = make_client(gateway)

    first = client.cancel(key, 10_000, "one item back", idempotency_key="refund-a")
    assert (first.status, first.balance_amount) == ("PARTIAL_CANCELED", 20_000)
    last = client.cancel(key, 20_000, "the rest", idempotency_key="refund-b")
    assert (last.status, last.balance_amount) == ("CANCELED", 0)
    assert [c.amount for c in last.cancels] == [10_000, 20_000]


def test_the_same_key_twice_refunds_once(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    client = make_client(gateway)
    first = client.cancel(key, 5_000, "dent", idempotency_key="refund-once")
    again = client.cancel(key, 5_000, "dent", idempotency_key="refund-once")
    assert again == first
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [5_000]


def test_amount_beyond_the_balance_is_a_definite_refusal(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway)
    with pytest.raises(GatewayError) as caught:
        client.cancel(key, 25_000, "too much", idempotency_key="refund-over")
    err = caught.value
    # Toss documents NOT_CANCELABLE_AMOUNT as 403 (reference/error-codes, 결제 취소).
    assert (err.code, err.http_status) == ("NOT_CANCELABLE_AMOUNT", 403)
    assert str(err).startswith("Gateway refused: NOT_CANCELABLE_AMOUNT — ")
    assert "\n" not in str(err)
    assert client.session.posts() == 1  # a refusal is not retried
    assert ledger(gateway, key) == []
    assert_secret_free(err)


def test_cancel_of_a_canceled_payment_is_refused(tiny_demo, gateway):
    key = tiny_demo.payment_key("CANCELED")
    with pytest.raises(GatewayError) as caught:
        make_client(gateway).cancel(key, None, "again", idempotency_key="refund-again")
    assert caught.value.code == "ALREADY_CANCELED_PAYMENT"
    assert str(caught.value).startswith("Gateway refused: ALREADY_CANCELED_PAYMENT — ")


def test_unknown_payment_is_not_found(gateway):
    with pytest.raises(GatewayError) as caught:
        make_client(gateway).get("tpk_nope")
    assert (caught.value.code, caught.value.http_status) == ("NOT_FOUND_PAYMENT", 404)


def test_wrong_secret_is_refused_and_never_shown(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    secret = "test_sk_WRONG_do_not_print_42"
    client = make_client(gateway, secret=secret)
    for call in (
        lambda: client.get(key),
        lambda: client.cancel(key, 1_000, "try", idempotency_key="refund-wrong"),
    ):
        with pytest.raises(GatewayError) as caught:
            call()
        assert (caught.value.code, caught.value.http_status) == ("UNAUTHORIZED_KEY", 401)
        assert_secret_free(caught.value, secret)
    assert secret not in repr(client.config)
    assert ledger(gateway, key) == []


# --- retries under one key -----------------------------------------------------------------


def test_timeout_then_retry_with_the_same_key_refunds_once(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway)
    # The first attempt is applied, but its answer comes after the client gave up.
    arm(gateway, "applied_then_slow", delay=1.0, count=1)

    done = client.cancel(key, 5_000, "late answer", idempotency_key="refund-slow")

    assert (done.status, done.balance_amount) == ("PARTIAL_CANCELED", 15_000)
    assert client.session.posts() == 2
    assert client.session.keys_sent() == {"refund-slow"}
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [5_000]


def test_server_error_once_then_the_retry_succeeds(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway)
    arm(gateway, "error500", count=1)

    done = client.cancel(key, 2_000, "retry", idempotency_key="refund-500")

    assert done.balance_amount == 18_000
    assert client.session.posts() == 2
    assert client.session.keys_sent() == {"refund-500"}
    assert len(ledger(gateway, key)) == 1


def test_a_read_is_retried_after_a_server_error(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    arm(gateway, "error500", count=2)
    assert make_client(gateway).get(key).balance_amount == 20_000


def test_applied_then_500_is_unknown_and_reconcile_finds_the_refund(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    client = make_client(gateway, retries=0)
    before = len(client.get(key).cancels)
    arm(gateway, "applied_then_500", count=1)

    with pytest.raises(OutcomeUnknown) as caught:
        client.cancel(key, 7_000, "unknown", idempotency_key="refund-u")
    assert "reconcile" in str(caught.value)
    assert_secret_free(caught.value)
    assert len(ledger(gateway, key)) == 1  # it did happen

    # The same client replays the request it sent under the key: the stored answer.
    found = client.reconcile(key, "refund-u", 7_000, before_cancel_count=before)
    assert found is not None and found.balance_amount == 23_000
    assert [c.amount for c in found.cancels] == [7_000]
    # A client that never sent it (e.g. a later job) decides by looking the payment up.
    looked_up = make_client(gateway).reconcile(key, "refund-u", 7_000, before_cancel_count=before)
    assert looked_up == found
    assert len(ledger(gateway, key)) == 1


def test_reconcile_tells_a_refund_that_never_happened(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    client = make_client(gateway, retries=0)
    arm(gateway, "error500", count=1)  # a 5xx: unknown to the client, not applied in fact
    with pytest.raises(OutcomeUnknown):
        client.cancel(key, 4_000, "never", idempotency_key="refund-n")

    # A lookup alone (nothing to replay): no such cancel.
    assert make_client(gateway).reconcile(key, "refund-n", 4_000, before_cancel_count=0) is None
    # An older cancel of the same amount is not ours.
    make_client(gateway).cancel(key, 4_000, "earlier", idempotency_key="refund-older")
    assert make_client(gateway).reconcile(key, "refund-n", 4_000, before_cancel_count=1) is None
    assert len(ledger(gateway, key)) == 1


def test_reconcile_of_a_refusal_replays_the_refusal(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway)
    with pytest.raises(GatewayError):
        client.cancel(key, 99_000, "over", idempotency_key="refund-r")
    assert client.reconcile(key, "refund-r", 99_000, before_cancel_count=0) is None
    assert ledger(gateway, key) == []


def refuse_next(url: str, code: str, append: bool = False) -> None:
    body = {"mode": "refuse", "status": 400, "code": code, "append": append}
    requests.post(f"{url}/_faults", json=body, timeout=5).raise_for_status()


def test_a_retry_refused_after_an_unanswered_attempt_is_unknown_not_a_refusal(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    client = make_client(gateway, retries=1)
    arm(gateway, "applied_then_500")  # the first attempt is applied, its answer lost
    refuse_next(gateway, "ALREADY_CANCELED_PAYMENT", append=True)  # the retry is refused
    with pytest.raises(OutcomeUnknown) as caught:
        client.cancel(key, None, "whole order", idempotency_key="refund-rr")
    assert not isinstance(caught.value, GatewayError)
    assert "reconcile" in str(caught.value) and "ALREADY_CANCELED_PAYMENT" in str(caught.value)
    assert len(ledger(gateway, key)) == 1  # it did happen
    found = make_client(gateway).reconcile(key, "refund-rr", None, reason="whole order")
    assert found is not None and found.balance_amount == 0


def test_a_refused_replay_is_checked_against_the_payments_cancels(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    client = make_client(gateway, retries=0)
    arm(gateway, "applied_then_500")
    with pytest.raises(OutcomeUnknown):
        client.cancel(key, 6_000, "lost answer", idempotency_key="refund-lost")
    # A gateway that lost the key refuses the replay although the refund happened.
    refuse_next(gateway, "NOT_CANCELABLE_AMOUNT")
    found = client.reconcile(key, "refund-lost", 6_000, before_cancel_count=0)
    assert found is not None and found.balance_amount == 24_000
    assert len(ledger(gateway, key)) == 1


def test_slow_on_every_attempt_is_unknown_and_uses_one_key(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway, timeout=0.25)
    # Every request waits 0.6 s before it is handled, then is handled: the first one applies.
    arm(gateway, "slow", delay=0.6, count=100)

    with pytest.raises(OutcomeUnknown) as caught:
        client.cancel(key, 3_000, "slow", idempotency_key="refund-slow-all")
    assert_secret_free(caught.value)
    assert client.session.posts() == 3  # the first attempt and two retries
    assert client.session.keys_sent() == {"refund-slow-all"}

    arm(gateway, "none")
    # Let the requests still sleeping in the gateway finish, then count what they did.
    wait_for(lambda: idempotency_rows(tiny_demo.dir) == [("refund-slow-all", "done")])
    time.sleep(0.8)
    assert idempotency_rows(tiny_demo.dir) == [("refund-slow-all", "done")]
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [3_000]
    found = client.reconcile(key, "refund-slow-all", 3_000, before_cancel_count=0)
    assert found is not None and found.balance_amount == 17_000
    assert len(ledger(gateway, key)) == 1


def test_key_still_in_progress_is_unknown_until_it_finishes(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    arm(gateway, "processing_slow", delay=3.5, count=1)
    # Another request under the same key holds it in flight at the gateway.
    holder = threading.Thread(
        target=make_client(gateway, timeout=5).cancel,
        args=(key, 1_000, "busy", "refund-busy"),
    )
    holder.start()
    time.sleep(0.15)
    # Its first attempt, within 1 s of the holder's, is refused FORBIDDEN_CONSECUTIVE_REQUEST
    # (that says nothing of the key); the retry, spaced, finds the key in progress.
    client = make_client(gateway, retries=1)
    try:
        with pytest.raises(OutcomeUnknown) as caught:
            client.cancel(key, 1_000, "busy", idempotency_key="refund-busy")
        assert "in progress" in str(caught.value)
        with pytest.raises(OutcomeUnknown):  # the gateway may still apply it
            client.reconcile(key, "refund-busy", 1_000, before_cancel_count=0)
    finally:
        holder.join(timeout=5)
    found = client.reconcile(key, "refund-busy", 1_000, before_cancel_count=0)
    assert found is not None and found.balance_amount == 19_000
    assert len(ledger(gateway, key)) == 1


# --- no gateway, or a gateway that hangs up --------------------------------------------------


def test_no_gateway_listening_means_nothing_was_sent(tiny_demo):
    url = f"http://127.0.0.1:{free_port()}"
    client = make_client(url, retries=1)
    with pytest.raises(GatewayUnavailable) as caught:
        client.cancel("tpk_test_0001", 1_000, "x", idempotency_key="refund-down")
    assert isinstance(caught.value, GatewayError)  # definite: nothing happened
    assert str(caught.value).startswith("Gateway unavailable: ")
    assert_secret_free(caught.value)
    with pytest.raises(GatewayUnavailable):
        client.get("tpk_test_0001")
    with pytest.raises(OutcomeUnknown) as unknown:
        client.reconcile("tpk_test_0001", "refund-down", 1_000, before_cancel_count=0)
    assert_secret_free(unknown.value)


def test_connection_closed_after_sending_is_unknown():
    """A server that reads the whole request and hangs up without answering."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                data = b""
                while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (int(h.split(b":")[1]) for h in head.split(b"\r\n")
                     if h.lower().startswith(b"content-length")),
                    0,
                )  # fmt: skip
                while len(body) < length and (chunk := conn.recv(4096)):
                    body += chunk
                # Hang up without a word: the request was received, no answer is sent.

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client = make_client(f"http://127.0.0.1:{port}", retries=1)
        with pytest.raises(OutcomeUnknown) as caught:
            client.cancel("tpk_test_0001", 1_000, "x", idempotency_key="refund-reset")
        assert "connection lost" in str(caught.value)
        assert client.session.keys_sent() == {"refund-reset"}
        assert_secret_free(caught.value)
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


# --- virtual-account refunds (issue 8, point 1) ------------------------------------------------
# Toss: a paid-in virtual-account payment is canceled with refundReceiveAccount {bank,
# accountNumber, holderName} (docs.tosspayments.com, guides/apis/cancel-payment; reference).

ACCOUNT_NUMBER, HOLDER = "11012345678", "홍길동"


@pytest.fixture
def va_gateway(tiny_demo, start_service) -> tuple[str, str]:
    """The gateway with one paid-in virtual-account payment of 30,000; (url, payment key)."""
    key = tiny_demo.payment_key("DONE", 30_000)
    with closing(sqlite3.connect(tiny_demo.dir / "shop.sqlite")) as con, con:
        con.execute("UPDATE payments SET method = 'virtual_account' WHERE payment_key = ?", (key,))
    return start_service("gateway", tiny_demo.dir), key


def _account() -> RefundAccount:
    return RefundAccount("88", ACCOUNT_NUMBER, HOLDER)


def test_cancel_sends_the_refund_account_as_refund_receive_account(va_gateway, caplog):
    url, key = va_gateway
    client = make_client(url)
    with pytest.raises(GatewayError) as refused:
        client.cancel(key, 10_000, "customer request", idempotency_key="va-no-account")
    assert refused.value.code == "INVALID_REQUEST"

    done = client.cancel(
        key, 10_000, "customer request", idempotency_key="va-1", refund_account=_account()
    )
    assert (done.status, done.balance_amount) == ("PARTIAL_CANCELED", 20_000)
    assert [c["cancelAmount"] for c in ledger(url, key)] == [10_000]
    # Never in a log line, nor in the account's own repr.
    assert ACCOUNT_NUMBER not in caplog.text and HOLDER not in caplog.text
    assert ACCOUNT_NUMBER not in repr(_account()) and HOLDER not in repr(_account())


def test_a_refused_refund_account_is_not_in_the_error(va_gateway):
    url, key = va_gateway
    client = make_client(url)
    bad = RefundAccount("99", ACCOUNT_NUMBER, HOLDER)  # not a bank code
    with pytest.raises(GatewayError) as refused:
        client.cancel(key, 10_000, "customer request", idempotency_key="va-bad", refund_account=bad)
    assert refused.value.code == "INVALID_BANK"
    for text in (str(refused.value), repr(refused.value), refused.value.message):
        assert ACCOUNT_NUMBER not in text and HOLDER not in text
    assert ledger(url, key) == []


def test_an_unknown_virtual_account_refund_is_reconciled_with_the_account_kept_in_memory(
    va_gateway, caplog
):
    url, key = va_gateway
    client = make_client(url, retries=0)
    arm(url, "applied_then_500")
    with pytest.raises(OutcomeUnknown) as unknown:
        client.cancel(
            key, 10_000, "customer request", idempotency_key="va-unknown", refund_account=_account()
        )
    assert ACCOUNT_NUMBER not in str(unknown.value)
    # The replay carries the same body (the account from memory): the stored answer comes back.
    found = client.reconcile(key, "va-unknown", 10_000, 0)
    assert found is not None and found.balance_amount == 20_000
    assert len(ledger(url, key)) == 1
    # A client that never saw the body (another process) replays without the account: refused,
    # and the lookup decides by the cancel after the count.
    fresh = make_client(url)
    again = fresh.reconcile(key, "va-unknown", 10_000, 0, reason="customer request")
    assert again is not None and len(ledger(url, key)) == 1
    assert ACCOUNT_NUMBER not in caplog.text and HOLDER not in caplog.text


# --- Toss's documented behaviour (docs.tosspayments.com) ------------------------------------


def refuse_with(url: str, status: int, code: str, count: int = 1) -> None:
    body = {"mode": "refuse", "status": status, "code": code, "count": count}
    requests.post(f"{url}/_faults", json=body, timeout=5).raise_for_status()


def test_provider_error_is_temporary_the_retry_a_second_later_refunds_once(tiny_demo, gateway):
    # reference/error-codes: 400 PROVIDER_ERROR "일시적인 오류가 발생했습니다. 잠시 후 다시
    # 시도해주세요." A 400 that means "try again", so never a final no.
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway, retries=1)
    refuse_with(gateway, 400, "PROVIDER_ERROR")
    started = time.monotonic()
    done = client.cancel(key, 5_000, "provider hiccup", idempotency_key="refund-provider")
    assert (done.status, done.balance_amount) == ("PARTIAL_CANCELED", 15_000)
    assert time.monotonic() - started >= 1.0  # Toss takes one cancel of a payment a second
    assert client.session.keys_sent() == {"refund-provider"}
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [5_000]


def test_a_consecutive_request_refusal_while_the_first_completes_is_not_a_no(tiny_demo, gateway):
    # The first attempt is still being processed; another replica sends the same refund (same
    # key) within 1 s. Toss refuses it 403 FORBIDDEN_CONSECUTIVE_REQUEST: that says nothing of
    # the first, which completes. The second never takes it for a no, and no refund is doubled.
    key = tiny_demo.payment_key("DONE", 20_000)
    arm(gateway, "processing_slow", delay=1.8)
    first = threading.Thread(
        target=make_client(gateway, timeout=5, retries=0).cancel,
        args=(key, 4_000, "slow provider", "refund-consecutive"),
    )
    first.start()
    time.sleep(0.2)
    second = make_client(gateway, retries=0)
    try:
        with pytest.raises(OutcomeUnknown, match="FORBIDDEN_CONSECUTIVE_REQUEST") as caught:
            second.cancel(key, 4_000, "slow provider", idempotency_key="refund-consecutive")
        assert not isinstance(caught.value, GatewayError)
        assert ledger(gateway, key) == []  # the first is still being applied
        with pytest.raises(OutcomeUnknown):  # its replay finds the key in progress
            second.reconcile(key, "refund-consecutive", 4_000, before_cancel_count=0)
    finally:
        first.join(timeout=5)
    found = second.reconcile(key, "refund-consecutive", 4_000, before_cancel_count=0)
    assert found is not None and found.balance_amount == 16_000
    assert found.balance_amount == make_client(gateway).get(key).balance_amount
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [4_000]


def age_key(demo_dir: Path, key: str, days: float) -> None:
    with closing(sqlite3.connect(demo_dir / "gateway.sqlite")) as con, con:
        con.execute(
            "UPDATE idempotency SET started_at = started_at - ? WHERE key = ?", (days * 86400, key)
        )


def test_a_key_older_than_toss_keeps_is_never_replayed_at_reconcile(tiny_demo, gateway):
    # reference/using-api/idempotency: a key is kept 15 days; after that the same key is a
    # new request, so replaying it would refund a second time.
    key = tiny_demo.payment_key("DONE", 20_000)
    client = make_client(gateway, retries=0)
    arm(gateway, "applied_then_500")
    with pytest.raises(OutcomeUnknown):
        client.cancel(key, 3_000, "old refund", idempotency_key="refund-old")
    age_key(tiny_demo.dir, "refund-old", days=15)
    posts = client.session.posts()
    time.sleep(1.1)
    found = client.reconcile(
        key, "refund-old", 3_000, before_cancel_count=0, key_sent_at=time.time() - 15 * 86400
    )
    assert found is not None and found.balance_amount == 17_000
    assert client.session.posts() == posts  # decided by lookup only
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [3_000]
    # The sandbox forgot the key as Toss does: the same key now is a new cancel.
    again = requests.post(
        f"{gateway}/v1/payments/{key}/cancel",
        json={"cancelReason": "old refund", "cancelAmount": 3_000},
        headers={**BASIC, "Idempotency-Key": "refund-old"},
        timeout=5,
    )
    assert again.json()["balanceAmount"] == 14_000


def test_a_reason_longer_than_toss_takes_is_never_sent(tiny_demo, gateway):
    # guides/apis/cancel-payment: cancelReason is at most 200 characters.
    client = make_client(gateway)
    with pytest.raises(ValueError, match="200"):
        client.cancel(tiny_demo.payment_key("DONE", 20_000), 1_000, "x" * 201, "refund-long")
    assert client.session.posts() == 0


class _Stub:
    """A one-payment gateway over real HTTP answering GET with `payment` (JSON)."""

    def __init__(self, payment: dict) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps(payment).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name): answers a cancel with it
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_cancel_listed_but_not_done_keeps_the_refund_unknown_and_amounts_stay_exact():
    # The Payment object: cancels[].cancelStatus is DONE for a cancel that went through;
    # amounts are numbers (other currencies carry decimals).
    from decimal import Decimal

    stub = _Stub(
        {
            "paymentKey": "pay_usd",
            "orderId": "order-0001",
            "status": "DONE",
            "method": "카드",
            "totalAmount": 100.5,
            "balanceAmount": 100.5,
            "approvedAt": "2026-11-30T00:00:00+09:00",
            "cancels": [
                {
                    "cancelAmount": 40.25,
                    "cancelReason": "late",
                    "canceledAt": "2026-11-30T01:00:00+09:00",
                    "transactionKey": "tx1",
                    "cancelStatus": "IN_PROGRESS",
                }
            ],
        }
    )
    try:
        client = PaymentsClient(GatewayConfig(stub.url, DEFAULT_SECRET, retries=0))
        found = client.get("pay_usd")
        assert (found.total_amount, found.cancels[0].amount) == (Decimal("100.5"), Decimal("40.25"))
        assert not found.cancels[0].applied
        # Our cancel is listed but not DONE: the money may still move, so it is neither a
        # refund nor "nothing happened" (which would free the amount): unknown.
        with pytest.raises(OutcomeUnknown, match="IN_PROGRESS"):
            client.reconcile("pay_usd", "k-usd", None, before_cancel_count=0)
        with pytest.raises(OutcomeUnknown, match="IN_PROGRESS"):
            client.reconcile("pay_usd", "k-usd", None, before_cancel_count=0, reason="late")
        # A 200 to the cancel itself whose cancel is not DONE is no refund either.
        with pytest.raises(OutcomeUnknown, match="IN_PROGRESS"):
            client.cancel("pay_usd", None, "late", idempotency_key="k-usd-2")
    finally:
        stub.close()


# --- reconcile never frees an amount the gateway may still refund ---------------------------


def _va_refund_in_flight(url: str, key: str, idem: str, delay: float = 3.0) -> threading.Thread:
    """A virtual-account refund of 10,000 held in flight at the gateway for `delay` s."""
    arm(url, "processing_slow", delay=delay)
    sender = make_client(url, timeout=delay + 3, retries=0)
    thread = threading.Thread(
        target=sender.cancel,
        args=(key, 10_000, "customer request", idem),
        kwargs={"refund_account": _account()},
    )
    thread.start()
    time.sleep(1.2)  # past the gateway's 1 s between cancels of a payment
    return thread


def test_a_virtual_account_refund_in_flight_is_not_freed_by_a_process_that_did_not_send_it(
    va_gateway,
):
    # Another process (a restart, another replica) reconciles while the first request is still
    # being applied. Its replay lacks the refund account (kept nowhere): the gateway says
    # "in progress", and the refund stays unknown until the gateway has decided.
    url, key = va_gateway
    sender = _va_refund_in_flight(url, key, "va-race")
    fresh = make_client(url, retries=0)
    try:
        with pytest.raises(OutcomeUnknown):
            fresh.reconcile(key, "va-race", 10_000, 0, reason="customer request")
    finally:
        sender.join(timeout=10)
    found = fresh.reconcile(key, "va-race", 10_000, 0, reason="customer request")
    assert found is not None and found.balance_amount == 20_000
    assert found.balance_amount == make_client(url).get(key).balance_amount
    assert [c["cancelAmount"] for c in ledger(url, key)] == [10_000]


def test_a_refused_replay_of_a_rebuilt_body_is_no_proof_that_nothing_happened(va_gateway):
    # A gateway may compare the body before it looks for a request in flight (as Toss might):
    # the rebuilt replay (no account) is refused INVALID_REQUEST, which says nothing of our key.
    url, key = va_gateway
    sender = _va_refund_in_flight(url, key, "va-rebuilt")
    body = {"mode": "refuse", "status": 400, "code": "INVALID_REQUEST"}
    requests.post(f"{url}/_faults", json=body, timeout=5).raise_for_status()
    try:
        with pytest.raises(OutcomeUnknown):
            make_client(url, retries=0).reconcile(
                key, "va-rebuilt", 10_000, 0, reason="customer request"
            )
    finally:
        sender.join(timeout=10)
    assert [c["cancelAmount"] for c in ledger(url, key)] == [10_000]  # it did happen


def test_a_replay_that_was_never_sent_keeps_an_unanswered_refund_unknown(tiny_demo, gateway):
    # The first attempt timed out on our side while the gateway still works on it; the
    # replay is rate limited (429, never processed): the lookup finds nothing yet, and that
    # must not be taken for "nothing happened".
    key = tiny_demo.payment_key("DONE", 20_000)
    arm(gateway, "processing_slow", delay=2.5)
    body = {"mode": "refuse", "status": 429, "code": "TOO_MANY_REQUESTS", "append": True}
    requests.post(f"{gateway}/_faults", json=body, timeout=5).raise_for_status()
    client = make_client(gateway, retries=0)
    with pytest.raises(OutcomeUnknown):
        client.cancel(key, 3_000, "slow", idempotency_key="refund-429")
    with pytest.raises(OutcomeUnknown):
        client.reconcile(key, "refund-429", 3_000, before_cancel_count=0)
    wait_for(lambda: idempotency_rows(tiny_demo.dir) == [("refund-429", "done")])
    found = client.reconcile(key, "refund-429", 3_000, before_cancel_count=0)
    assert found is not None and found.balance_amount == 17_000
    assert [c["cancelAmount"] for c in ledger(gateway, key)] == [3_000]


class _Refusing:
    """A gateway over real HTTP that refuses every cancel with `message` (an echo)."""

    def __init__(self, message: str) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps({"code": "INVALID_REFUND_ACCOUNT_NUMBER", "message": message}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_echoed_refund_account_is_masked_even_with_separators_or_cut():
    # The echo straddles the 300-character cut, and is written with separators.
    stub = _Refusing("x" * 290 + " 110-1234-5678 " + HOLDER + " / 110 1234 5678")
    try:
        client = make_client(stub.url, retries=0)
        with pytest.raises(GatewayError) as refused:
            client.cancel(
                "pay_va", 1_000, "r", idempotency_key="va-echo", refund_account=_account()
            )
        for text in (str(refused.value), repr(refused.value), refused.value.message):
            assert "110-1234" not in text and "1234" not in text and HOLDER not in text
    finally:
        stub.close()


def test_a_settled_refund_leaves_no_refund_account_in_the_clients_memory(va_gateway):
    url, key = va_gateway
    client = make_client(url)
    client.cancel(
        key, 10_000, "customer request", idempotency_key="va-forget", refund_account=_account()
    )
    assert ACCOUNT_NUMBER not in repr(vars(client)) and HOLDER not in repr(vars(client))
