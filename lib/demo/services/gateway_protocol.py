"""The gateway sandbox's wire format, as Toss Payments documents it: each cancel error code
with its HTTP status, the error body {"code", "message"}, a cancel request's JSON, and the
Payment object's Korean method names. The sandbox's app is lib.demo.services.gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Toss's documented HTTP status of each cancel error code (reference/error-codes, 결제 취소),
# copied here on purpose rather than imported from lib.payments.gateway: the sandbox states
# what Toss does, the client what it concludes, and the contract test checks one against the other.
TOSS_CANCEL_ERRORS: dict[str, int] = {
    "ALREADY_CANCELED_PAYMENT": 400,
    "INVALID_REFUND_ACCOUNT_INFO": 400,
    "EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT": 400,
    "INVALID_REQUEST": 400,
    "INVALID_REFUND_ACCOUNT_NUMBER": 400,
    "INVALID_BANK": 400,
    "NOT_MATCHES_REFUNDABLE_AMOUNT": 400,
    "PROVIDER_ERROR": 400,
    "REFUND_REJECTED": 400,
    "ALREADY_REFUND_PAYMENT": 400,
    "FORBIDDEN_BANK_REFUND_REQUEST": 400,
    "UNAUTHORIZED_KEY": 401,
    "NOT_CANCELABLE_AMOUNT": 403,
    "NOT_CANCELABLE_PAYMENT": 403,
    "FORBIDDEN_CONSECUTIVE_REQUEST": 403,
    "FORBIDDEN_REQUEST": 403,
    "EXCEED_MAX_REFUND_DUE": 403,
    "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT": 403,
    "NOT_ALLOWED_PARTIAL_REFUND": 403,
    "NOT_AVAILABLE_BANK": 403,
    "INCORRECT_BASIC_AUTH_FORMAT": 403,
    "NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER": 403,
    "EXCEED_CANCEL_LIMIT": 403,
    "NOT_FOUND_PAYMENT": 404,
    "NOT_FOUND": 404,
    "IDEMPOTENT_REQUEST_PROCESSING": 409,
    "FAILED_INTERNAL_SYSTEM_PROCESSING": 500,
    "FAILED_REFUND_PROCESS": 500,
    "FAILED_PARTIAL_REFUND": 500,
    "FAILED_METHOD_HANDLING_CANCEL": 500,
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": 500,
    "COMMON_ERROR": 500,
}
# The shop keeps its own method names; Toss's Payment object names them in Korean.
TOSS_METHODS = {
    "card": "카드",
    "virtual_account": "가상계좌",
    "easy_pay": "간편결제",
    "transfer": "계좌이체",
}
MAX_REASON_LENGTH = 200


class GatewayError(Exception):
    """An answer in the gateway's error shape: HTTP `status`, body {"code", "message"}."""

    @classmethod
    def toss(cls, code: str, message: str) -> GatewayError:
        """The error `code` with the status Toss documents for it (TOSS_CANCEL_ERRORS)."""
        return cls(TOSS_CANCEL_ERRORS[code], code, message)

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class CancelRequest:
    reason: str
    amount: int | None  # None: the whole balance
    # Toss's refundReceiveAccount as sent (the ledger checks it against the payment).
    refund_account: dict | None = None

    @classmethod
    def parse(cls, raw: bytes) -> tuple[CancelRequest, str]:
        """The request and its canonical JSON (what "the same body" means), or INVALID_REQUEST."""
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise GatewayError(400, "INVALID_REQUEST", "Body is not JSON") from exc
        if not isinstance(body, dict):
            raise GatewayError(400, "INVALID_REQUEST", "Body must be a JSON object")
        reason = body.get("cancelReason")
        if not isinstance(reason, str) or not reason.strip():
            raise GatewayError(400, "INVALID_REQUEST", "cancelReason is required")
        if len(reason) > MAX_REASON_LENGTH:
            raise GatewayError(
                400, "INVALID_REQUEST", f"cancelReason is longer than {MAX_REASON_LENGTH}"
            )
        amount = body.get("cancelAmount")
        # bool is an int in Python; JSON true is not an amount.
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise GatewayError(400, "INVALID_REQUEST", "cancelAmount must be an integer")
        account = body.get("refundReceiveAccount")
        if account is not None and not isinstance(account, dict):
            raise GatewayError(400, "INVALID_REQUEST", "refundReceiveAccount must be an object")
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return cls(reason=reason, amount=amount, refund_account=account), canonical


def not_found(payment_key: str) -> GatewayError:
    return GatewayError(404, "NOT_FOUND_PAYMENT", f"No payment {payment_key}")
