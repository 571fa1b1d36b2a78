"""The demo's shop and crm in PostgreSQL as a deployment has them: tables from their
declaration (lib.records.schema: real timestamp and date types, computed search keys,
indexes), rows copied from the seeded SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lib.records import schema

SHOP_TABLES = ("sellers", "products", "orders", "payments", "refunds")
CRM_TABLES = ("customers",)
CHUNK = 5000


def load(sqlite_file: Path, url: str, metadata: sa.MetaData, names: tuple[str, ...]) -> None:
    """Create `names` of `metadata` in the database at `url` and copy their rows from
    `sqlite_file` (computed columns left to the database)."""
    tables = [metadata.tables[n] for n in names]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=tables)
            for table in [t for t in metadata.sorted_tables if t in tables]:
                for chunk in _rows(sqlite_file, table):
                    conn.execute(table.insert(), chunk)
    finally:
        engine.dispose()


def _rows(sqlite_file: Path, table: sa.Table) -> Iterator[list[dict[str, Any]]]:
    columns = [c for c in table.columns if c.computed is None]
    names = ", ".join(f'"{c.name}"' for c in columns)
    with closing(sqlite3.connect(f"{sqlite_file.resolve().as_uri()}?mode=ro", uri=True)) as con:
        cursor = con.execute(f'SELECT {names} FROM "{table.name}"')  # noqa: S608 (declared names)
        while batch := cursor.fetchmany(CHUNK):
            yield [
                {c.name: _typed(c, v) for c, v in zip(columns, row, strict=True)} for row in batch
            ]


def _typed(column: sa.Column, value: Any) -> Any:
    """SQLite's text times as the datetime or date their PostgreSQL column holds."""
    if value is None or not isinstance(value, str):
        return value
    if column.type is schema.TIMESTAMP:
        return datetime.fromisoformat(value)
    if column.type is schema.DATE:
        return date.fromisoformat(value[:10])
    return value


def pending_orders(url: str, count: int) -> list[int]:
    """The ids of `count` pending orders (the oldest ids first)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            ids = conn.execute(
                sa.select(schema.orders.c.id)
                .where(schema.orders.c.status == "pending")
                .order_by(schema.orders.c.id)
                .limit(count)
            ).scalars()
            return list(ids)
    finally:
        engine.dispose()
