"""The demo back ends over real HTTP: pagination, auth, the gateway's ledger rules, faults."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing

import pytest
import requests

from lib.config.settings import ROOT
from lib.demo.services.auth import basic_secret_header
from lib.demo.services.serve import DEFAULT_SECRET, DEFAULT_TOKEN, free_port
from lib.reading.sources import rest
from lib.reading.sources.base import SourceConfig

pytestmark = pytest.mark.integration

BEARER = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
BASIC = {"Authorization": basic_secret_header(DEFAULT_SECRET)}


def get(url: str, **params) -> requests.Response:
    return requests.get(url, params=params, headers=BEARER, timeout=10)


def arm(base_url: str, mode: str, delay: float = 1.0, count: int = 1) -> None:
    resp = requests.post(
        f"{base_url}/_faults", json={"mode": mode, "delay": delay, "count": count}, timeout=5
    )
    resp.raise_for_status()


# --- customer API ----------------------------------------------------------------------------


def test_customer_pages_return_every_customer_exactly_once(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    seen, page = [], 1
    while True:
        body = get(f"{url}/customers", page=page, per_page=3).json()
        assert body["total"] == len(tiny_demo.customer_ids)
        assert (body["page"], body["per_page"]) == (page, 3)
        seen += [item["id"] for item in body["items"]]
        if page * 3 >= body["total"]:
            break
        page += 1
    assert page == 3
    assert seen == tiny_demo.customer_ids
    assert get(f"{url}/customers", page=4, per_page=3).json()["items"] == []


def test_customer_profile_is_fixed_by_id(tiny_demo, start_service):
    first = start_service("customer_api", tiny_demo.dir)
    second = start_service("customer_api", tiny_demo.dir)  # another process would agree too
    listed = {c["id"]: c for c in get(f"{first}/customers", per_page=100).json()["items"]}
    one = get(f"{second}/customers/5").json()
    assert one == listed[5]
    assert set(one) == {"id", "loyalty_tier", "points", "marketing_opt_in", "last_login_at"}
    assert one["loyalty_tier"] in ("bronze", "silver", "gold", "platinum")
    assert isinstance(one["points"], int) and isinstance(one["marketing_opt_in"], bool)
    assert one["last_login_at"] >= "2024-05-15T"  # not before customer 5 signed up


def test_unknown_customer_is_404(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    resp = get(f"{url}/customers/999")
    assert resp.status_code == 404
    assert "999" in resp.json()["detail"]


def test_customer_api_refuses_requests_without_the_token(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    assert requests.get(f"{url}/customers", timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.get(f"{url}/customers/1", headers=wrong, timeout=5).status_code == 401
    assert requests.get(f"{url}/health", timeout=5).json()["status"] == "ok"


def test_customers_filtered_by_tier_page_through_that_tier_only(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    everyone = get(f"{url}/customers", per_page=100).json()["items"]
    for tier in ("bronze", "silver", "gold", "platinum"):
        expected = [c for c in everyone if c["loyalty_tier"] == tier]
        first = get(f"{url}/customers", tier=tier, per_page=2).json()
        assert first["total"] == len(expected)
        pages = [first] + [
            get(f"{url}/customers", tier=tier, per_page=2, page=p).json()
            for p in range(2, len(expected) // 2 + 2)
        ]
        assert [c for body in pages for c in body["items"]] == expected
    assert get(f"{url}/customers", tier="diamond").status_code == 422


def test_every_service_health_names_itself_and_its_version(tiny_demo, start_service):
    for name in ("customer_api", "order_api", "gateway"):
        body = requests.get(f"{start_service(name, tiny_demo.dir)}/health", timeout=5).json()
        assert (body["status"], body["service"]) == ("ok", name)
        assert re.fullmatch(r"\d+\.\d+\.\d+", body["version"])


def test_customer_page_size_is_bounded(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    assert get(f"{url}/customers", per_page=5000).status_code == 422
    assert get(f"{url}/customers", page=0).status_code == 422


# --- order API -------------------------------------------------------------------------------


def walk_orders(url: str, limit: int, **filters) -> tuple[list[dict], int]:
    items, cursor, calls = [], None, 0
    while True:
        params = {"limit": limit, **filters, **({"cursor": cursor} if cursor else {})}
        body = get(f"{url}/orders", **params).json()
        calls += 1
        assert body["items"], "a page was empty: the previous page should have ended the walk"
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items, calls


def test_order_cursor_walks_every_order_exactly_once(tiny_demo, start_service):
    url = start_service("order_api", tiny_demo.dir)
    items, calls = walk_orders(url, limit=4)
    assert [o["id"] for o in items] == sorted(tiny_demo.orders)
    assert calls == 6  # 23 orders, 4 a page, and no trailing empty page
    first = items[0]
    assert set(first) == {
        "id", "customer_id", "status", "amount", "ordered_at",
        "shipping_status", "carrier", "tracking_no",
    }  # fmt: skip
    assert first["ordered_at"] == "2026-03-01T10:00:00Z"
    assert {o["shipping_status"] for o in items} <= {
        "preparing",
        "shipped",
        "delivered",
        "returned",
    }


def test_order_filters_hold_across_pages(tiny_demo, start_service):
    url = start_service("order_api", tiny_demo.dir)
    mine, _ = walk_orders(url, limit=2, customer_id=3)
    expected = [i for i, o in tiny_demo.orders.items() if o["customer_id"] == 3]
    assert [o["id"] for o in mine] == expected
    refunded, _ = walk_orders(url, limit=2, status="refunded")
    assert [o["id"] for o in refunded] == [
        i for i, o in tiny_demo.orders.items() if o["status"] == "refunded"
    ]
    assert all(o["shipping_status"] == "returned" for o in refunded)
    assert get(f"{url}/orders", status="lost").status_code == 422


def test_order_api_shows_status_changes_at_once(tiny_demo, start_service):
    url = start_service("order_api", tiny_demo.dir)
    pending = next(i for i, o in tiny_demo.orders.items() if o["status"] == "pending")
    before = get(f"{url}/orders", status="pending", limit=100).json()["items"]
    assert pending in [o["id"] for o in before]
    tiny_demo.set_order_status(pending, "refunded")
    after = get(f"{url}/orders", customer_id=tiny_demo.orders[pending]["customer_id"]).json()
    changed = next(o for o in after["items"] if o["id"] == pending)
    assert (changed["status"], changed["shipping_status"]) == ("refunded", "returned")


def test_order_api_refuses_bad_cursor_and_missing_token(tiny_demo, start_service):
    url = start_service("order_api", tiny_demo.dir)
    assert get(f"{url}/orders", cursor="not-a-cursor!").status_code == 400
    assert requests.get(f"{url}/orders", timeout=5).status_code == 401


# --- payment gateway -------------------------------------------------------------------------


@pytest.fixture
def gateway(tiny_demo, start_service) -> str:
    return start_service("gateway", tiny_demo.dir)


def payment(gateway: str, key: str) -> dict:
    resp = requests.get(f"{gateway}/v1/payments/{key}", headers=BASIC, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()


def applied(gateway: str, key: str) -> list[dict]:
    resp = requests.get(
        f"{gateway}/v1/_ledger/cancels", params={"paymentKey": key}, headers=BASIC, timeout=5
    )
    resp.raise_for_status()
    return resp.json()


# The sandbox, as Toss, processes only the first of two cancels of one payment within 1 s
# (403 FORBIDDEN_CONSECUTIVE_REQUEST): `cancel` spaces its requests per payment unless told not to.
CANCEL_SPACING = 1.1
_last_cancel: dict[str, float] = {}


def cancel(
    gateway: str,
    key: str,
    amount: int | None = None,
    idem: str | None = None,
    reason: str = "customer request",
    timeout: float = 10,
    spaced: bool = True,
) -> requests.Response:
    body = {"cancelReason": reason, **({"cancelAmount": amount} if amount is not None else {})}
    headers = {**BASIC, "Idempotency-Key": idem or uuid.uuid4().hex}
    if spaced:
        wait_to_cancel(gateway, key)
    try:
        return requests.post(
            f"{gateway}/v1/payments/{key}/cancel", json=body, headers=headers, timeout=timeout
        )
    finally:
        cancelled(gateway, key)


def wait_to_cancel(gateway: str, key: str) -> None:
    """Sleep until CANCEL_SPACING has passed since the last cancel of this payment ended."""
    last = _last_cancel.get(f"{gateway}/{key}")
    if last is not None:
        time.sleep(max(0.0, last + CANCEL_SPACING - time.monotonic()))


def cancelled(gateway: str, key: str) -> None:
    # Counted from the answer, not the request: on a busy machine the sandbox may take the
    # request in well after it was sent, and 1.1 s from sending is then under 1 s for it.
    _last_cancel[f"{gateway}/{key}"] = time.monotonic()


def test_payment_lookup_and_unknown_payment(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    found = payment(gateway, key)
    assert found == {
        "paymentKey": key,
        # As Toss's Payment object: orderId a string, method in Korean (the shop says "card").
        "orderId": str(tiny_demo.payments[key]["order_id"]),
        "status": "DONE",
        "method": "카드",
        "totalAmount": 30_000,
        "balanceAmount": 30_000,
        "approvedAt": found["approvedAt"],
        "cancels": [],
    }
    assert found["approvedAt"].endswith("Z")
    resp = requests.get(f"{gateway}/v1/payments/tpk_nope", headers=BASIC, timeout=5)
    assert resp.status_code == 404
    assert resp.json()["code"] == "NOT_FOUND_PAYMENT"


def test_ledger_starts_from_the_shop_payments(tiny_demo, gateway, start_service):
    key = tiny_demo.payment_key("PARTIAL_CANCELED")
    seeded = payment(gateway, key)
    total, balance = seeded["totalAmount"], seeded["balanceAmount"]
    assert 0 < balance < total
    assert sum(c["cancelAmount"] for c in seeded["cancels"]) == total - balance
    # A restart over the same ledger neither reseeds nor duplicates anything.
    again = start_service("gateway", tiny_demo.dir)
    assert payment(again, key) == seeded


def test_gateway_refuses_a_wrong_secret_key(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE")
    wrong = {"Authorization": basic_secret_header("test_sk_other"), "Idempotency-Key": "k1"}
    for resp in (
        requests.get(f"{gateway}/v1/payments/{key}", timeout=5),
        requests.get(f"{gateway}/v1/payments/{key}", headers=wrong, timeout=5),
        requests.post(
            f"{gateway}/v1/payments/{key}/cancel",
            json={"cancelReason": "x"},
            headers=wrong,
            timeout=5,
        ),
    ):
        assert resp.status_code == 401
        assert resp.json()["code"] == "UNAUTHORIZED_KEY"
    assert applied(gateway, key) == []


def test_cancel_needs_an_idempotency_key_and_a_reason(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE")
    url = f"{gateway}/v1/payments/{key}/cancel"
    no_key = requests.post(url, json={"cancelReason": "x"}, headers=BASIC, timeout=5)
    assert (no_key.status_code, no_key.json()["code"]) == (400, "INVALID_REQUEST")
    headers = {**BASIC, "Idempotency-Key": "k-reason"}
    no_reason = requests.post(url, json={"cancelAmount": 100}, headers=headers, timeout=5)
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "INVALID_REQUEST")
    # A request refused before it ran stores nothing under its key.
    assert cancel(gateway, key, idem="k-reason").status_code == 200


def test_full_cancel_takes_the_whole_balance(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    resp = cancel(gateway, key, reason="out of stock")
    assert resp.status_code == 200
    body = resp.json()
    assert (body["status"], body["balanceAmount"]) == ("CANCELED", 0)
    [only] = body["cancels"]
    assert (only["cancelAmount"], only["cancelReason"]) == (30_000, "out of stock")
    assert only["transactionKey"] and only["canceledAt"].endswith("Z")
    again = cancel(gateway, key)
    assert (again.status_code, again.json()["code"]) == (400, "ALREADY_CANCELED_PAYMENT")
    assert payment(gateway, key) == body


def test_partial_cancels_down_to_zero(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    statuses = []
    for amount in (10_000, 15_000, 5_000):
        resp = cancel(gateway, key, amount)
        assert resp.status_code == 200, resp.text
        statuses.append((resp.json()["status"], resp.json()["balanceAmount"]))
    assert statuses == [("PARTIAL_CANCELED", 20_000), ("PARTIAL_CANCELED", 5_000), ("CANCELED", 0)]
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [10_000, 15_000, 5_000]


def test_cancel_beyond_the_balance_is_refused(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    for amount in (20_001, 0, -100):
        resp = cancel(gateway, key, amount)
        # Toss documents NOT_CANCELABLE_AMOUNT as 403 (reference/error-codes, 결제 취소).
        assert (resp.status_code, resp.json()["code"]) == (403, "NOT_CANCELABLE_AMOUNT")
    # ABORTED is an approval that failed (the Payment object's status), not a cancel.
    aborted = cancel(gateway, tiny_demo.payment_key("ABORTED"))
    assert (aborted.status_code, aborted.json()["code"]) == (403, "NOT_CANCELABLE_PAYMENT")
    assert payment(gateway, key)["balanceAmount"] == 20_000
    assert applied(gateway, key) == []


def test_same_idempotency_key_replays_the_first_answer(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    first = cancel(gateway, key, 10_000, idem="refund-1")
    cancel(gateway, key, 5_000)  # the payment moves on under another key
    replay = cancel(gateway, key, 10_000, idem="refund-1")
    assert (replay.status_code, replay.json()) == (first.status_code, first.json())
    assert replay.json()["balanceAmount"] == 20_000  # the first answer, not today's state
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [10_000, 5_000]
    # Refusals replay too, with their status.
    over = cancel(gateway, key, 99_999, idem="refund-2")
    assert cancel(gateway, key, 99_999, idem="refund-2").json() == over.json()


def test_same_idempotency_key_with_another_body_is_refused(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    assert cancel(gateway, key, 10_000, idem="refund-1").status_code == 200
    other = cancel(gateway, key, 12_000, idem="refund-1")
    assert (other.status_code, other.json()["code"]) == (422, "INVALID_REQUEST")
    other_payment = cancel(gateway, tiny_demo.payment_key("DONE", 20_000), 10_000, idem="refund-1")
    assert other_payment.status_code == 422
    assert len(applied(gateway, key)) == 1


def run_together(n: int, call) -> list[requests.Response]:
    barrier = threading.Barrier(n)
    results: list[requests.Response | None] = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def test_concurrent_requests_with_one_key_apply_once(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    results = run_together(8, lambda _: cancel(gateway, key, 1_000, idem="same-key", spaced=False))
    ok = [r.json() for r in results if r.status_code == 200]
    busy = [r.json()["code"] for r in results if r.status_code in (403, 409)]
    assert len(ok) + len(busy) == 8
    assert ok and all(body == ok[0] for body in ok)
    assert set(busy) <= {"IDEMPOTENT_REQUEST_PROCESSING", "FORBIDDEN_CONSECUTIVE_REQUEST"}
    assert len(applied(gateway, key)) == 1
    assert payment(gateway, key)["balanceAmount"] == 29_000


def test_key_in_flight_answers_409_then_replays(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "processing_slow", delay=2.5)
    first: list[requests.Response] = []
    slow = threading.Thread(target=lambda: first.append(cancel(gateway, key, 1_000, idem="k")))
    slow.start()
    time.sleep(0.3)
    # Within 1 s of the first, Toss does not even look at the key.
    too_soon = cancel(gateway, key, 1_000, idem="k", spaced=False)
    assert (too_soon.status_code, too_soon.json()["code"]) == (403, "FORBIDDEN_CONSECUTIVE_REQUEST")
    time.sleep(1.0)
    busy = cancel(gateway, key, 1_000, idem="k", spaced=False)
    assert (busy.status_code, busy.json()["code"]) == (409, "IDEMPOTENT_REQUEST_PROCESSING")
    slow.join(timeout=10)
    assert first[0].status_code == 200
    assert cancel(gateway, key, 1_000, idem="k").json() == first[0].json()
    assert len(applied(gateway, key)) == 1


def test_key_in_flight_answers_409_whatever_the_body(tiny_demo, gateway):
    # A request under a key still in flight is "in progress" even with another body (e.g. a
    # replay without the refund account from a process that did not send the first): a
    # refusal would tell that client that nothing happened while the first is being applied.
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "processing_slow", delay=2.5)
    first: list[requests.Response] = []
    slow = threading.Thread(target=lambda: first.append(cancel(gateway, key, 1_000, idem="kb")))
    slow.start()
    time.sleep(1.2)  # past the 1 s between cancels of a payment
    other = cancel(gateway, key, 2_000, idem="kb", spaced=False)
    assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENT_REQUEST_PROCESSING")
    slow.join(timeout=10)
    assert first[0].status_code == 200
    # Once the key is done, another body under it is refused, as before.
    assert cancel(gateway, key, 2_000, idem="kb").status_code == 422
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [1_000]


def test_concurrent_cancels_of_one_payment_process_only_the_first(tiny_demo, gateway):
    # Toss: two cancels of one payment within 1 s, only the first is processed; the others get
    # 403 FORBIDDEN_CONSECUTIVE_REQUEST (docs.tosspayments.com/reference/error-codes, 결제 취소).
    key = tiny_demo.payment_key("DONE", 30_000)
    results = run_together(10, lambda _: cancel(gateway, key, 7_000, spaced=False))
    codes = sorted(r.json().get("code", "ok") for r in results)
    assert codes == ["FORBIDDEN_CONSECUTIVE_REQUEST"] * 9 + ["ok"]
    assert {r.status_code for r in results} == {200, 403}
    assert payment(gateway, key)["balanceAmount"] == 23_000
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [7_000]


def test_spaced_partial_cancels_never_overdraw(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    codes = [cancel(gateway, key, 7_000).json().get("code", "ok") for _ in range(3)]
    assert codes == ["ok", "ok", "NOT_CANCELABLE_AMOUNT"]
    assert payment(gateway, key)["balanceAmount"] == 6_000


# --- faults ----------------------------------------------------------------------------------


def test_error500_fault_does_no_work(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "error500")
    failed = cancel(gateway, key, idem="k")
    assert failed.status_code == 500
    assert failed.json() == {"code": "PROVIDER_ERROR", "message": "injected"}
    assert applied(gateway, key) == []
    assert cancel(gateway, key, idem="k").status_code == 200  # the retry does the work
    assert len(applied(gateway, key)) == 1


def test_slow_fault_times_the_client_out_and_the_work_still_happens(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "slow", delay=1.0)
    with pytest.raises(requests.Timeout):
        cancel(gateway, key, 4_000, idem="k", timeout=0.3)
    assert applied(gateway, key) == []  # still waiting: the outcome is unknown for now
    deadline = time.monotonic() + 5
    while not applied(gateway, key) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [4_000]
    time.sleep(CANCEL_SPACING)  # the first reached the ledger only after its delay
    replay = cancel(gateway, key, 4_000, idem="k")
    assert (replay.status_code, replay.json()["balanceAmount"]) == (200, 26_000)
    assert len(applied(gateway, key)) == 1


def test_applied_then_500_leaves_the_cancel_in_the_ledger(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "applied_then_500")
    assert cancel(gateway, key, 5_000, idem="k").status_code == 500
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [5_000]
    retry = cancel(gateway, key, 5_000, idem="k")
    assert (retry.status_code, retry.json()["balanceAmount"]) == (200, 25_000)
    assert len(applied(gateway, key)) == 1


def test_applied_then_slow_times_out_after_the_cancel_went_through(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "applied_then_slow", delay=1.0)
    with pytest.raises(requests.Timeout):
        cancel(gateway, key, idem="k", timeout=0.5)
    assert payment(gateway, key)["status"] == "CANCELED"


def test_refuse_fault_answers_a_refusal_without_doing_the_work(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    body = {"mode": "refuse", "status": 403, "code": "FORBIDDEN_REQUEST"}
    requests.post(f"{gateway}/_faults", json=body, timeout=5).raise_for_status()
    refused = cancel(gateway, key, 1_000, idem="k")
    assert (refused.status_code, refused.json()["code"]) == (403, "FORBIDDEN_REQUEST")
    assert applied(gateway, key) == []
    assert cancel(gateway, key, 1_000, idem="k").status_code == 200  # the key was not used


def test_appended_faults_apply_in_turn(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    arm(gateway, "applied_then_500")
    body = {"mode": "refuse", "code": "ALREADY_CANCELED_PAYMENT", "append": True}
    shown = requests.post(f"{gateway}/_faults", json=body, timeout=5).json()
    assert (shown["mode"], shown["queued"]) == ("applied_then_500", 1)
    answers = [cancel(gateway, key, 2_000, idem="k") for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 400, 200]
    assert answers[1].json()["code"] == "ALREADY_CANCELED_PAYMENT"
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [2_000]  # applied once


def test_faults_spare_health_and_wear_off_after_count(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    arm(url, "error500", count=2)
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    assert requests.get(f"{url}/_faults", timeout=5).json()["count"] == 2
    assert [get(f"{url}/customers/1").status_code for _ in range(3)] == [500, 500, 200]
    refused = requests.post(f"{url}/_faults", json={"mode": "processing_slow"}, timeout=5)
    assert refused.status_code == 422  # only the gateway knows how to be slow mid-request
    assert requests.post(f"{url}/_faults", json={"mode": "none"}, timeout=5).ok


def arm_json(base_url: str, append: bool = True, **spec) -> dict:
    resp = requests.post(f"{base_url}/_faults", json={**spec, "append": append}, timeout=5)
    resp.raise_for_status()
    return resp.json()


def orders_of(url: str, customer_id: int, timeout: float = 10) -> int:
    return requests.get(
        f"{url}/orders",
        params={"customer_id": customer_id, "limit": 100},
        headers=BEARER,
        timeout=timeout,
    ).status_code


def test_a_matched_fault_spares_other_requests_and_is_not_used_up_by_them(tiny_demo, start_service):
    url = start_service("order_api", tiny_demo.dir)
    arm_json(url, append=False, mode="error500", count=2, match="customer_id=3")
    assert [orders_of(url, c) for c in (1, 2, 4, 5, 6, 7)] == [200] * 6
    assert requests.get(f"{url}/_faults", timeout=5).json()["count"] == 2
    assert [orders_of(url, 3) for _ in range(3)] == [500, 500, 200]


def test_a_match_ending_in_a_digit_is_not_a_longer_number(tiny_demo, start_service):
    url = start_service("customer_api", tiny_demo.dir)
    arm_json(url, append=False, mode="error500", count=None, match="per_page=1")
    assert get(f"{url}/customers", per_page=10).status_code == 200
    assert get(f"{url}/customers", per_page=1).status_code == 500
    assert get(f"{url}/customers", per_page=1, page=2).status_code == 500  # "&page=2" follows
    arm_json(url, append=False, mode="error500", count=None, match="/customers/")
    assert get(f"{url}/customers/2").status_code == 500  # ends in "/": a plain substring
    assert get(f"{url}/customers").status_code == 200


def test_every_nth_matching_request_fails(tiny_demo, start_service):
    url = start_service("order_api", tiny_demo.dir)
    arm_json(url, append=False, mode="error500", count=None, every=3, match="/orders")
    assert [orders_of(url, 1) for _ in range(7)] == [200, 200, 500, 200, 200, 500, 200]
    shown = requests.get(f"{url}/_faults", timeout=5).json()
    assert (shown["every"], shown["seen"], shown["count"]) == (3, 7, None)


def test_armed_faults_keep_their_own_matching(tiny_demo, start_service):
    """One call in 4 fails, customer 3 always fails, customer 5 is slow: each as armed."""
    url = start_service("order_api", tiny_demo.dir)
    arm_json(url, append=False, mode="error500", count=None, match="customer_id=3")
    arm_json(url, mode="slow", delay=1.0, count=None, match="customer_id=5")
    shown = arm_json(url, mode="error500", count=None, every=4)
    assert [f["match"] for f in shown["faults"]] == ["customer_id=3", "customer_id=5", ""]
    others = [orders_of(url, c) for c in (1, 2, 4, 6, 7, 1, 2, 4)]
    assert others == [200, 200, 200, 500, 200, 200, 200, 500]
    assert [orders_of(url, 3) for _ in range(5)] == [500] * 5  # not counted by the 4th-call one
    with pytest.raises(requests.Timeout):
        orders_of(url, 5, timeout=0.3)
    started = time.monotonic()
    assert orders_of(url, 5) == 200
    assert time.monotonic() - started >= 0.9
    assert [orders_of(url, c) for c in (6, 7, 1, 2)] == [200, 200, 200, 500]  # 9th..12th
    requests.post(f"{url}/_faults", json={"mode": "none"}, timeout=5).raise_for_status()
    assert [orders_of(url, c) for c in (3, 5)] == [200, 200]


# --- with the real demo data and clients ----------------------------------------------------


def test_rest_source_reads_every_page_of_the_seeded_demo(demo_dir, start_service):
    """The app's own REST reader against the services over the full seeded demo."""
    customers = start_service("customer_api", demo_dir)
    orders = start_service("order_api", demo_dir)

    def source(name: str, base_url: str, endpoint: dict) -> SourceConfig:
        options = {"base_url": base_url, "endpoints": {"t": endpoint}}
        return SourceConfig(
            name=name, kind="rest", options=options, secrets={"token": DEFAULT_TOKEN}
        )

    profiles = rest.load(
        source(
            "customer_api",
            customers,
            {"path": "/customers", "pagination": "page", "page_size": 500},
        )
    )["t"]
    shipments = rest.load(
        source("order_api", orders, {"path": "/orders", "pagination": "cursor", "page_size": 1000})
    )["t"]
    ids = profiles.column("id").to_pylist()
    assert len(ids) == len(set(ids)) == 2000
    order_ids = shipments.column("id").to_pylist()
    assert len(order_ids) == len(set(order_ids)) == 20000


def test_serve_cli_runs_a_service(tiny_demo):
    port = free_port()
    env = {**os.environ, "BACKOFFICE_DEMO_API_TOKEN": "cli-token"}
    cmd = [sys.executable, "-m", "lib.demo.services.serve", "order_api",
           "--dir", str(tiny_demo.dir), "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail(f"serve did not start: {proc.stderr.read().decode()[-2000:]}")
        auth = {"Authorization": "Bearer cli-token"}
        body = requests.get(f"{url}/orders", params={"limit": 100}, headers=auth, timeout=5).json()
        assert len(body["items"]) == len(tiny_demo.orders)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- virtual-account refunds (issue 8, point 1) ------------------------------------------------
# Toss (docs.tosspayments.com, guides/apis/cancel-payment "가상계좌 결제 취소하기"; reference,
# refundReceiveAccount; reference/error-codes, 결제 취소): a paid-in virtual-account payment is
# refunded to {bank: a bank code, accountNumber: digits <= 20, holderName <= 60}; before the
# deposit only the whole amount can be canceled.

REFUND_TO = {"bank": "88", "accountNumber": "11012345678", "holderName": "홍길동"}


def _as_virtual_account(tiny_demo, status: str = "DONE", amount: int = 30_000) -> str:
    """Make one payment of the tiny shop a virtual-account one (before the gateway seeds)."""
    key = tiny_demo.payment_key("DONE", amount)
    with closing(sqlite3.connect(tiny_demo.dir / "shop.sqlite")) as con, con:
        con.execute(
            "UPDATE payments SET method = 'virtual_account', status = ? WHERE payment_key = ?",
            (status, key),
        )
    return key


def _cancel_to(gateway: str, key: str, account, amount: int | None = None) -> requests.Response:
    body: dict = {"cancelReason": "customer request"}
    if amount is not None:
        body["cancelAmount"] = amount
    if account is not None:
        body["refundReceiveAccount"] = account
    headers = {**BASIC, "Idempotency-Key": uuid.uuid4().hex}
    wait_to_cancel(gateway, key)  # one cancel of a payment a second, as Toss
    try:
        return requests.post(
            f"{gateway}/v1/payments/{key}/cancel", json=body, headers=headers, timeout=10
        )
    finally:
        cancelled(gateway, key)


@pytest.mark.parametrize(
    ("account", "code"),
    [
        (None, "INVALID_REQUEST"),
        ({**REFUND_TO, "bank": "99"}, "INVALID_BANK"),
        ({**REFUND_TO, "bank": "088"}, "INVALID_BANK"),
        ({**REFUND_TO, "accountNumber": "110-1234-5678"}, "INVALID_REFUND_ACCOUNT_NUMBER"),
        ({**REFUND_TO, "accountNumber": "1" * 21}, "INVALID_REFUND_ACCOUNT_NUMBER"),
        ({**REFUND_TO, "holderName": ""}, "INVALID_REFUND_ACCOUNT_INFO"),
        ({**REFUND_TO, "holderName": "김" * 61}, "INVALID_REFUND_ACCOUNT_INFO"),
    ],
)
def test_a_paid_in_virtual_account_refuses_a_cancel_without_a_valid_refund_account(
    tiny_demo, start_service, account, code
):
    key = _as_virtual_account(tiny_demo)
    gateway = start_service("gateway", tiny_demo.dir)
    resp = _cancel_to(gateway, key, account, 10_000)
    assert (resp.status_code, resp.json()["code"]) == (400, code)
    assert REFUND_TO["accountNumber"] not in resp.text
    assert applied(gateway, key) == []
    assert payment(gateway, key)["balanceAmount"] == 30_000


def test_a_paid_in_virtual_account_is_refunded_to_the_account_given(tiny_demo, start_service):
    key = _as_virtual_account(tiny_demo)
    gateway = start_service("gateway", tiny_demo.dir)
    part = _cancel_to(gateway, key, REFUND_TO, 10_000)
    assert part.status_code == 200, part.text
    assert (part.json()["status"], part.json()["balanceAmount"]) == ("PARTIAL_CANCELED", 20_000)
    rest_of_it = _cancel_to(gateway, key, {**REFUND_TO, "holderName": "Emily Clark"})
    assert (rest_of_it.json()["status"], rest_of_it.json()["balanceAmount"]) == ("CANCELED", 0)
    assert [c["cancelAmount"] for c in applied(gateway, key)] == [10_000, 20_000]
    # The ledger keeps no trace of the account (Toss answers it masked; the sandbox not at all).
    assert REFUND_TO["accountNumber"] not in str(applied(gateway, key))
    assert REFUND_TO["accountNumber"] not in part.text


def test_a_virtual_account_not_yet_paid_in_is_canceled_in_full_only(tiny_demo, start_service):
    key = _as_virtual_account(tiny_demo, status="WAITING_FOR_DEPOSIT")
    gateway = start_service("gateway", tiny_demo.dir)
    part = _cancel_to(gateway, key, None, 10_000)
    assert (part.status_code, part.json()["code"]) == (
        403,
        "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
    )
    whole = _cancel_to(gateway, key, None)  # nothing was paid in: no account to name
    assert whole.status_code == 200, whole.text
    assert (whole.json()["status"], whole.json()["balanceAmount"]) == ("CANCELED", 0)


def test_a_card_payment_is_canceled_without_a_refund_account(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 30_000)
    assert _cancel_to(gateway, key, None, 10_000).status_code == 200
