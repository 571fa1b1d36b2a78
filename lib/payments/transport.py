"""One HTTP attempt at the payment gateway and what it came to (an Attempt): the base of
lib.payments.client, which decides what attempts to make. Cancels of one payment are spaced
as Toss requires, and no secret or refund account is left in an attempt's text.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from lib.payments.gateway import (
    IN_FLIGHT,
    REFUSED,
    GatewayConfig,
    GatewayError,
    Payment,
    cancel_decision,
)

MAX_MESSAGE = 300  # a gateway message is cut to this, so an error stays one readable line
REMEMBERED_REQUESTS = 1_000  # cancel bodies kept for reconcile's replay, per client
# Toss processes only the first of two cancels of one payment within 1 s and answers the
# second 403 FORBIDDEN_CONSECUTIVE_REQUEST (docs.tosspayments.com/reference/error-codes,
# 결제 취소): attempts on one payment are spaced by at least this, in seconds.
CANCEL_SPACING = 1.1  # 1 s, and a margin for the first request's time on the way


@dataclass(frozen=True)
class Attempt:
    """What one HTTP attempt came to.

    kind: "ok" (payment set), "refused" (error set), "in_flight" (409 for this key),
    "unknown" (may have been received, no usable answer), "unsent" (never left, or refused
    for a reason that did nothing, e.g. 429).
    """

    kind: str
    detail: str = ""
    payment: Payment | None = None
    error: GatewayError | None = None


class Transport:
    """Sends requests to the gateway described by `config`, over `session` (a new one if
    None), one attempt each."""

    def __init__(self, config: GatewayConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or requests.Session()
        self._auth = "Basic " + base64.b64encode(f"{config.secret_key}:".encode()).decode()
        # payment key -> monotonic time of this client's last cancel request for it.
        self._last_cancel: dict[str, float] = {}
        self._spacing_lock = threading.Lock()

    # --- one attempt -------------------------------------------------------------------------

    def _get_once(self, payment_key: str) -> Attempt:
        attempt = self._send("GET", self._payment_path(payment_key), None, None)
        if attempt.kind == "in_flight":  # not expected on a read; nothing was changed
            return Attempt("unknown", attempt.detail)
        return attempt

    def _post_cancel_once(self, payment_key: str, body: dict, idempotency_key: str) -> Attempt:
        self._space(payment_key)
        path = self._payment_path(payment_key) + "/cancel"
        try:
            return self._send("POST", path, body, idempotency_key)
        finally:
            self._answered(payment_key)

    def _answered(self, payment_key: str) -> None:
        """The next cancel of the payment waits from this answer, not from the request: the
        gateway took the request in somewhere in between, late when it is busy, and its 1 s
        runs from then."""
        with self._spacing_lock:
            now = time.monotonic()
            self._last_cancel[payment_key] = max(self._last_cancel.get(payment_key, now), now)

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
    ) -> Attempt:
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
            return Attempt("unsent", f"could not connect within {timeout:g} s")
        except requests.Timeout:
            return Attempt("unknown", f"no answer within {timeout:g} s")
        except requests.ConnectionError as exc:
            if _never_sent(exc):
                return Attempt("unsent", "cannot connect")
            return Attempt("unknown", "connection lost before the answer")
        except requests.RequestException as exc:  # e.g. a malformed answer mid-way
            return Attempt("unknown", f"request failed ({type(exc).__name__})")
        return self._classify(resp, body)

    def _classify(self, resp: requests.Response, body: dict | None = None) -> Attempt:
        status = resp.status_code
        try:
            data = resp.json()
        except ValueError:
            data = None
        if 200 <= status < 300:
            try:
                return Attempt("ok", payment=Payment.from_json(data))
            except ValueError:
                # The gateway said yes but not what to: treat it as unknown, never as a no.
                return Attempt("unknown", f"HTTP {status} without a Payment object")
        code = data.get("code") if isinstance(data, dict) else None
        if status == 409 and code == IN_FLIGHT:
            return Attempt("in_flight", "a request with this idempotency key is still in progress")
        if status == 429:
            return Attempt("unsent", "rate limited (HTTP 429)")
        message = data.get("message") if isinstance(data, dict) else None
        error = GatewayError(
            self._clean(str(code or f"HTTP_{status}")),
            # Redacted before it is cut: a cut can leave part of the account behind.
            self._clean(redact_account(str(message or resp.reason or "no message"), body)),
            status,
        )
        # By the code, never by the status alone (CANCEL_ERRORS): PROVIDER_ERROR is a 400
        # that means "try again", NOT_CANCELABLE_AMOUNT a 403 that means no.
        # A 422 is no documented Toss answer: it refuses the request's shape (e.g. a key bound
        # to another body), never says what became of our key.
        if isinstance(code, str) and cancel_decision(code) == REFUSED and status != 422:
            return Attempt("refused", str(error), error=error)
        return Attempt("unknown", f"answered HTTP {status} ({error.code})", error=error)

    # --- helpers -----------------------------------------------------------------------------

    def _pause(self, retry: int) -> None:
        time.sleep(max(0.0, self.config.backoff) * 2 ** (retry - 1))

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


def redact_account(text: str, body: dict | None) -> str:
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


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True if the connection was never made, so the request cannot have been received."""
    for arg in exc.args:
        reason = arg.reason if isinstance(arg, MaxRetryError) else arg
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return True
    return False
