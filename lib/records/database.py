"""SQLAlchemy engines for the databases the app writes to, set up the same way everywhere."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

SQLITE_BUSY_TIMEOUT_S = 30.0
# A write to a server that is gone fails after this long, instead of hanging the page.
CONNECT_TIMEOUT_S = 5
MYSQL_IO_TIMEOUT_S = 30  # PyMySQL read/write: a server that went silent mid-statement
READ_ONLY = "read_only"  # execution option: a SQLite read needs no write lock
MYSQL_DIALECTS = ("mysql", "mariadb")


def ensure_utf8mb4(sqlalchemy_url: str) -> str:
    """Add charset=utf8mb4 to a MySQL/MariaDB URL that names no charset; others unchanged.

    Without it, PyMySQL talks latin1 or 3-byte utf8 and Korean text or emoji break.
    """
    url = sa.make_url(sqlalchemy_url)
    if url.get_backend_name() not in MYSQL_DIALECTS or "charset" in url.query:
        return sqlalchemy_url
    return url.update_query_dict({"charset": "utf8mb4"}).render_as_string(hide_password=False)


def make_engine(url: str | sa.URL, *, wal: bool = False) -> sa.Engine:
    """An engine for SQLite, PostgreSQL or MySQL/MariaDB.

    SQLite: every write transaction starts with BEGIN IMMEDIATE (SQLAlchemy's documented
    pysqlite recipe), so a read-then-write inside it cannot interleave with another
    writer's. MySQL: utf8mb4 for Korean text.

    `wal` only for a SQLite file DuckDB never reads (the audit log): DuckDB's sqlite scanner
    in this same process links its own SQLite, whose POSIX locks cannot see ours; closing its
    last connection checkpoints and deletes the -wal file under our open connection, whose
    later commits then go to the unlinked file, unseen by every other reader.
    """
    url = sa.make_url(url)
    backend = url.get_backend_name()
    if backend == "mysql":
        return sa.create_engine(
            ensure_utf8mb4(url.render_as_string(False)),
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "read_timeout": MYSQL_IO_TIMEOUT_S,
                "write_timeout": MYSQL_IO_TIMEOUT_S,
            },
        )
    if backend == "postgresql":
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
        )
    if backend != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
    # hide_parameters: a driver error must never carry the bound values (personal data).
    # No pooled connections to a file DuckDB also reads: its SQLite's close() drops this
    # process's POSIX locks on the file, so ours should be open only while in use.
    pool = {} if wal else {"poolclass": sa.pool.NullPool}
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True, **pool
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute(f"PRAGMA journal_mode = {'WAL' if wal else 'DELETE'}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def create_tables(
    metadata: sa.MetaData, engine: sa.Engine, tables: list[sa.Table] | None = None
) -> None:
    """Create `tables` (default: all of `metadata`'s) where missing. Safe when another process
    creates them at the same moment: a CREATE that fails because the table appeared between
    the check and the CREATE is fine; any other failure (a table still missing) raises."""
    wanted = tables if tables is not None else list(metadata.sorted_tables)
    try:
        metadata.create_all(engine, tables=wanted, checkfirst=True)
    except sa.exc.DBAPIError:
        inspector = sa.inspect(engine)
        if not all(inspector.has_table(t.name) for t in wanted):
            raise
