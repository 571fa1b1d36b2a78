"""A payment-gateway sandbox in the style of Toss Payments, with its own ledger.

- `GET /v1/payments/{paymentKey}` -> the Payment object, or 404 NOT_FOUND_PAYMENT.
- `POST /v1/payments/{paymentKey}/cancel`, header `Idempotency-Key`, JSON
  `{"cancelReason": str, "cancelAmount": int?}` (absent: the whole balance) -> the Payment.
- `GET /v1/_ledger/cancels?paymentKey=` -> the cancels the ledger holds (for tests).
- `GET /health` (open): {"status": "ok", "service": "gateway", "version": ...}. Everything
  under /v1 needs `Authorization: Basic base64(secret + ":")`.
Errors are `{"code", "message"}` with a 4xx/5xx status.

The ledger is `gateway.sqlite` beside the demo databases, filled from shop.sqlite's payments the
first time it is empty. It is the gateway's truth: refunds change it, never shop.sqlite (the
app records its own side). Idempotency follows Toss/Stripe: a key's first executed answer is
stored and replayed for the same request; a request that fails validation stores nothing.

What it reproduces of Toss Payments, from docs.tosspayments.com (reference/error-codes "결제
취소", reference/using-api/idempotency, guides/apis/cancel-payment, the Payment object); the
constants named are in lib.demo.services.gateway_protocol (the wire format) and
lib.demo.services.gateway_ledger (the ledger and its rules):
- each cancel error with the HTTP status Toss documents for its code (TOSS_CANCEL_ERRORS, this
  sandbox's own copy of Toss's table, kept apart from the client's so a contract test can tell
  them apart): NOT_CANCELABLE_AMOUNT and NOT_CANCELABLE_PAYMENT are 403, ALREADY_CANCELED_PAYMENT
  400, PROVIDER_ERROR 400 (temporary), FAILED_* 500 (faults inject the ones it cannot cause);
- a second cancel request of one payment within 1 s (CONSECUTIVE_WINDOW, any key, the same key
  included) is not processed: 403 FORBIDDEN_CONSECUTIVE_REQUEST, nothing stored under its key;
- idempotency keys live 15 days (IDEMPOTENCY_KEY_TTL): after that a key is new again, and a
  replay under it is a new cancel;
- the Payment object: `method` in Korean (카드, 가상계좌, 간편결제, 계좌이체), `orderId` a
  string, `cancels[].cancelStatus` DONE, ABORTED meaning an approval that failed (a cancel of
  it is 403 NOT_CANCELABLE_PAYMENT, not "already canceled").
Where it is stricter than Toss, on purpose: a cancel without an Idempotency-Key header is
refused (Toss runs it without idempotency; this shop never sends one, and a test that forgot
the key should fail loudly), and a key reused with another body is refused 422 once the first
request under it is done (while it is in flight, 409 as for any request under it; Toss does not
document comparing bodies; refusing keeps a client honest that reconcile replays the exact
body it first sent).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lib.demo.services import open_readonly
from lib.demo.services.auth import basic_secret_matches
from lib.demo.services.faults import PROCESSING_DELAY, install_faults
from lib.demo.services.gateway_ledger import Ledger
from lib.demo.services.gateway_protocol import CancelRequest, GatewayError, not_found

SERVICE, VERSION = "gateway", "1.0.3"
LEDGER_FILE = "gateway.sqlite"
MAX_IDEMPOTENCY_KEY_LENGTH = 300


def create_app(demo_dir: Path, secret_key: str) -> FastAPI:
    """The gateway over `demo_dir`/gateway.sqlite (seeded from shop.sqlite when empty)."""
    shop = Path(demo_dir) / "shop.sqlite"
    open_readonly(shop).close()  # refuse to start (and to create a ledger) without the shop
    ledger = Ledger(shop.parent / LEDGER_FILE)
    ledger.seed_from_shop(shop)

    app = FastAPI(title="Demo payment gateway")
    app.state.ledger = ledger
    install_faults(app, extra_modes=("processing_slow",))

    @app.exception_handler(GatewayError)
    async def gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"code": "INVALID_REQUEST", "message": str(exc)}, status_code=400)

    def require_secret(request: Request) -> None:
        if not basic_secret_matches(request.headers.get("authorization"), secret_key):
            raise GatewayError(401, "UNAUTHORIZED_KEY", "Missing or wrong secret key")

    api = APIRouter(prefix="/v1", dependencies=[Depends(require_secret)])

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "service": SERVICE, "version": VERSION}

    @api.get("/payments/{payment_key}")
    def get_payment(payment_key: str) -> dict:
        payment = ledger.payment(payment_key)
        if payment is None:
            raise not_found(payment_key)
        return payment

    @api.post("/payments/{payment_key}/cancel")
    async def cancel_payment(payment_key: str, request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            raise GatewayError(400, "INVALID_REQUEST", "Idempotency-Key header is required")
        if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise GatewayError(400, "INVALID_REQUEST", "Idempotency-Key is too long")
        cancel, canonical = CancelRequest.parse(await request.body())
        delay = float(request.scope.get("state", {}).get(PROCESSING_DELAY, 0.0))
        # Sync SQLite work (and a possible injected sleep) off the event loop.
        status, body = await run_in_threadpool(
            ledger.cancel, payment_key, key, cancel, canonical, delay
        )
        return JSONResponse(body, status_code=status)

    @api.get("/_ledger/cancels")
    def ledger_cancels(paymentKey: str | None = None) -> list[dict]:  # noqa: N803 (API name)
        return ledger.cancels(paymentKey)

    app.include_router(api)
    return app
