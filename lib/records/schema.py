"""The systems of record the actions change, as SQLAlchemy Core tables: the one declaration.

Reads go through DuckDB; only lib/actions writes, through these definitions, with bound
parameters. `refunds` is the action layer's own table beside the orders it refunds.
lib.demo.seed builds the demo's crm.sqlite and shop.sqlite from these tables (constraints and
indexes included), and lib.demo.load_sql copies those files' tables, so every database the
demo or the tests use has the shape declared here.
"""

from __future__ import annotations

import sqlalchemy as sa

from lib.records.database import create_tables

shop = sa.MetaData()
crm = sa.MetaData()

# Times and dates are text in SQLite, as the demo files and lib.records.now_text write them
# ('YYYY-MM-DD HH:MM:SS', which sorts as time), and real types in PostgreSQL and MariaDB, where
# they are indexed and compared as such (MariaDB cannot index TEXT at all).
SERVERS = ("postgresql", "mysql", "mariadb")
TIMESTAMP = sa.Text().with_variant(sa.DateTime(), *SERVERS)
DATE = sa.Text().with_variant(sa.Date(), *SERVERS)
KEYWORD = sa.String(32)  # a status, a segment: short, and indexable in MariaDB

# A phone number without its separators: 010-1234-5678 -> 01012345678, +82 10-1234-5678 ->
# +821012345678 (lib.access.pii_search.phone_keys gives both forms of what was typed).
PHONE_KEY = (
    "replace(replace(replace(replace(replace(phone, '-', ''), ' ', ''), '(', ''), ')', ''),"
    " '.', '')"
)

customers = sa.Table(
    "customers",
    crm,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    # UNIQUE: update_contact checks for a taken address first, and relies on this constraint
    # (IntegrityError -> Conflict) when another customer takes it between that check and the write.
    sa.Column("email", sa.String(255), nullable=False, unique=True),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("segment", KEYWORD, nullable=False),
    sa.Column("status", KEYWORD, nullable=False),
    sa.Column("signup_date", DATE, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    # Search keys (lib.access.pii_search's rules: a name by its beginning, an e-mail and a
    # phone whole), computed by the database itself so every writer keeps them right, and
    # indexed, so a search is an index lookup at any size (queries/customers_page.sql).
    sa.Column("name_key", sa.String(255), sa.Computed("lower(name)", persisted=True)),
    sa.Column("email_key", sa.String(255), sa.Computed("lower(trim(email))", persisted=True)),
    sa.Column("phone_key", sa.String(64), sa.Computed(PHONE_KEY, persisted=True)),
    sa.Index("idx_customers_name_key", "name_key", "id"),
    sa.Index("idx_customers_email_key", "email_key"),
    sa.Index("idx_customers_phone_key", "phone_key"),
    sa.Index("idx_customers_signup_date", "signup_date", "id"),
    # The Customers page's other sorts (and filters): a page is one range of the sort's index.
    sa.Index("idx_customers_segment", "segment", "id"),
    sa.Index("idx_customers_status", "status", "id"),
    sa.Index("idx_customers_updated_at", "updated_at"),
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
    sa.Column("seller_id", sa.Integer, sa.ForeignKey("sellers.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("price", sa.Integer, nullable=False),
    sa.Column("stock", sa.Integer, nullable=False),
    sa.Column("active", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("created_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    sa.Index("idx_products_seller_id", "seller_id"),  # a seller's catalogue
)

# Indexes: the Orders page filters by status and date and sorts newest first; a customer's
# detail lists their orders.
orders = sa.Table(
    "orders",
    shop,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("seller_id", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("status", KEYWORD, nullable=False),
    sa.Column("ordered_at", TIMESTAMP, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
    # The Orders list reads its page in index order, newest first (the id breaks ties, so a
    # page boundary is one key), filtered by status or seller or not at all; the snapshots
    # refresh by updated_at.
    sa.Index("idx_orders_status", "status", "ordered_at", "id"),
    sa.Index("idx_orders_ordered_at", "ordered_at", "id"),
    sa.Index("idx_orders_seller_ordered_at", "seller_id", "ordered_at", "id"),
    sa.Index("idx_orders_amount", "amount", "id"),
    sa.Index("idx_orders_customer_id", "customer_id", "ordered_at"),
    sa.Index("idx_orders_updated_at", "updated_at"),
)

payments = sa.Table(
    "payments",
    shop,
    sa.Column("payment_key", sa.String(64), primary_key=True),
    # One payment per order: the order actions read an order's payment as one row.
    sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id"), nullable=False, unique=True),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("balance_amount", sa.Integer, nullable=False),
    sa.Column("method", KEYWORD, nullable=False),
    sa.Column("status", KEYWORD, nullable=False),
    sa.Column("approved_at", TIMESTAMP, nullable=False),
    # A payment key searched by its beginning (LIKE 'tpk_12%'): PostgreSQL's btree serves a
    # prefix only with pattern ops (SQLite and MariaDB use the primary key's index).
    sa.Index(
        "idx_payments_key_prefix",
        "payment_key",
        postgresql_ops={"payment_key": "varchar_pattern_ops"},
    ).ddl_if(dialect="postgresql"),
)

# A refund is recorded as requested, with its idempotency key, before the gateway is
# called; `requested` and `unknown` rows hold their amount against the payment's balance.
# `cancels_before` is how many cancels the gateway held for the payment before this one: the
# lookup that decides an unknown refund looks only after them, so an older cancel of the same
# amount and reason is never taken for this one. `cancels_after` is the count the gateway
# answered with once it applied this one (the next refund's `cancels_before`). `rejects_order`
# marks the cancel a reject made: only its failure sends the order back to pending. The three
# are nullable because rows written before them have none (ensure_action_tables adds them).
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
    sa.Column("cancels_before", sa.Integer),
    sa.Column("cancels_after", sa.Integer),
    sa.Column("rejects_order", sa.Boolean),
)

ACTION_TABLES = {"shop": [refunds], "crm": []}


def ensure_action_tables(engine: sa.Engine, db: str) -> None:
    """Create the tables the action layer owns in a system of record, if missing, and add
    the (nullable) columns a table made by an older version lacks."""
    tables = ACTION_TABLES.get(db, [])
    if not tables:
        return
    create_tables(tables[0].metadata, engine, tables)
    for table in tables:
        _add_missing_columns(engine, table)


def _add_missing_columns(engine: sa.Engine, table: sa.Table) -> None:
    have = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
    quote = engine.dialect.identifier_preparer.quote
    for column in table.columns:
        if column.name in have or not column.nullable:
            continue
        kind = column.type.compile(dialect=engine.dialect)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"
                    )
                )
        except sa.exc.DBAPIError:
            # Another app process added it between the look and the ALTER.
            fresh = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
            if column.name not in fresh:
                raise


def now_text() -> str:
    """A UTC time as the systems of record store it: 'YYYY-MM-DD HH:MM:SS'."""
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- the audit database's side tables --------------------------------------------------------
# Kept beside audit_log (not in a system of record): an unmask grant is written in the same
# transaction as the audit row that records it. Created by lib.access.unmask (checkfirst).
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
