"""Fresh, uniquely named PostgreSQL databases for a benchmark run, dropped afterwards.

Several runs (and test sessions) may share one server, so each run works in a database of
its own, `bo_bench_<random>`, and drops it even when the run fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


class ServerUnavailable(Exception):
    """The database server is not there: the benchmark is skipped, except under CI=true."""


def must_fail_when_skipped() -> bool:
    """Under CI=true every server must be up, as for the tests."""
    return os.environ.get("CI") == "true"


@contextmanager
def fresh_postgres(server_url: str = PG_SERVER) -> Iterator[str]:
    """A new empty database on `server_url`; yields its SQLAlchemy URL, drops it on exit."""
    admin = sa.create_engine(
        f"{server_url}/postgres",
        isolation_level="AUTOCOMMIT",  # CREATE/DROP DATABASE refuse to run in a transaction
        connect_args={"connect_timeout": 3},
    )
    name = f"bo_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        raise ServerUnavailable(
            f"PostgreSQL not reachable at {sa.make_url(server_url).host}; start it with: {PG_START}"
        ) from exc
    try:
        yield f"{server_url}/{name}"
    finally:
        with admin.connect() as conn:
            # FORCE: an engine or a DuckDB attachment may still hold a connection.
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
