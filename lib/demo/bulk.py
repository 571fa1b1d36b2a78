"""Load many rows fast into declared tables on SQLite, PostgreSQL or MariaDB/MySQL.

    counts = write_tables(url, schema.shop, ["sellers", "orders"], data.generate(orders=N))

The tables are created from their declaration (lib.records.schema: real types, computed search
keys, constraints) without their secondary indexes, the rows go in the quickest way each
database offers (SQLite: executemany of tuples in one transaction; PostgreSQL: COPY; MariaDB:
multi-row INSERTs with unique and foreign-key checks off), then the indexes are built over the
loaded table, one sort each instead of an update per row, and the planner's statistics taken.
Computed columns are never written: the database fills them in.
"""

from __future__ import annotations

import operator
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from lib.records.database import MYSQL_DIALECTS, ensure_utf8mb4

Row = Mapping[str, Any]

# Rows per executemany on MariaDB: PyMySQL folds each call into INSERTs of up to ~1 MB.
MYSQL_BATCH = 20_000
# A server started with local_infile=OFF refuses LOAD DATA LOCAL: then multi-row INSERTs.
LOCAL_INFILE_REFUSED = (1148, 3948, 4166)
# LOAD DATA's default text format: tab-separated, backslash escapes, \N for NULL.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def write_tables(
    url: str,
    metadata: sa.MetaData,
    names: Sequence[str],
    tables: Mapping[str, Sequence[Row]],
    *,
    replace: bool = True,
) -> dict[str, int]:
    """Create the tables `names` of `metadata` in the database at `url` and load their rows
    from `tables[name]` (dicts keyed by column name; computed columns are left out). With
    `replace` the tables are dropped first if they exist; without it an existing table fails.
    The database must exist (see ensure_database). Returns the rows written per table.

    SQLite is written without a journal: a load that fails half-way leaves a file to throw
    away (lib.demo.seed writes a private temporary file and renames it)."""
    declared = [metadata.tables[name] for name in names]
    backend = sa.make_url(url).get_backend_name()
    # PyMySQL sends a LOAD DATA LOCAL file only when the connection allows it.
    local_infile = {"local_infile": True} if backend in MYSQL_DIALECTS else {}
    engine = sa.create_engine(
        ensure_utf8mb4(url), poolclass=sa.pool.NullPool, connect_args=local_infile
    )
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            if backend == "sqlite":
                conn.exec_driver_sql("PRAGMA journal_mode=OFF")
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
                # The random payment keys and the index builds touch pages all over the file:
                # a 1 GB page cache (the default is 2 MB) and in-memory sorts.
                conn.exec_driver_sql("PRAGMA cache_size=-1000000")
                conn.exec_driver_sql("PRAGMA temp_store=MEMORY")
            elif backend == "postgresql":
                # Index builds sort in memory up to this (the default 64 MB spills to disk).
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            elif backend in MYSQL_DIALECTS:
                conn.exec_driver_sql("SET SESSION unique_checks = 0, foreign_key_checks = 0")
            ordered = [t for t in metadata.sorted_tables if t in declared]
            if replace:
                for table in reversed(ordered):
                    conn.execute(sa.schema.DropTable(table, if_exists=True))
            for table in ordered:
                # Foreign keys only between the tables written here: a table copied without
                # the one it references (products without sellers) cannot enforce it.
                keys = [f for f in table.foreign_key_constraints if f.referred_table in ordered]
                conn.execute(sa.schema.CreateTable(table, include_foreign_key_constraints=keys))
                if backend in MYSQL_DIALECTS:
                    # Korean text whatever the database's default charset is (the table is
                    # empty: instant).
                    conn.exec_driver_sql(
                        f"ALTER TABLE {_quoted(conn, table)} CONVERT TO CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_unicode_ci"
                    )
            for table in ordered:
                counts[table.name] = _load(conn, backend, table, tables[table.name])
            for table in ordered:
                for index in sorted(table.indexes, key=lambda i: i.name or ""):
                    index.create(conn)  # create(), not CreateIndex: honours ddl_if
            if backend == "postgresql":
                for table in ordered:
                    conn.exec_driver_sql(f"ANALYZE {_quoted(conn, table)}")
            elif backend in MYSQL_DIALECTS:
                conn.exec_driver_sql(
                    "ANALYZE TABLE " + ", ".join(_quoted(conn, t) for t in ordered)
                ).fetchall()
                conn.exec_driver_sql("SET SESSION unique_checks = 1, foreign_key_checks = 1")
    finally:
        engine.dispose()
    return {name: counts[name] for name in names}


def ensure_database(url: str) -> None:
    """Create the database `url` names on its PostgreSQL or MariaDB server if it is missing
    (utf8mb4 on MariaDB); SQLite files are created on first use."""
    parsed = sa.make_url(url)
    backend, name = parsed.get_backend_name(), parsed.database
    if backend == "sqlite" or not name:
        return
    admin_db = "postgres" if backend == "postgresql" else None
    engine = sa.create_engine(
        ensure_utf8mb4(parsed._replace(database=admin_db).render_as_string(hide_password=False)),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    try:
        with engine.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(name)
            if backend == "postgresql":
                found = conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if found is None:
                    conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
            else:
                conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS {quoted} "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
    finally:
        engine.dispose()


def written_columns(table: sa.Table) -> list[str]:
    """The columns a writer supplies: all but the ones the database computes."""
    return [c.name for c in table.columns if c.computed is None]


def _quoted(conn: sa.Connection, table: sa.Table) -> str:
    return conn.dialect.identifier_preparer.format_table(table)


def _tuples(rows: Sequence[Row], columns: list[str]) -> Iterable[tuple[Any, ...]]:
    pick = operator.itemgetter(*columns)
    return map(pick, rows) if len(columns) > 1 else ((pick(r),) for r in rows)


def _load(conn: sa.Connection, backend: str, table: sa.Table, rows: Sequence[Row]) -> int:
    if not rows:
        return 0
    columns = written_columns(table)
    prep = conn.dialect.identifier_preparer
    target = f"{_quoted(conn, table)} ({', '.join(prep.quote(c) for c in columns)})"
    raw = conn.connection.driver_connection  # the DBAPI connection inside this transaction
    if backend == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in _tuples(rows, columns):
                copy.write_row(row)
        return len(rows)
    if backend in MYSQL_DIALECTS:
        try:
            return _load_data_local(raw, target, rows, columns)
        except raw.OperationalError as exc:
            if exc.args[0] not in LOCAL_INFILE_REFUSED:
                raise
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {target} VALUES ({marks})"
        with raw.cursor() as cursor:
            for start in range(0, len(rows), MYSQL_BATCH):
                cursor.executemany(sql, list(_tuples(rows[start : start + MYSQL_BATCH], columns)))
        return len(rows)
    marks = ", ".join(["?"] * len(columns))
    raw.executemany(f"INSERT INTO {target} VALUES ({marks})", _tuples(rows, columns))
    return len(rows)


def _tsv_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value.translate(_TSV_ESCAPES)
    return str(value)


def _load_data_local(raw: Any, target: str, rows: Sequence[Row], columns: list[str]) -> int:
    """MariaDB's fastest load: the rows as a tab-separated file the server reads in one go
    (several times quicker than INSERTs, which PyMySQL escapes value by value)."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv", newline="\n") as f:
        for row in _tuples(rows, columns):
            f.write("\t".join(map(_tsv_field, row)) + "\n")
        f.flush()
        table, _, column_list = target.partition(" ")
        with raw.cursor() as cursor:
            # The path is ours (tempfile's: no quote in it); LOAD DATA takes no parameter.
            cursor.execute(
                f"LOAD DATA LOCAL INFILE '{f.name}' INTO TABLE {table} CHARACTER SET utf8mb4 "
                f"{column_list}"
            )
            loaded = cursor.rowcount
    if loaded != len(rows):
        raise RuntimeError(f"{table}: LOAD DATA wrote {loaded} of {len(rows)} rows")
    return len(rows)
