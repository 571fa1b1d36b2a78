"""The payment gateway's client (Toss Payments style): look a payment up, cancel it, reconcile.

A cancel moves money, so every failure is sorted into one of two kinds:

- definite: the gateway answered a refusal whose code says nothing happened (`GatewayError`;
  decided by the code, from CANCEL_ERRORS, never by the HTTP status), or the request provably
  never left this process (`GatewayUnavailable`, a `GatewayError`). Nothing happened.
- unknown (`lib.errors.OutcomeUnknown`): the request may have reached the gateway and no answer
  says what became of it (a timeout, a connection lost after sending, a 5xx, a key still
  "in progress", a temporary code such as PROVIDER_ERROR, FORBIDDEN_CONSECUTIVE_REQUEST). The
  refund may or may not have happened; `PaymentsClient.reconcile` decides.

Retries of a cancel always reuse the caller's Idempotency-Key: the gateway applies a key at most
once and replays its first answer, so a retry can finish a refund but never make a second one.
The client never makes up a key of its own. Once an attempt may have reached the gateway, a
refusal of a later attempt no longer proves that nothing happened (the first may have been
applied, and the refusal speaks only for the retry): the outcome is unknown, and `reconcile`
checks it against the payment's cancels.

The secret key only ever travels in the Authorization header: it is not in the config's repr,
in an exception's text, or in a log line.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from lib.errors import BackofficeError, OutcomeUnknown
from lib.payments.refund_account import RefundAccount

log = logging.getLogger(__name__)

IN_FLIGHT = "IDEMPOTENT_REQUEST_PROCESSING"
# Toss Payments documents cancelReason as at most 200 characters; a longer one is refused.
# Callers check it before they record anything (lib.actions.orders).
MAX_CANCEL_REASON = 200
MAX_MESSAGE = 300  # a gateway message is cut to this, so an error stays one readable line
REMEMBERED_REQUESTS = 1_000  # cancel bodies kept for reconcile's replay, per client
# Toss processes only the first of two cancels of one payment within 1 s and answers the
# second 403 FORBIDDEN_CONSECUTIVE_REQUEST (docs.tosspayments.com/reference/error-codes,
# 결제 취소): attempts on one payment are spaced by at least this, in seconds.
CANCEL_SPACING = 1.1  # 1 s, and a margin for the first request's time on the way
# Toss keeps an idempotency key 15 days (docs.tosspayments.com/reference/using-api/idempotency);
# after that a replay is a new cancel. Reconcile replays a key only while it is younger than
# this, with a day's margin for clocks and queues; older, it decides by lookup only.
REPLAY_KEY_MAX_AGE = 14 * 24 * 3600.0

# What each documented error of POST /v1/payments/{paymentKey}/cancel tells this client, with
# the HTTP status Toss documents for it (docs.tosspayments.com/reference/error-codes, "결제
# 취소"; IDEMPOTENT_REQUEST_PROCESSING: reference/using-api/idempotency). The client decides by
# the code, never by the status alone:
# - REFUSED: this request did nothing (a definite no).
# - UNKNOWN: temporary, or says nothing about our key; the cancel may be applied or may still
#   be applied, so retry under the same key and, failing that, look it up before deciding.
# A code not in this table is UNKNOWN too: it cannot prove that nothing happened.
OK, REFUSED, UNKNOWN = "ok", "refused", "unknown"
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


@dataclass(frozen=True)
class _Attempt:
    """What one HTTP attempt came to.

    kind: "ok" (payment set), "refused" (error set), "in_flight" (409 for this key),
    "unknown" (may have been received, no usable answer), "unsent" (never left, or refused
    for a reason that did nothing, e.g. 429).
    """

    kind: str
    detail: str = ""
    payment: Payment | None = None
    error: GatewayError | None = None


class PaymentsClient:
    """Calls the gateway described by `config`, over `session` (a new one if None).

    A session passed in must not retry POSTs on its own (requests' default does not): this
    client does the retrying, with the caller's idempotency key.
    """

    def __init__(self, config: GatewayConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or requests.Session()
        self._auth = "Basic " + base64.b64encode(f"{config.secret_key}:".encode()).decode()
        # idempotency key -> the exact body sent under it, so reconcile can replay it.
        self._sent: OrderedDict[str, dict] = OrderedDict()
        # payment key -> monotonic time of this client's last cancel request for it.
        self._last_cancel: dict[str, float] = {}
        self._spacing_lock = threading.Lock()

    # --- public ------------------------------------------------------------------------------

    def get(self, payment_key: str) -> Payment:
        """The payment as the gateway holds it now.

        A read changes nothing, so timeouts, lost connections and 5xx are retried; if they
        last, GatewayUnavailable. A refusal (NOT_FOUND_PAYMENT, UNAUTHORIZED_KEY...) is a
        GatewayError at once.
        """
        attempt = _Attempt("unsent")
        for n in range(self.config.retries + 1):
            if n:
                self._pause(n)
            attempt = self._get_once(payment_key)
            if attempt.kind == "ok" and attempt.payment is not None:
                return attempt.payment
            if attempt.kind == "refused" and attempt.error is not None:
                raise attempt.error
            log.warning(
                "gateway GET payment %s: %s (attempt %d)", payment_key, attempt.detail, n + 1
            )
        raise GatewayUnavailable(
            f"looking up payment {payment_key}: {attempt.detail}"
            f" ({self.config.retries + 1} attempts)"
        )

    def cancel(
        self,
        payment_key: str,
        amount: int | None,
        reason: str,
        idempotency_key: str,
        refund_account: RefundAccount | None = None,
        before_cancel_count: int | None = None,
    ) -> Payment:
        """Cancel `amount` of the payment (None: its whole balance); returns the Payment after.

        A 200 counts only if our cancel in it (after `before_cancel_count`, else the last one
        of this amount and reason) has cancelStatus DONE; listed but not DONE, or missing, is
        OutcomeUnknown (the money may still move).

        `refund_account` is sent as Toss's `refundReceiveAccount` (a paid-in virtual-account
        payment needs it). It is kept only in this client's memory, with the rest of the body,
        for `reconcile`'s replay (never written anywhere), and dropped once the key is
        decided: a reconcile in another process replays without it, a refusal of that replay
        proves nothing, so the lookup decides and finding nothing stays unknown. It never
        appears in a log line or an error's text (a gateway that echoes it is masked).

        Timeouts, lost connections, 5xx and 409 IDEMPOTENT_REQUEST_PROCESSING are retried up
        to `retries` times with backoff, always under `idempotency_key`, so the gateway applies
        the cancel at most once. Raises GatewayError for a refusal of the first attempt, or of
        a retry when no earlier attempt can have reached the gateway (nothing happened),
        GatewayUnavailable if no attempt ever reached the gateway (nothing happened), and
        OutcomeUnknown if one may have and no answer says what became of it (a refusal of a
        later retry included) — then call `reconcile` with the same key; never cancel again
        under a new key before that.
        """
        if not idempotency_key or not idempotency_key.strip():
            raise ValueError("cancel needs the caller's idempotency key")
        if len(reason) > MAX_CANCEL_REASON:  # the final text, prefixes included
            raise ValueError(f"cancelReason is longer than {MAX_CANCEL_REASON} characters")
        body: dict[str, Any] = {"cancelReason": reason}
        if amount is not None:
            body["cancelAmount"] = amount
        if refund_account is not None:
            body["refundReceiveAccount"] = refund_account.for_gateway()
        self._remember(idempotency_key, body)

        maybe_sent = False
        attempt = _Attempt("unsent")
        for n in range(self.config.retries + 1):
            if n:
                self._pause(n)
            attempt = self._post_cancel_once(payment_key, body, idempotency_key)
            if attempt.kind == "ok" and attempt.payment is not None:
                ours = _our_cancel(
                    attempt.payment, amount, reason, before_cancel_count, prefer_done=False
                )
                if ours is None or not ours.applied:
                    state = "missing" if ours is None else f"cancelStatus {ours.status}"
                    raise OutcomeUnknown(
                        f"Refund of payment {payment_key} is not done yet (the gateway answered"
                        f" with our cancel {state}); reconcile it before trying again"
                    )
                self._forget(idempotency_key)
                return attempt.payment
            if attempt.kind == "refused" and attempt.error is not None:
                if maybe_sent:
                    # An earlier attempt may have been applied: this refusal speaks for the
                    # retry only (a gateway that lost the key, a proxy, a revoked secret).
                    raise OutcomeUnknown(
                        f"Refund of payment {payment_key} may or may not have happened: an"
                        f" earlier attempt went unanswered and the retry was refused"
                        f" ({attempt.error.code}); reconcile it before trying again"
                    )
                self._forget(idempotency_key)
                raise _without_account(attempt.error, body)
            maybe_sent = maybe_sent or attempt.kind in ("unknown", "in_flight")
            detail = _redact_account(attempt.detail, body)
            log.warning("gateway cancel of payment %s: %s (attempt %d)", payment_key, detail, n + 1)
        tries = f"{self.config.retries + 1} attempts"
        detail = _redact_account(attempt.detail, body)
        if not maybe_sent:
            self._forget(idempotency_key)
            raise GatewayUnavailable(f"cancel of payment {payment_key}: {detail} ({tries})")
        raise OutcomeUnknown(
            f"Refund of payment {payment_key} may or may not have happened"
            f" (gateway: {detail}, {tries}); reconcile it before trying again"
        )

    def reconcile(
        self,
        payment_key: str,
        idempotency_key: str,
        expected_amount: int | None,
        before_cancel_count: int | None = None,
        *,
        reason: str | None = None,
        key_sent_at: float | None = None,
    ) -> Payment | None:
        """Decide a cancel whose outcome is unknown: the Payment if it happened, None if not.

        `key_sent_at` (epoch seconds) is when the key was first used, if known: a key older
        than REPLAY_KEY_MAX_AGE is never replayed (Toss forgets keys after 15 days, and a
        replay would then be a new cancel); step 2 alone decides.

        1. Replay: send the same cancel once more under the same idempotency key. The gateway
           stores a key's first executed answer and replays it, so this is the exact answer:
           a 200 means the refund under this key happened (its Payment is returned); a refusal
           means it did not (None). If the gateway never received the first request, the
           replay is that same request arriving now, and the answer is still exact — the key
           guarantees one refund at most. The body must be the one sent first (a key bound to
           another body is refused): it is the one this client sent under the key if it did,
           else {reason, expected_amount} when `reason` is given; with neither, skip to 2.
           A rebuilt body may not be the one first sent (a refund account lives only in the
           sender's memory), so a refusal of it, like a 422, an unsent replay (connect error,
           429) or any answer but a definite refusal, leaves a request under the key possibly
           pending: then not found is unknown, never None.
           A refusal is not taken at its word: after an attempt that may have been applied,
           a gateway that lost the key refuses the replay (ALREADY_CANCELED_PAYMENT, ...)
           although the refund happened, so the lookup of 2. decides; no request under the
           key is still on its way then (that would be a 409), so not found means None.
        2. Lookup, when the replay was refused, gave no answer (timeout, 5xx, still in
           progress) or was not possible:
           GET the payment and look, among its cancels after the first
           `before_cancel_count` (the count before the attempt, which tells our cancel from an
           older one of the same amount; without it every cancel counts), for one of
           `expected_amount` (any amount if None: a whole-balance cancel) and of the reason
           sent, if known. Found with cancelStatus DONE: the Payment; found but not DONE:
           OutcomeUnknown (the money may still move). Not found: None — but only when no request
           under the key can still be on its way. If the replay itself went unanswered or the
           key is still in progress, the gateway may yet apply it after our look, so the
           outcome stays unknown. Without a replay, None assumes the first attempts are over
           (their timeout has passed), which is why the replay comes first.

        Raises OutcomeUnknown when the gateway cannot be reached or will not say
        (timeouts, 5xx, auth refused on the lookup): try again later, with the same key.
        """
        body = self._sent.get(idempotency_key)
        # A body rebuilt from {reason, amount} may differ from the one first sent (a refund
        # account is kept in no process but the sender's): a refusal of it may speak only of
        # that difference, never of our key, so it cannot prove that nothing happened.
        rebuilt = body is None
        if body is None and reason is not None:
            body = {"cancelReason": reason}
            if expected_amount is not None:
                body["cancelAmount"] = expected_amount
        pending = False  # a request under this key may still be applied after we look
        replay_detail = "no replay (request body unknown)"
        if key_sent_at is not None and time.time() - key_sent_at > REPLAY_KEY_MAX_AGE:
            body = None
            replay_detail = "no replay (the key is older than the gateway keeps keys)"
        want_reason = reason if reason is not None else (body or {}).get("cancelReason")
        if body is not None:
            attempt = self._post_cancel_once(payment_key, body, idempotency_key)
            replay_detail = _redact_account(f"replay: {attempt.detail}", body)
            if attempt.kind == "ok" and attempt.payment is not None:
                ours = _our_cancel(
                    attempt.payment, expected_amount, want_reason, before_cancel_count
                )
                if ours is not None and ours.applied:
                    self._forget(idempotency_key)
                    return attempt.payment
                raise OutcomeUnknown(
                    f"Refund of payment {payment_key} is still unknown: the gateway answered"
                    f" the replay with our cancel"
                    f" {'missing' if ours is None else 'not DONE (' + ours.status + ')'};"
                    f" reconcile again later"
                )
            # Only a definite refusal of the exact body first sent says no request under the
            # key is still on its way (one would be a 409); a replay never sent (connect
            # error, 429), unanswered, in progress, or of a rebuilt body says nothing of it.
            pending = attempt.kind != "refused" or rebuilt
            log.warning("reconcile of payment %s: %s; looking it up", payment_key, replay_detail)

        lookup = self._get_once(payment_key)
        if lookup.kind == "refused" and lookup.error and lookup.error.http_status == 404:
            if pending:
                raise OutcomeUnknown(
                    f"Refund of payment {payment_key} is still unknown: {replay_detail};"
                    f" lookup: {lookup.detail}"
                )
            self._forget(idempotency_key)
            return None  # no such payment: no refund of it can have happened
        if lookup.kind != "ok" or lookup.payment is None:
            raise OutcomeUnknown(
                f"Refund of payment {payment_key} is still unknown: {replay_detail};"
                f" lookup: {lookup.detail}"
            )
        payment = lookup.payment
        ours = _our_cancel(payment, expected_amount, want_reason, before_cancel_count)
        if ours is not None and ours.applied:
            self._forget(idempotency_key)
            return payment
        if ours is not None:
            # Listed but not DONE: the gateway may still move the money; keep it held.
            raise OutcomeUnknown(
                f"Refund of payment {payment_key} is still unknown: the gateway lists it with"
                f" cancelStatus {ours.status}; reconcile again later"
            )
        if pending:
            raise OutcomeUnknown(
                f"Refund of payment {payment_key} is still unknown: the gateway may still be"
                f" applying it ({replay_detail}); reconcile again later"
            )
        self._forget(idempotency_key)
        return None

    # --- one attempt -------------------------------------------------------------------------

    def _get_once(self, payment_key: str) -> _Attempt:
        attempt = self._send("GET", self._payment_path(payment_key), None, None)
        if attempt.kind == "in_flight":  # not expected on a read; nothing was changed
            return _Attempt("unknown", attempt.detail)
        return attempt

    def _post_cancel_once(self, payment_key: str, body: dict, idempotency_key: str) -> _Attempt:
        self._space(payment_key)
        path = self._payment_path(payment_key) + "/cancel"
        return self._send("POST", path, body, idempotency_key)

    def _space(self, payment_key: str) -> None:
        """Wait until CANCEL_SPACING has passed since this client's last cancel request of
        the payment: Toss refuses the second of two within 1 s (see CANCEL_SPACING)."""
        with self._spacing_lock:
            last = self._last_cancel.get(payment_key)
            now = time.monotonic()
            start = now if last is None else max(now, last + CANCEL_SPACING)
            self._last_cancel[payment_key] = start
            if len(self._last_cancel) > REMEMBERED_REQUESTS:
                for key, at in list(self._last_cancel.items()):
                    if at < now - CANCEL_SPACING:
                        del self._last_cancel[key]
        if start > now:
            time.sleep(start - now)

    def _send(
        self, method: str, path: str, body: dict | None, idempotency_key: str | None
    ) -> _Attempt:
        timeout = self.config.timeout
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        url = self.config.base_url.rstrip("/") + path
        try:
            resp = self.session.request(
                method, url, json=body, headers=headers, timeout=timeout, allow_redirects=False
            )
        except requests.ConnectTimeout:
            return _Attempt("unsent", f"could not connect within {timeout:g} s")
        except requests.Timeout:
            return _Attempt("unknown", f"no answer within {timeout:g} s")
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                return _Attempt("unsent", "cannot connect")
            return _Attempt("unknown", "connection lost before the answer")
        except requests.RequestException as exc:  # e.g. a malformed answer mid-way
            return _Attempt("unknown", f"request failed ({type(exc).__name__})")
        return self._classify(resp, body)

    def _classify(self, resp: requests.Response, body: dict | None = None) -> _Attempt:
        status = resp.status_code
        try:
            data = resp.json()
        except ValueError:
            data = None
        if 200 <= status < 300:
            try:
                return _Attempt("ok", payment=Payment.from_json(data))
            except ValueError:
                # The gateway said yes but not what to: treat it as unknown, never as a no.
                return _Attempt("unknown", f"HTTP {status} without a Payment object")
        code = data.get("code") if isinstance(data, dict) else None
        if status == 409 and code == IN_FLIGHT:
            return _Attempt("in_flight", "a request with this idempotency key is still in progress")
        if status == 429:
            return _Attempt("unsent", "rate limited (HTTP 429)")
        message = data.get("message") if isinstance(data, dict) else None
        error = GatewayError(
            self._clean(str(code or f"HTTP_{status}")),
            # Redacted before it is cut: a cut can leave part of the account behind.
            self._clean(_redact_account(str(message or resp.reason or "no message"), body)),
            status,
        )
        # By the code, never by the status alone (CANCEL_ERRORS): PROVIDER_ERROR is a 400
        # that means "try again", NOT_CANCELABLE_AMOUNT a 403 that means no.
        # A 422 is no documented Toss answer: it refuses the request's shape (e.g. a key bound
        # to another body), never says what became of our key.
        if isinstance(code, str) and cancel_decision(code) == REFUSED and status != 422:
            return _Attempt("refused", str(error), error=error)
        return _Attempt("unknown", f"answered HTTP {status} ({error.code})", error=error)

    # --- helpers -----------------------------------------------------------------------------

    def _pause(self, retry: int) -> None:
        time.sleep(max(0.0, self.config.backoff) * 2 ** (retry - 1))

    def _remember(self, idempotency_key: str, body: dict) -> None:
        self._sent[idempotency_key] = dict(body)
        self._sent.move_to_end(idempotency_key)
        while len(self._sent) > REMEMBERED_REQUESTS:
            self._sent.popitem(last=False)

    def _forget(self, idempotency_key: str) -> None:
        """Drop a decided key's body (and the refund account in it) from memory."""
        self._sent.pop(idempotency_key, None)

    def _clean(self, text: str) -> str:
        """One line, bounded, and without the secret even if a server echoed it back."""
        text = " ".join(text.split())
        for secret in (self.config.secret_key, self._auth.removeprefix("Basic ")):
            if secret:
                text = text.replace(secret, "***")
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

    @staticmethod
    def _payment_path(payment_key: str) -> str:
        return "/v1/payments/" + quote(payment_key, safe="")


def _redact_account(text: str, body: dict | None) -> str:
    """`text` without the refund account's number or holder, should a gateway echo them; the
    number also when written with separators (110-123-45678, 110 1234 5678)."""
    account = (body or {}).get("refundReceiveAccount") or {}
    holder = account.get("holderName")
    if holder:
        text = text.replace(str(holder), "***")
    number = "".join(ch for ch in str(account.get("accountNumber") or "") if ch.isdigit())
    if number:
        spaced = r"[\s\-./]*".join(re.escape(d) for d in number)
        text = re.sub(rf"(?<!\d){spaced}(?!\d)", "***", text)
    return text


def _our_cancel(
    payment: Payment,
    amount: Any,
    reason: str | None,
    before_cancel_count: int | None,
    prefer_done: bool = True,
) -> Cancel | None:
    """Our cancel in `payment`: among its cancels after `before_cancel_count` (all if None),
    the last of `amount` (any if None) and `reason` (any if None), a DONE one first unless
    `prefer_done` is False (the answer to our own cancel: ours is its latest)."""
    candidates = [
        c
        for c in payment.cancels[before_cancel_count or 0 :]
        if (amount is None or c.amount == amount) and (reason is None or c.reason == reason)
    ]
    done = [c for c in candidates if c.applied]
    if done and prefer_done:
        return done[-1]
    return candidates[-1] if candidates else None


def _without_account(error: GatewayError, body: dict) -> GatewayError:
    """The refusal as raised to callers: its message without the refund account."""
    if "refundReceiveAccount" not in body:
        return error
    message = _redact_account(error.message, body)
    if message == error.message:
        return error
    return GatewayError(error.code, message, error.http_status)


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True if the connection was never made, so the request cannot have been received."""
    for arg in exc.args:
        reason = arg.reason if isinstance(arg, MaxRetryError) else arg
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return True
    return False
