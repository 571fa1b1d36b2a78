"""A payment-gateway sandbox in the style of Toss Payments, with its own ledger.

- `GET /v1/payments/{paymentKey}` -> the Payment object, or 404 NOT_FOUND_PAYMENT.
- `POST /v1/payments/{paymentKey}/cancel`, header `Idempotency-Key`, JSON
  `{"cancelReason": str, "cancelAmount": int?}` (absent: the whole balance) -> the Payment.
- `GET /v1/_ledger/cancels?paymentKey=` -> the cancels the ledger holds (for tests).
- `GET /health` (open). Everything under /v1 needs `Authorization: Basic base64(secret + ":")`.
Errors are `{"code", "message"}` with a 4xx/5xx status.

The ledger is `gateway.sqlite` beside the demo databases, filled from shop.sqlite's payments the
first time it is empty. It is the gateway's truth: refunds change it, never shop.sqlite (the
app records its own side). Idempotency follows Toss/Stripe: a key's first executed answer is
stored and replayed for the same request; a request that fails validation stores nothing.

What it reproduces of Toss Payments, from docs.tosspayments.com (reference/error-codes "결제
취소", reference/using-api/idempotency, guides/apis/cancel-payment, the Payment object):
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

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from lib.demo.services import iso_utc, open_readonly
from lib.demo.services.auth import basic_secret_matches
from lib.demo.services.faults import PROCESSING_DELAY, install_faults
from lib.payments import refund_account

LEDGER_FILE = "gateway.sqlite"
# Toss: "two cancels of one payment within 1 s: only the first is processed" (403
# FORBIDDEN_CONSECUTIVE_REQUEST). Seconds.
CONSECUTIVE_WINDOW = 1.0
# Toss keeps an idempotency key for 15 days (reference/using-api/idempotency). Seconds.
IDEMPOTENCY_KEY_TTL = 15 * 24 * 3600.0
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
# An idempotency key held in flight this long belongs to a request that died (the process
# was killed mid-way): a retry may take it over. The owner check keeps the first from applying.
STALE_IN_FLIGHT_SECONDS = 30.0
MAX_REASON_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 300
SEEDED_CANCEL_REASON = "customer request"

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    payment_key TEXT PRIMARY KEY,
    order_id INTEGER NOT NULL,
    total_amount INTEGER NOT NULL,
    balance_amount INTEGER NOT NULL CHECK (balance_amount >= 0),
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    approved_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cancels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_key TEXT NOT NULL REFERENCES payments(payment_key),
    cancel_amount INTEGER NOT NULL,
    cancel_reason TEXT NOT NULL,
    canceled_at TEXT NOT NULL,
    transaction_key TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS idx_cancels_payment_key ON cancels(payment_key);
CREATE TABLE IF NOT EXISTS cancel_requests (
    payment_key TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status_code INTEGER,
    response_json TEXT,
    owner TEXT NOT NULL,
    started_at REAL NOT NULL
);
"""


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
    # Toss's refundReceiveAccount as sent (checked against the payment in _apply_cancel).
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ledger:
    """The gateway's payments, cancels and idempotency keys in one SQLite file.

    Every call opens its own connection and every write runs under BEGIN IMMEDIATE, so
    concurrent requests (threads or processes) serialize on SQLite's write lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self._connect()) as con:
            con.execute("PRAGMA journal_mode=WAL")  # readers do not wait for a cancel
            con.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are exactly the BEGIN/COMMIT written below.
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        return con

    @contextmanager
    def _write(self, con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            if con.in_transaction:  # SQLite may have rolled back already (e.g. on SQLITE_FULL)
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def seed_from_shop(self, shop: Path) -> int:
        """Copy shop.sqlite's payments in if the ledger has none; returns how many were added."""
        with closing(self._connect()) as con, self._write(con):
            if con.execute("SELECT COUNT(*) FROM payments").fetchone()[0]:
                return 0
            with closing(open_readonly(shop)) as src:
                rows = src.execute(
                    "SELECT p.payment_key, p.order_id, p.amount, p.balance_amount, p.method,"
                    " p.status, p.approved_at, o.updated_at"
                    " FROM payments p LEFT JOIN orders o ON o.id = p.order_id"
                    " ORDER BY p.payment_key"
                ).fetchall()
            for r in rows:
                # The SELECT lists the ledger's columns in its order.
                values = (*tuple(r)[:6], iso_utc(r["approved_at"]))
                con.execute("INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?)", values)
                refunded = r["amount"] - r["balance_amount"]
                if r["status"] in ("CANCELED", "PARTIAL_CANCELED") and refunded > 0:
                    # The refund the shop data already shows, so cancels add up to the balance.
                    when = max(r["approved_at"], r["updated_at"] or r["approved_at"])
                    tx = "seed_" + hashlib.sha256(r["payment_key"].encode()).hexdigest()[:20]
                    con.execute(
                        "INSERT INTO cancels (payment_key, cancel_amount, cancel_reason,"
                        " canceled_at, transaction_key) VALUES (?, ?, ?, ?, ?)",
                        (r["payment_key"], refunded, SEEDED_CANCEL_REASON, iso_utc(when), tx),
                    )
            return len(rows)

    def payment(self, payment_key: str) -> dict | None:
        with closing(self._connect()) as con:
            return _payment_object(con, payment_key)

    def cancels(self, payment_key: str | None = None) -> list[dict]:
        sql = "SELECT * FROM cancels"
        params: tuple = ()
        if payment_key is not None:
            sql, params = sql + " WHERE payment_key = ?", (payment_key,)
        with closing(self._connect()) as con:
            rows = con.execute(sql + " ORDER BY id", params).fetchall()
        return [{"paymentKey": r["payment_key"], **_cancel_object(r)} for r in rows]

    def cancel(
        self,
        payment_key: str,
        idempotency_key: str,
        request: CancelRequest,
        canonical_body: str,
        processing_delay: float = 0.0,
    ) -> tuple[int, dict]:
        """Apply a cancel at most once per idempotency key; returns (HTTP status, body).

        Two transactions: the first claims the key (in flight, visible to others, who get
        409), the second applies the cancel and stores its answer together, so a key marked
        done always has its effect in the ledger and an in-flight key never has.
        """
        request_hash = hashlib.sha256(f"{payment_key}\n{canonical_body}".encode()).hexdigest()
        owner = uuid.uuid4().hex
        with closing(self._connect()) as con:
            with self._write(con):
                now = time.time()
                last = con.execute(
                    "SELECT received_at FROM cancel_requests WHERE payment_key = ?",
                    (payment_key,),
                ).fetchone()
                if last is not None and 0 <= now - last["received_at"] < CONSECUTIVE_WINDOW:
                    refused = GatewayError.toss(
                        "FORBIDDEN_CONSECUTIVE_REQUEST",
                        "Another cancel of this payment arrived less than 1 s ago",
                    )
                    return refused.status, refused.body()  # not processed, nothing stored
                con.execute(
                    "INSERT INTO cancel_requests (payment_key, received_at) VALUES (?, ?)"
                    " ON CONFLICT (payment_key) DO UPDATE SET received_at = excluded.received_at",
                    (payment_key, now),
                )
                con.execute(  # a key older than Toss keeps one is new again
                    "DELETE FROM idempotency WHERE key = ? AND state = 'done' AND started_at < ?",
                    (idempotency_key, now - IDEMPOTENCY_KEY_TTL),
                )
                row = con.execute(
                    "SELECT * FROM idempotency WHERE key = ?", (idempotency_key,)
                ).fetchone()
                if row is not None:
                    # In flight first: a request under the key is still being applied, whatever
                    # this one's body, and a client must hear "in progress", never a refusal.
                    fresh = time.time() - row["started_at"] < STALE_IN_FLIGHT_SECONDS
                    if row["state"] == "in_flight" and fresh:
                        return 409, _processing().body()
                    if row["request_hash"] != request_hash:
                        return 422, GatewayError(
                            422, "INVALID_REQUEST", "Idempotency-Key was used for another request"
                        ).body()
                    if row["state"] == "done":
                        return row["status_code"], json.loads(row["response_json"])
                    con.execute(
                        "UPDATE idempotency SET owner = ?, started_at = ? WHERE key = ?",
                        (owner, time.time(), idempotency_key),
                    )
                else:
                    con.execute(
                        "INSERT INTO idempotency (key, request_hash, state, owner, started_at)"
                        " VALUES (?, ?, 'in_flight', ?, ?)",
                        (idempotency_key, request_hash, owner, time.time()),
                    )
            try:
                if processing_delay:
                    time.sleep(processing_delay)  # a slow provider, key held in flight
                with self._write(con):
                    mine = con.execute(
                        "SELECT 1 FROM idempotency WHERE key = ? AND owner = ?"
                        " AND state = 'in_flight'",
                        (idempotency_key, owner),
                    ).fetchone()
                    if mine is None:  # taken over as stale: the new owner does the work
                        return 409, _processing().body()
                    status, body = _apply_cancel(con, payment_key, request)
                    con.execute(
                        "UPDATE idempotency SET state = 'done', status_code = ?,"
                        " response_json = ? WHERE key = ?",
                        (status, json.dumps(body, ensure_ascii=False), idempotency_key),
                    )
                return status, body
            except BaseException:
                # Nothing was applied (the apply transaction rolled back): free the key so a
                # retry runs now rather than after STALE_IN_FLIGHT_SECONDS.
                with suppress(sqlite3.Error):
                    con.execute(
                        "DELETE FROM idempotency WHERE key = ? AND owner = ?"
                        " AND state = 'in_flight'",
                        (idempotency_key, owner),
                    )
                raise


def _processing() -> GatewayError:
    return GatewayError(
        409, "IDEMPOTENT_REQUEST_PROCESSING", "A request with this Idempotency-Key is in progress"
    )


def _apply_cancel(
    con: sqlite3.Connection, payment_key: str, request: CancelRequest
) -> tuple[int, dict]:
    """The cancel's effect, inside the caller's write transaction; (status, answer)."""
    row = con.execute("SELECT * FROM payments WHERE payment_key = ?", (payment_key,)).fetchone()
    if row is None:
        return 404, _not_found(payment_key).body()
    if row["status"] == "ABORTED":  # Toss: ABORTED is an approval that failed, not a cancel
        refused = GatewayError.toss("NOT_CANCELABLE_PAYMENT", "The payment was never approved")
        return refused.status, refused.body()
    if row["status"] == "CANCELED":
        refused = GatewayError.toss("ALREADY_CANCELED_PAYMENT", "Payment is already CANCELED")
        return refused.status, refused.body()
    balance = row["balance_amount"]
    amount = balance if request.amount is None else request.amount
    if amount <= 0 or amount > balance:
        refused = GatewayError.toss(
            "NOT_CANCELABLE_AMOUNT", f"cancelAmount must be between 1 and {balance}"
        )
        return refused.status, refused.body()
    refused = _virtual_account_refusal(row, request, amount)
    if refused is not None:
        return refused.status, refused.body()
    left = balance - amount
    con.execute(
        "UPDATE payments SET balance_amount = ?, status = ? WHERE payment_key = ?",
        (left, "CANCELED" if left == 0 else "PARTIAL_CANCELED", payment_key),
    )
    con.execute(
        "INSERT INTO cancels (payment_key, cancel_amount, cancel_reason, canceled_at,"
        " transaction_key) VALUES (?, ?, ?, ?, ?)",
        (payment_key, amount, request.reason, _now(), "txk_" + uuid.uuid4().hex),
    )
    return 200, _payment_object(con, payment_key) or {}


def _virtual_account_refusal(
    row: sqlite3.Row, request: CancelRequest, amount: int
) -> GatewayError | None:
    """Toss's rule for a virtual-account (가상계좌) payment (docs.tosspayments.com,
    guides/apis/cancel-payment "가상계좌 결제 취소하기"; reference, refundReceiveAccount):
    once paid in, a cancel must name the account to refund to {bank: a bank code,
    accountNumber: digits, at most 20, holderName: at most 60}; before the deposit only the
    whole amount can be canceled (403 NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT) and no
    account is needed. The codes are Toss's (reference/error-codes, 결제 취소); a missing
    account is INVALID_REQUEST. The sandbox checks the account's shape only (Toss also checks
    that the holder owns it: INVALID_REFUND_ACCOUNT_INFO) and keeps nothing of it."""
    if not refund_account.is_virtual_account(row["method"]):
        return None
    if row["status"] == refund_account.WAITING_FOR_DEPOSIT:
        if amount != row["total_amount"]:
            return GatewayError(
                403,
                "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
                "A virtual account not yet paid in can only be canceled in full",
            )
        return None
    if row["status"] not in refund_account.PAID_IN:
        return None
    account = request.refund_account
    if not account:
        return GatewayError(
            400, "INVALID_REQUEST", "refundReceiveAccount is required for a paid-in virtual account"
        )
    if str(account.get("bank")) not in refund_account.BANKS:
        return GatewayError(400, "INVALID_BANK", "Not a valid bank code")
    number = account.get("accountNumber")
    if (
        not isinstance(number, str)
        or not number.isascii()
        or not number.isdigit()
        or len(number) > refund_account.MAX_ACCOUNT_NUMBER
    ):
        return GatewayError(400, "INVALID_REFUND_ACCOUNT_NUMBER", "Not a valid refund account")
    holder = account.get("holderName")
    if (
        not isinstance(holder, str)
        or not holder.strip()
        or len(holder) > refund_account.MAX_HOLDER_NAME
    ):
        return GatewayError(400, "INVALID_REFUND_ACCOUNT_INFO", "Not a valid account holder")
    return None


def _payment_object(con: sqlite3.Connection, payment_key: str) -> dict[str, Any] | None:
    row = con.execute("SELECT * FROM payments WHERE payment_key = ?", (payment_key,)).fetchone()
    if row is None:
        return None
    cancels = con.execute(
        "SELECT * FROM cancels WHERE payment_key = ? ORDER BY id", (payment_key,)
    ).fetchall()
    return {
        "paymentKey": row["payment_key"],
        "orderId": str(row["order_id"]),  # Toss: the shop's order id, a string
        "status": row["status"],
        "method": TOSS_METHODS.get(row["method"], row["method"]),
        "totalAmount": row["total_amount"],
        "balanceAmount": row["balance_amount"],
        "approvedAt": row["approved_at"],
        "cancels": [_cancel_object(c) for c in cancels],
    }


def _cancel_object(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "cancelAmount": row["cancel_amount"],
        "cancelReason": row["cancel_reason"],
        "canceledAt": row["canceled_at"],
        "transactionKey": row["transaction_key"],
        "cancelStatus": "DONE",  # the sandbox applies a cancel at once or not at all
    }


def _not_found(payment_key: str) -> GatewayError:
    return GatewayError(404, "NOT_FOUND_PAYMENT", f"No payment {payment_key}")


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
        return {"status": "ok"}

    @api.get("/payments/{payment_key}")
    def get_payment(payment_key: str) -> dict:
        payment = ledger.payment(payment_key)
        if payment is None:
            raise _not_found(payment_key)
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
