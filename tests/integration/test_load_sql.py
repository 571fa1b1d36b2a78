"""Copying demo tables from SQLite into real PostgreSQL and MariaDB databases."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
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


def a_korean_customer(demo_dir: Path) -> tuple:
    rows = sqlite_rows(demo_dir / "crm.sqlite", "SELECT * FROM customers ORDER BY id")
    return next(row for row in rows if is_korean(row[1]) and is_korean(row[4]))


def test_customers_copied_into_postgresql_keep_korean_text_and_keys(pg_server, demo_dir):
    url = pg_server.new()
    assert copy_tables(demo_dir / "crm.sqlite", url, ["customers"]) == {"customers": 2000}

    korean = a_korean_customer(demo_dir)
    with connect(url) as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 2000
        row = conn.execute(sa.text("SELECT * FROM customers WHERE id = :id"), {"id": korean[0]})
        assert tuple(row.one()) == korean
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
        assert tuple(got.one()) == expected
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
        row = conn.execute(sa.text("SELECT * FROM customers WHERE id = :id"), {"id": korean[0]})
        assert tuple(row.one()) == korean


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
