"""Copy demo tables from a SQLite file into PostgreSQL or MariaDB/MySQL.

A table lib.records.schema declares (the systems of record: customers, sellers, products,
orders, payments, refunds) is created from that declaration, as lib.demo.bulk creates it: the
real types (timestamps and dates as such, where SQLite holds text), the computed search keys
(filled in by the database, so only the other columns are copied), constraints and indexes.
Any other table is built from the SQLite file's own schema (PRAGMA table_info) through
SQLAlchemy Core, its dates and timestamps left as text.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from lib.demo import bulk
from lib.records import schema
from lib.records.database import MYSQL_DIALECTS, ensure_utf8mb4

CHUNK_ROWS = 2000


def copy_tables(
    sqlite_path: Path, sqlalchemy_url: str, tables: list[str], *, replace: bool = False
) -> dict[str, int]:
    """Create `tables` in the target database (from lib.records.schema when declared there,
    else as defined in the SQLite file) and copy all rows.

    Keeps primary keys, unique constraints, indexes, and foreign keys between the copied
    tables. Fails if a table already exists, unless `replace` drops it first.
    Returns the number of rows copied per table.
    """
    source = sqlite3.connect(f"{Path(sqlite_path).resolve().as_uri()}?mode=ro", uri=True)
    counts: dict[str, int] = {}
    try:
        for metadata in (schema.crm, schema.shop):
            names = [n for n in tables if n in metadata.tables]
            if names:
                rows = {n: _declared_rows(source, metadata.tables[n]) for n in names}
                counts |= bulk.write_tables(sqlalchemy_url, metadata, names, rows, replace=replace)
        others = [n for n in tables if n not in counts]
        if others:
            counts |= _copy_undeclared(source, sqlalchemy_url, others, replace=replace)
        return {name: counts[name] for name in tables}
    finally:
        source.close()


def _declared_rows(source: sqlite3.Connection, table: Table) -> list[dict]:
    """The table's rows from the SQLite file, the columns a writer supplies (not the computed
    ones). Text timestamps go as they are: each server parses 'YYYY-MM-DD HH:MM:SS'."""
    columns = bulk.written_columns(table)
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = source.execute(f'SELECT {quoted} FROM "{table.name}"')
    return [dict(zip(columns, row, strict=True)) for row in cursor]


def _copy_undeclared(
    source: sqlite3.Connection, sqlalchemy_url: str, tables: list[str], *, replace: bool
) -> dict[str, int]:
    engine = create_engine(ensure_utf8mb4(sqlalchemy_url))
    try:
        metadata = MetaData()
        for name in tables:
            _table_from_sqlite(source, name, metadata, set(tables))
        counts: dict[str, int] = {}
        with engine.begin() as conn:
            if replace:
                metadata.drop_all(conn, checkfirst=True)
            metadata.create_all(conn, checkfirst=False)
            # sorted_tables puts referenced tables first, so foreign keys hold while inserting.
            for table in metadata.sorted_tables:
                counts[table.name] = _copy_rows(source, table, conn)
        return counts
    finally:
        engine.dispose()


def _copy_rows(source: sqlite3.Connection, table: Table, conn: Connection) -> int:
    columns = [c.name for c in table.columns]
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = source.execute(f'SELECT {quoted} FROM "{table.name}"')
    insert = table.insert()
    copied = 0
    while chunk := cursor.fetchmany(CHUNK_ROWS):
        conn.execute(insert, [dict(zip(columns, row, strict=True)) for row in chunk])
        copied += len(chunk)
    return copied


def _table_from_sqlite(
    source: sqlite3.Connection, name: str, metadata: MetaData, copied: set[str]
) -> Table:
    info = source.execute(f'PRAGMA table_info("{name}")').fetchall()
    if not info:
        raise ValueError(f"table {name!r} not found in the SQLite file")
    # (cid, name, type, notnull, dflt_value, pk)
    pk_columns = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]

    indexes = []  # (index name, unique, origin, columns)
    for _, index_name, unique, origin, _ in source.execute(f'PRAGMA index_list("{name}")'):
        cols = [r[2] for r in source.execute(f'PRAGMA index_info("{index_name}")')]
        indexes.append((index_name, bool(unique), origin, cols))
    # MySQL cannot key a TEXT column without a prefix length; such columns become VARCHAR there.
    keyed = set(pk_columns) | {c for *_, cols in indexes for c in cols}

    columns = [
        Column(
            col_name,
            _column_type(decl_type, keyed=col_name in keyed),
            primary_key=col_name in pk_columns,
            autoincrement=False,  # ids are copied, not generated
            nullable=not notnull and col_name not in pk_columns,
            server_default=text(default) if default is not None else None,
        )
        for _, col_name, decl_type, notnull, default, _ in info
    ]
    constraints: list = []
    for index_name, unique, origin, cols in indexes:
        if origin == "u":
            constraints.append(UniqueConstraint(*cols))
        elif origin == "c":
            constraints.append(Index(index_name, *cols, unique=unique))
    fks: dict[int, list] = {}
    for fk_id, _, ref_table, from_col, to_col, *_ in source.execute(
        f'PRAGMA foreign_key_list("{name}")'
    ):
        fks.setdefault(fk_id, []).append((ref_table, from_col, to_col))
    for parts in fks.values():
        ref_table = parts[0][0]
        if ref_table not in copied:  # a reference to a table left behind cannot be enforced
            continue
        # `REFERENCES t` without a column list means t's primary key.
        to_cols = [p[2] for p in parts]
        if None in to_cols:
            ref_info = source.execute(f'PRAGMA table_info("{ref_table}")').fetchall()
            to_cols = [r[1] for r in sorted((r for r in ref_info if r[5]), key=lambda r: r[5])]
        constraints.append(
            ForeignKeyConstraint([p[1] for p in parts], [f"{ref_table}.{c}" for c in to_cols])
        )
    # InnoDB and utf8mb4 whatever the database's defaults are; ignored by other dialects.
    return Table(
        name, metadata, *columns, *constraints, mysql_engine="InnoDB", mysql_charset="utf8mb4"
    )


def _column_type(declared: str, keyed: bool) -> TypeEngine:
    """SQLite's type-affinity rules, mapped to portable types."""
    decl = declared.upper()
    if "INT" in decl:
        # SQLite integers are 64-bit; BIGINT keeps the range, and DuckDB sees the same type
        # whichever database the table sits in.
        return BigInteger()
    if any(t in decl for t in ("CHAR", "CLOB", "TEXT")):
        if keyed:
            return Text().with_variant(String(255), *MYSQL_DIALECTS)
        return Text()
    if "BLOB" in decl or not decl:
        return LargeBinary()
    if any(t in decl for t in ("REAL", "FLOA", "DOUB")):
        return Double()
    return Numeric()
