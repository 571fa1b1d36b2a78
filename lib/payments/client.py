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

import logging
import time
from collections import OrderedDict
from typing import Any

import requests

from lib.errors import OutcomeUnknown
from lib.payments.gateway import (
    MAX_CANCEL_REASON,
    Cancel,
    GatewayConfig,
    GatewayError,
    GatewayUnavailable,
    Payment,
)
from lib.payments.refund_account import RefundAccount
from lib.payments.transport import REMEMBERED_REQUESTS, Attempt, Transport, redact_account

log = logging.getLogger(__name__)

# Toss keeps an idempotency key 15 days (docs.tosspayments.com/reference/using-api/idempotency);
# after that a replay is a new cancel. Reconcile replays a key only while it is younger than
# this, with a day's margin for clocks and queues; older, it decides by lookup only.
REPLAY_KEY_MAX_AGE = 14 * 24 * 3600.0


class PaymentsClient(Transport):
    """Calls the gateway described by `config`, over `session` (a new one if None).

    A session passed in must not retry POSTs on its own (requests' default does not): this
    client does the retrying, with the caller's idempotency key.
    """

    def __init__(self, config: GatewayConfig, session: requests.Session | None = None) -> None:
        super().__init__(config, session)
        # idempotency key -> the exact body sent under it, so reconcile can replay it.
        self._sent: OrderedDict[str, dict] = OrderedDict()

    def get(self, payment_key: str) -> Payment:
        """The payment as the gateway holds it now.

        A read changes nothing, so timeouts, lost connections and 5xx are retried; if they
        last, GatewayUnavailable. A refusal (NOT_FOUND_PAYMENT, UNAUTHORIZED_KEY...) is a
        GatewayError at once.
        """
        attempt = Attempt("unsent")
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
        attempt = Attempt("unsent")
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
            detail = redact_account(attempt.detail, body)
            log.warning("gateway cancel of payment %s: %s (attempt %d)", payment_key, detail, n + 1)
        tries = f"{self.config.retries + 1} attempts"
        detail = redact_account(attempt.detail, body)
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
            replay_detail = redact_account(f"replay: {attempt.detail}", body)
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

    def _remember(self, idempotency_key: str, body: dict) -> None:
        self._sent[idempotency_key] = dict(body)
        self._sent.move_to_end(idempotency_key)
        while len(self._sent) > REMEMBERED_REQUESTS:
            self._sent.popitem(last=False)

    def _forget(self, idempotency_key: str) -> None:
        """Drop a decided key's body (and the refund account in it) from memory."""
        self._sent.pop(idempotency_key, None)


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
    message = redact_account(error.message, body)
    if message == error.message:
        return error
    return GatewayError(error.code, message, error.http_status)
