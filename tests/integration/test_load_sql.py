"""Copying demo tables from SQLite into real PostgreSQL and MariaDB databases."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.demo.data.base import is_korean
from lib.demo.load_sql import copy_tables, ensure_utf8mb4

pytestmark = pytest.mark.integration


@contextmanager
def connect(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(ensure_utf8mb4(url))
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()  # so the session can drop the database


def sqlite_rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


# The columns SQLite and the copies share (the computed search keys come after them).
CUSTOMER_COLUMNS = "id, name, email, phone, address, segment, status, signup_date, updated_at"


def a_korean_customer(demo_dir: Path) -> tuple:
    rows = sqlite_rows(demo_dir / "crm.sqlite", f"SELECT {CUSTOMER_COLUMNS} FROM customers")
    return next(row for row in rows if is_korean(row[1]) and is_korean(row[4]))


def as_text(row: object) -> tuple:
    """A row from PostgreSQL or MariaDB with its dates and times as SQLite holds them."""
    return tuple(
        v.isoformat(" ") if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
        for v in row  # type: ignore[attr-defined]
    )


def one_customer(conn: sa.Connection, customer_id: int) -> tuple:
    sql = sa.text(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = :id")
    return as_text(conn.execute(sql, {"id": customer_id}).one())


def test_customers_copied_into_postgresql_keep_korean_text_and_keys(pg_server, demo_dir):
    url = pg_server.new()
    assert copy_tables(demo_dir / "crm.sqlite", url, ["customers"]) == {"customers": 2000}

    korean = a_korean_customer(demo_dir)
    with connect(url) as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 2000
        assert one_customer(conn, korean[0]) == korean
        inspector = sa.inspect(conn)
        assert inspector.get_pk_constraint("customers")["constrained_columns"] == ["id"]
        assert [u["column_names"] for u in inspector.get_unique_constraints("customers")] == [
            ["email"]
        ]


def test_orders_copied_into_mariadb_match_the_sqlite_totals(mysql_server, demo_dir):
    url = mysql_server.new()
    assert copy_tables(demo_dir / "shop.sqlite", url, ["orders"]) == {"orders": 20000}

    expected = sqlite_rows(
        demo_dir / "shop.sqlite", "SELECT COUNT(*), SUM(amount), MAX(ordered_at) FROM orders"
    )[0]
    with connect(url) as conn:
        got = conn.execute(sa.text("SELECT COUNT(*), SUM(amount), MAX(ordered_at) FROM orders"))
        assert as_text(got.one()) == expected
        indexes = {i["name"] for i in sa.inspect(conn).get_indexes("orders")}
        assert {"idx_orders_status", "idx_orders_ordered_at", "idx_orders_customer_id"} <= indexes


def test_korean_names_round_trip_through_mariadb_without_a_charset_in_the_url(
    mysql_server, demo_dir
):
    url = mysql_server.new()
    assert "charset" not in url
    copy_tables(demo_dir / "crm.sqlite", url, ["customers"])

    korean = a_korean_customer(demo_dir)
    with connect(url) as conn:
        assert one_customer(conn, korean[0]) == korean


def test_shop_tables_copied_together_keep_foreign_keys_and_can_be_replaced(pg_server, demo_dir):
    url = pg_server.new()
    shop = demo_dir / "shop.sqlite"
    tables = ["payments", "orders", "products", "sellers"]
    # Counted now: the session's demo data is shared, and page tests add products to it.
    expected = {t: sqlite_rows(shop, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}
    assert expected["orders"] == 20000 and expected["sellers"] == 3
    assert copy_tables(shop, url, tables) == expected

    with connect(url) as conn:
        fks = sa.inspect(conn).get_foreign_keys("payments")
        assert [(fk["referred_table"], fk["constrained_columns"]) for fk in fks] == [
            ("orders", ["order_id"])
        ]
        default = {c["name"]: c["default"] for c in sa.inspect(conn).get_columns("products")}
        assert default["active"] == "1"

    with pytest.raises(sa.exc.ProgrammingError, match="already exists"):
        copy_tables(shop, url, ["sellers"])
    assert copy_tables(shop, url, tables, replace=True) == expected


def test_mysql_urls_get_utf8mb4_unless_they_name_a_charset():
    assert ensure_utf8mb4("mysql+pymysql://root@127.0.0.1:3306/shop") == (
        "mysql+pymysql://root@127.0.0.1:3306/shop?charset=utf8mb4"
    )
    assert ensure_utf8mb4("mariadb+pymysql://u:p%40ss@h/db").endswith("db?charset=utf8mb4")
    assert "p%40ss" in ensure_utf8mb4("mariadb+pymysql://u:p%40ss@h/db")
    assert ensure_utf8mb4("mysql+pymysql://h/db?charset=latin1").endswith("charset=latin1")
    assert ensure_utf8mb4("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"


@pytest.mark.parametrize("server", ["pg_server", "mysql_server"])
def test_declared_tables_get_real_types_search_keys_and_indexes(server, request, demo_dir):
    # lib.records.schema's declaration, not the SQLite file's text columns: timestamps and
    # dates as such, the search keys computed by the database, the list indexes.
    url = request.getfixturevalue(server).new()
    copy_tables(demo_dir / "crm.sqlite", url, ["customers"])
    copy_tables(demo_dir / "shop.sqlite", url, ["orders"])
    korean = a_korean_customer(demo_dir)
    with connect(url) as conn:
        keys = conn.execute(
            sa.text(
                "SELECT name_key, email_key, phone_key, signup_date, updated_at FROM customers "
                "WHERE id = :id"
            ),
            {"id": korean[0]},
        ).one()
        assert keys[:3] == (korean[1].lower(), korean[2].lower(), korean[3].replace("-", ""))
        assert isinstance(keys.signup_date, date) and isinstance(keys.updated_at, datetime)
        ordered_at = conn.execute(sa.text("SELECT MAX(ordered_at) FROM orders")).scalar()
        assert isinstance(ordered_at, datetime)
        inspector = sa.inspect(conn)
        assert {"idx_customers_name_key", "idx_customers_email_key", "idx_customers_phone_key"} <= {
            i["name"] for i in inspector.get_indexes("customers")
        }
        assert {"idx_orders_status", "idx_orders_seller_ordered_at", "idx_orders_updated_at"} <= {
            i["name"] for i in inspector.get_indexes("orders")
        }


def test_an_undeclared_table_is_copied_from_the_sqlite_schema(pg_server, tmp_path):
    path = tmp_path / "extra.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, at TEXT)")
        con.execute("INSERT INTO notes VALUES (1, '메모', '2026-01-02 03:04:05')")
    url = pg_server.new()
    assert copy_tables(path, url, ["notes"]) == {"notes": 1}
    with connect(url) as conn:
        assert conn.execute(sa.text("SELECT * FROM notes")).one() == (
            1,
            "메모",
            "2026-01-02 03:04:05",
        )
