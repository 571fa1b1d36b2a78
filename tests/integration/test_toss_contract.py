"""The cancel contract, code by code: what Toss Payments documents, what the sandbox answers, and
what lib.payments.client concludes (ok / refused / unknown), over real HTTP.

DOCUMENTED is this test's own copy of Toss's table of cancel errors
(https://docs.tosspayments.com/reference/error-codes, section "결제 취소"; 409
IDEMPOTENT_REQUEST_PROCESSING from reference/using-api/idempotency): a reader checks it against
the page, and the test checks the sandbox (lib.demo.services.gateway_protocol.TOSS_CANCEL_ERRORS)
and the client (lib.payments.gateway.CANCEL_ERRORS) against it. Conditions the sandbox can
reproduce are produced for real; the others are injected with the `refuse` fault at the status
the sandbox states.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
import requests

from lib.demo.services.auth import basic_secret_header
from lib.demo.services.gateway_protocol import TOSS_CANCEL_ERRORS
from lib.demo.services.serve import DEFAULT_SECRET
from lib.errors import OutcomeUnknown
from lib.payments.client import PaymentsClient
from lib.payments.gateway import CANCEL_ERRORS, GatewayConfig, GatewayError

pytestmark = pytest.mark.integration

BASIC = {"Authorization": basic_secret_header(DEFAULT_SECRET)}

# code: (HTTP status Toss documents, what the client must conclude). "unknown" where Toss says
# the error is temporary ("잠시 후 다시 시도해주세요") or the answer says nothing of our key.
DOCUMENTED: dict[str, tuple[int, str]] = {
    "ALREADY_CANCELED_PAYMENT": (400, "refused"),
    "INVALID_REFUND_ACCOUNT_INFO": (400, "refused"),
    "EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT": (400, "refused"),
    "INVALID_REQUEST": (400, "refused"),
    "INVALID_REFUND_ACCOUNT_NUMBER": (400, "refused"),
    "INVALID_BANK": (400, "refused"),
    "NOT_MATCHES_REFUNDABLE_AMOUNT": (400, "refused"),
    "PROVIDER_ERROR": (400, "unknown"),
    "REFUND_REJECTED": (400, "refused"),
    "ALREADY_REFUND_PAYMENT": (400, "refused"),
    "FORBIDDEN_BANK_REFUND_REQUEST": (400, "refused"),
    "UNAUTHORIZED_KEY": (401, "refused"),
    "NOT_CANCELABLE_AMOUNT": (403, "refused"),
    "NOT_CANCELABLE_PAYMENT": (403, "refused"),
    "FORBIDDEN_CONSECUTIVE_REQUEST": (403, "unknown"),
    "FORBIDDEN_REQUEST": (403, "refused"),
    "EXCEED_MAX_REFUND_DUE": (403, "refused"),
    "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT": (403, "refused"),
    "NOT_ALLOWED_PARTIAL_REFUND": (403, "refused"),
    "NOT_AVAILABLE_BANK": (403, "refused"),
    "INCORRECT_BASIC_AUTH_FORMAT": (403, "refused"),
    "NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER": (403, "refused"),
    "EXCEED_CANCEL_LIMIT": (403, "refused"),
    "NOT_FOUND_PAYMENT": (404, "refused"),
    "NOT_FOUND": (404, "refused"),
    "IDEMPOTENT_REQUEST_PROCESSING": (409, "unknown"),
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (500, "unknown"),
    "FAILED_REFUND_PROCESS": (500, "unknown"),
    "FAILED_PARTIAL_REFUND": (500, "unknown"),
    "FAILED_METHOD_HANDLING_CANCEL": (500, "unknown"),
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": (500, "unknown"),
    "COMMON_ERROR": (500, "unknown"),
}


@pytest.fixture
def gateway(tiny_demo, start_service) -> str:
    return start_service("gateway", tiny_demo.dir)


def raw_cancel(
    gateway: str, key: str, amount: int | None = 1_000, idem: str | None = None, **headers
) -> requests.Response:
    body: dict = {"cancelReason": "contract"}
    if amount is not None:
        body["cancelAmount"] = amount
    return requests.post(
        f"{gateway}/v1/payments/{key}/cancel",
        json=body,
        headers={**BASIC, "Idempotency-Key": idem or uuid.uuid4().hex, **headers},
        timeout=10,
    )


def decision(gateway: str, key: str, amount: int | None = 1_000, **kw) -> tuple[str, str]:
    """What the client concludes of one attempt: (ok | refused | unknown, code or "")."""
    client = PaymentsClient(GatewayConfig(gateway, kw.pop("secret", DEFAULT_SECRET), retries=0))
    try:
        client.cancel(key, amount, "contract", kw.pop("idem", uuid.uuid4().hex))
    except GatewayError as exc:
        return "refused", exc.code
    except OutcomeUnknown:
        return "unknown", ""
    return "ok", ""


def apart(first: requests.Response) -> requests.Response:
    """`first`, once 1 s has passed: the sandbox, as Toss, refuses a second cancel of a payment
    within 1 s of the first, whatever the first's answer was."""
    time.sleep(1.1)
    return first


def arm_refusal(gateway: str, code: str, count: int = 1) -> None:
    body = {"mode": "refuse", "status": TOSS_CANCEL_ERRORS[code], "code": code, "count": count}
    requests.post(f"{gateway}/_faults", json=body, timeout=5).raise_for_status()


# Conditions the sandbox produces itself: code -> (sandbox answer, client decision) makers.
def _amount_beyond(demo, gw):
    key = demo.payment_key("DONE", 20_000)
    return apart(raw_cancel(gw, key, 25_000)), decision(gw, key, 25_000)


def _aborted(demo, gw):  # ABORTED: the approval failed, there is nothing to cancel
    key = demo.payment_key("ABORTED")
    return apart(raw_cancel(gw, key, None)), decision(gw, key, None)


def _canceled(demo, gw):
    key = demo.payment_key("CANCELED")
    return apart(raw_cancel(gw, key, None)), decision(gw, key, None)


def _not_found(demo, gw):
    return apart(raw_cancel(gw, "no-such-payment")), decision(gw, "no-such-payment")


def _wrong_secret(demo, gw):
    key = demo.payment_key("DONE", 20_000)
    wrong = {"Authorization": basic_secret_header("test_sk_wrong")}
    return raw_cancel(gw, key, **wrong), decision(gw, key, secret="test_sk_wrong")


def _consecutive(demo, gw):
    key = demo.payment_key("DONE", 30_000)
    assert raw_cancel(gw, key).status_code == 200  # the first cancel of the payment
    return raw_cancel(gw, key), decision(gw, key)  # both within 1 s of it


def _in_flight(demo, gw):
    key = demo.payment_key("DONE", 30_000)
    requests.post(f"{gw}/_faults", json={"mode": "processing_slow", "delay": 3.5}, timeout=5)
    holder = threading.Thread(target=raw_cancel, args=(gw, key, 1_000, "held"))
    holder.start()
    try:
        time.sleep(1.2)  # past the 1 s between cancels of a payment
        answer = raw_cancel(gw, key, 1_000, "held")
        time.sleep(1.2)
        return answer, decision(gw, key, 1_000, idem="held")
    finally:
        holder.join(timeout=10)


PRODUCED: dict[str, Callable] = {
    "NOT_CANCELABLE_AMOUNT": _amount_beyond,
    "NOT_CANCELABLE_PAYMENT": _aborted,
    "ALREADY_CANCELED_PAYMENT": _canceled,
    "NOT_FOUND_PAYMENT": _not_found,
    "UNAUTHORIZED_KEY": _wrong_secret,
    "FORBIDDEN_CONSECUTIVE_REQUEST": _consecutive,
    "IDEMPOTENT_REQUEST_PROCESSING": _in_flight,
}


def test_the_tables_name_the_same_codes():
    assert set(TOSS_CANCEL_ERRORS) == set(DOCUMENTED)
    assert set(CANCEL_ERRORS) == set(DOCUMENTED)


@pytest.mark.parametrize(("code", "documented"), sorted(DOCUMENTED.items()))
def test_each_documented_cancel_error_is_answered_and_decided_as_toss_says(
    tiny_demo, gateway, code, documented
):
    status, conclusion = documented
    if code in PRODUCED:
        answer, decided = PRODUCED[code](tiny_demo, gateway)
    else:
        key = tiny_demo.payment_key("DONE", 20_000)
        arm_refusal(gateway, code)
        answer = raw_cancel(gateway, key)
        arm_refusal(gateway, code)
        decided = decision(gateway, key)
    # What the sandbox answers: Toss's status for the code.
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    # What the client concludes of it, by the code (a refusal names the code).
    assert decided == (conclusion, code if conclusion == "refused" else "")
    # And the client's table says so too, so the mapping is read in one place.
    assert CANCEL_ERRORS[code] == documented


def test_an_undocumented_code_is_unknown_not_a_refusal(tiny_demo, gateway):
    key = tiny_demo.payment_key("DONE", 20_000)
    body = {"mode": "refuse", "status": 400, "code": "SOMETHING_NEW"}
    requests.post(f"{gateway}/_faults", json=body, timeout=5).raise_for_status()
    assert decision(gateway, key) == ("unknown", "")


def test_a_successful_cancel_is_ok(tiny_demo, gateway):
    assert decision(gateway, tiny_demo.payment_key("DONE", 20_000)) == ("ok", "")
