"""The gateway sandbox's ledger: payments, cancels and idempotency keys in one SQLite file,
and Toss's rules for a cancel (lib.demo.services.gateway serves it over HTTP).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lib.demo.services import iso_utc, open_readonly
from lib.demo.services.gateway_protocol import (
    TOSS_METHODS,
    CancelRequest,
    GatewayError,
    not_found,
)
from lib.payments import refund_account

# Toss: "two cancels of one payment within 1 s: only the first is processed" (403
# FORBIDDEN_CONSECUTIVE_REQUEST). Seconds.
CONSECUTIVE_WINDOW = 1.0
# Toss keeps an idempotency key for 15 days (reference/using-api/idempotency). Seconds.
IDEMPOTENCY_KEY_TTL = 15 * 24 * 3600.0
# An idempotency key held in flight this long belongs to a request that died (the process
# was killed mid-way): a retry may take it over. The owner check keeps the first from applying.
STALE_IN_FLIGHT_SECONDS = 30.0
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


def _iso_utc(value: str) -> str:
    """iso_utc, with the demo databases' own 'YYYY-MM-DD HH:MM:SS' rewritten without parsing
    (a million of them when the ledger is seeded from a big demo)."""
    if len(value) == 19 and value[10] == " " and value[4] == "-" and value[13] == ":":
        return f"{value[:10]}T{value[11:]}Z"
    return iso_utc(value)


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
        """Copy shop.sqlite's payments in if the ledger has none; returns how many were added.

        Two executemany passes in one transaction, not a statement per row: at 1.5M payments
        the sandbox must answer its health check within make run's wait."""
        cancels: list[tuple] = []

        def payments(rows: sqlite3.Cursor) -> Iterator[tuple]:
            for r in rows:
                # The SELECT lists the ledger's columns in its order.
                yield (*tuple(r)[:6], _iso_utc(r["approved_at"]))
                refunded = r["amount"] - r["balance_amount"]
                if r["status"] in ("CANCELED", "PARTIAL_CANCELED") and refunded > 0:
                    # The refund the shop data already shows, so cancels add up to the balance.
                    when = max(r["approved_at"], r["updated_at"] or r["approved_at"])
                    tx = "seed_" + hashlib.sha256(r["payment_key"].encode()).hexdigest()[:20]
                    cancels.append(
                        (r["payment_key"], refunded, SEEDED_CANCEL_REASON, _iso_utc(when), tx)
                    )

        with closing(self._connect()) as con, self._write(con):
            if con.execute("SELECT COUNT(*) FROM payments").fetchone()[0]:
                return 0
            with closing(open_readonly(shop)) as src:
                # The ORDER BY sorts every payment: in memory, not in temp files.
                src.execute("PRAGMA temp_store = MEMORY")
                src.execute("PRAGMA cache_size = -500000")
                rows = src.execute(
                    "SELECT p.payment_key, p.order_id, p.amount, p.balance_amount, p.method,"
                    " p.status, p.approved_at, o.updated_at"
                    " FROM payments p LEFT JOIN orders o ON o.id = p.order_id"
                    " ORDER BY p.payment_key"
                )
                added = con.executemany(
                    "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?)", payments(rows)
                ).rowcount
            # Inserted in the payments' order, as one statement per payment gave them ids.
            con.executemany(
                "INSERT INTO cancels (payment_key, cancel_amount, cancel_reason,"
                " canceled_at, transaction_key) VALUES (?, ?, ?, ?, ?)",
                cancels,
            )
            return added

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
        return 404, not_found(payment_key).body()
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
