"""The systems of record the actions change, as SQLAlchemy Core tables.

Reads go through DuckDB; only lib/actions writes, through these definitions, with bound
parameters. `refunds` is the action layer's own table beside the orders it refunds.
"""

from __future__ import annotations

import sqlalchemy as sa

shop = sa.MetaData()
crm = sa.MetaData()

customers = sa.Table(
    "customers",
    crm,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.String(255), nullable=False),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("signup_date", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

sellers = sa.Table(
    "sellers",
    shop,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
)

products = sa.Table(
    "products",
    shop,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seller_id", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("stock", sa.Integer, nullable=False),
    sa.Column("active", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

orders = sa.Table(
    "orders",
    shop,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("seller_id", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("ordered_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
)

payments = sa.Table(
    "payments",
    shop,
    sa.Column("payment_key", sa.String(64), primary_key=True),
    sa.Column("order_id", sa.Integer, nullable=False, unique=True),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("balance_amount", sa.Integer, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("approved_at", sa.Text, nullable=False),
)

# A refund is recorded as requested, with its idempotency key, before the gateway is
# called; `requested` and `unknown` rows hold their amount against the payment's balance.
refunds = sa.Table(
    "refunds",
    shop,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.Integer, nullable=False, index=True),
    sa.Column("payment_key", sa.String(64), nullable=False, index=True),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),  # requested | done | failed | unknown
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("requested_at", sa.Text, nullable=False),
    sa.Column("settled_at", sa.Text),
    sa.Column("gateway_code", sa.Text),
)

ACTION_TABLES = {"shop": [refunds], "crm": []}


def ensure_action_tables(engine: sa.Engine, db: str) -> None:
    """Create the tables the action layer owns in a system of record, if missing."""
    tables = ACTION_TABLES.get(db, [])
    if not tables:
        return
    try:
        tables[0].metadata.create_all(engine, tables=tables, checkfirst=True)
    except sa.exc.DBAPIError:
        # Another app process created them between the check and the CREATE.
        missing = [t for t in tables if not sa.inspect(engine).has_table(t.name)]
        if missing:
            raise


def now_text() -> str:
    """A UTC time as the systems of record store it: 'YYYY-MM-DD HH:MM:SS'."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- the audit database's side tables --------------------------------------------------------
# Kept beside audit_log (not in a system of record): an unmask grant is written in the same
# transaction as the audit row that records it. Created by lib.unmask (checkfirst).
audit_side = sa.MetaData()

unmask_grants = sa.Table(
    "unmask_grants",
    audit_side,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("customer_id", sa.BigInteger, nullable=False),
    sa.Column("fields", sa.Text, nullable=False),  # kinds, sorted, comma-separated
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("granted_at", sa.Text, nullable=False),  # ISO 8601 UTC, microseconds: sorts as text
    sa.Column("expires_at", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Index("ix_unmask_grants_lookup", "actor", "customer_id", "expires_at"),
)
