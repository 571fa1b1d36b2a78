"""What the payment gateway (Toss Payments style) answers, as this app reads it: the Payment
object and its cancels, the refusals (GatewayError) and, from CANCEL_ERRORS, what each cancel
error code says happened. The client that asks is lib.payments.client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from lib.errors import BackofficeError

IN_FLIGHT = "IDEMPOTENT_REQUEST_PROCESSING"
# Toss Payments documents cancelReason as at most 200 characters; a longer one is refused.
# Callers check it before they record anything (lib.actions.orders).
MAX_CANCEL_REASON = 200

# What each documented error of POST /v1/payments/{paymentKey}/cancel tells this client, with
# the HTTP status Toss documents for it (docs.tosspayments.com/reference/error-codes, "결제
# 취소"; IDEMPOTENT_REQUEST_PROCESSING: reference/using-api/idempotency). The client decides by
# the code, never by the status alone:
# - REFUSED: this request did nothing (a definite no).
# - UNKNOWN: temporary, or says nothing about our key; the cancel may be applied or may still
#   be applied, so retry under the same key and, failing that, look it up before deciding.
# A code not in this table is UNKNOWN too: it cannot prove that nothing happened.
REFUSED, UNKNOWN = "refused", "unknown"
CANCEL_ERRORS: dict[str, tuple[int, str]] = {
    "ALREADY_CANCELED_PAYMENT": (400, REFUSED),
    "INVALID_REFUND_ACCOUNT_INFO": (400, REFUSED),
    "EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT": (400, REFUSED),
    "INVALID_REQUEST": (400, REFUSED),
    "INVALID_REFUND_ACCOUNT_NUMBER": (400, REFUSED),
    "INVALID_BANK": (400, REFUSED),
    "NOT_MATCHES_REFUNDABLE_AMOUNT": (400, REFUSED),
    "PROVIDER_ERROR": (400, UNKNOWN),  # "temporary error, try again"
    "REFUND_REJECTED": (400, REFUSED),
    "ALREADY_REFUND_PAYMENT": (400, REFUSED),
    "FORBIDDEN_BANK_REFUND_REQUEST": (400, REFUSED),
    "UNAUTHORIZED_KEY": (401, REFUSED),
    "NOT_CANCELABLE_AMOUNT": (403, REFUSED),
    "NOT_CANCELABLE_PAYMENT": (403, REFUSED),
    # Another cancel of the payment arrived within 1 s and may still be completing (ours,
    # an earlier attempt): the refusal says nothing about our key.
    "FORBIDDEN_CONSECUTIVE_REQUEST": (403, UNKNOWN),
    "FORBIDDEN_REQUEST": (403, REFUSED),
    "EXCEED_MAX_REFUND_DUE": (403, REFUSED),
    "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT": (403, REFUSED),
    "NOT_ALLOWED_PARTIAL_REFUND": (403, REFUSED),
    "NOT_AVAILABLE_BANK": (403, REFUSED),
    "INCORRECT_BASIC_AUTH_FORMAT": (403, REFUSED),
    "NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER": (403, REFUSED),
    "EXCEED_CANCEL_LIMIT": (403, REFUSED),
    "NOT_FOUND_PAYMENT": (404, REFUSED),
    "NOT_FOUND": (404, REFUSED),
    IN_FLIGHT: (409, UNKNOWN),
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (500, UNKNOWN),
    "FAILED_REFUND_PROCESS": (500, UNKNOWN),
    "FAILED_PARTIAL_REFUND": (500, UNKNOWN),
    "FAILED_METHOD_HANDLING_CANCEL": (500, UNKNOWN),
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": (500, UNKNOWN),
    "COMMON_ERROR": (500, UNKNOWN),
}


def cancel_decision(code: str | None) -> str:
    """REFUSED or UNKNOWN for an error answer to a cancel, by its code (see CANCEL_ERRORS)."""
    return CANCEL_ERRORS.get(code or "", (0, UNKNOWN))[1]


def _amount(value: Any) -> Decimal:
    """A JSON amount, exact: Toss amounts are numbers that may carry decimals (other
    currencies), and int() would silently cut them."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("not an amount") from exc
    if not amount.is_finite():
        raise ValueError("not an amount")
    return amount


@dataclass(frozen=True)
class GatewayConfig:
    """Where the gateway is and how patient to be with it. `timeout` is per attempt, in
    seconds; `retries` is how many attempts follow the first; the n-th retry waits
    `backoff * 2**(n-1)` seconds first."""

    base_url: str
    secret_key: str = field(repr=False)
    timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.3


@dataclass(frozen=True)
class Cancel:
    """One cancel (refund) the gateway holds for a payment."""

    amount: Decimal
    reason: str
    canceled_at: str  # ISO 8601 as the gateway sent it
    transaction_key: str
    status: str = "DONE"  # cancels[].cancelStatus; absent means DONE

    @property
    def applied(self) -> bool:
        """Toss documents cancelStatus DONE as "canceled"; anything else has moved no money."""
        return self.status == "DONE"


@dataclass(frozen=True)
class Payment:
    """The gateway's Payment object. Timestamps stay the ISO 8601 strings the gateway sent:
    a reply that proves a refund happened must not fail on a date format."""

    payment_key: str
    order_id: str
    status: str  # DONE / PARTIAL_CANCELED / CANCELED / ABORTED ...
    method: str  # Toss's Korean names: 카드, 가상계좌, 간편결제, 계좌이체 ...
    total_amount: Decimal
    balance_amount: Decimal
    approved_at: str
    cancels: list[Cancel]

    @classmethod
    def from_json(cls, body: Any) -> Payment:
        """Parse the gateway's JSON; ValueError if it is not a Payment object."""
        try:
            return cls(
                payment_key=str(body["paymentKey"]),
                order_id=str(body["orderId"]),
                status=str(body["status"]),
                method=str(body.get("method") or ""),
                total_amount=_amount(body["totalAmount"]),
                balance_amount=_amount(body["balanceAmount"]),
                approved_at=str(body.get("approvedAt") or ""),
                cancels=[
                    Cancel(
                        amount=_amount(c["cancelAmount"]),
                        reason=str(c.get("cancelReason") or ""),
                        canceled_at=str(c.get("canceledAt") or ""),
                        transaction_key=str(c.get("transactionKey") or ""),
                        status=str(c.get("cancelStatus") or "DONE"),
                    )
                    for c in body.get("cancels") or []
                ],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError("not a Payment object") from exc


class GatewayError(BackofficeError):
    """The gateway refused the request ({code, message} with a code CANCEL_ERRORS calls
    REFUSED): nothing happened. Temporary codes and unknown ones are never this."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        self.code, self.message, self.http_status = code, message, http_status
        super().__init__(f"Gateway refused: {code} — {message}")


class GatewayUnavailable(GatewayError):
    """No answer from the gateway for a request known to have changed nothing: a lookup, or
    a cancel none of whose attempts left this process (the connection was never made)."""

    def __init__(self, message: str) -> None:
        self.code, self.message, self.http_status = "GATEWAY_UNAVAILABLE", message, 0
        BackofficeError.__init__(self, f"Gateway unavailable: {message}")
