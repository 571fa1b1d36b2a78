"""Shared fixtures: demo data, and fresh databases on the local PostgreSQL and MariaDB servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

from lib.demo.seed import seed

# --- demo data -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo files, seeded once per session. Shared: a test that writes should copy it."""
    path = tmp_path_factory.mktemp("demo")
    seed(path)
    return path


# --- database servers ------------------------------------------------------------------------
# Several test runs may share one server, so each run works in databases of its own
# (bo_test_<random>), dropped at the end of the session.

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
MYSQL_SERVER = "mysql+pymysql://root@127.0.0.1:3306"
MYSQL_START = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"


def server_unreachable(what: str, how_to_start: str) -> NoReturn:
    """Fail under CI=true, where every server must be up; elsewhere skip and say how to start it."""
    message = f"{what}; start it with: {how_to_start}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class Databases:
    """Creates uniquely named databases on one server and drops them all at the end."""

    def __init__(self, server_url: str, admin_db: str, create_sql: str, drop_sql: str) -> None:
        self.server_url = server_url
        self.create_sql, self.drop_sql = create_sql, drop_sql
        self.admin = sa.create_engine(
            f"{server_url}/{admin_db}",
            isolation_level="AUTOCOMMIT",  # CREATE/DROP DATABASE refuse to run in a transaction
            connect_args={"connect_timeout": 3},
        )
        self.names: list[str] = []

    def reachable(self) -> bool:
        try:
            with self.admin.connect():
                return True
        except sa.exc.OperationalError:
            return False

    def new(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"bo_test_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(self.create_sql.format(name=name)))
        self.names.append(name)
        return f"{self.server_url}/{name}"

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(sa.text(self.drop_sql.format(name=name)))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Databases]:
    """PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth); `.new()` makes a database."""
    server = Databases(
        PG_SERVER,
        "postgres",
        'CREATE DATABASE "{name}"',
        # FORCE: a test's engine may still hold a pooled connection.
        'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
    )
    if not server.reachable():
        server_unreachable("PostgreSQL not reachable at 127.0.0.1:5432", PG_START)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[Databases]:
    """MariaDB at 127.0.0.1:3306 (root, empty password); `.new()` makes a utf8mb4 database."""
    server = Databases(
        MYSQL_SERVER,
        "?charset=utf8mb4",  # no default database
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        "DROP DATABASE IF EXISTS `{name}`",
    )
    if not server.reachable():
        server_unreachable("MariaDB not reachable at 127.0.0.1:3306", MYSQL_START)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def pg_url(pg_server: Databases) -> str:
    """URL of a fresh PostgreSQL database shared by the session's tests."""
    return pg_server.new()


@pytest.fixture(scope="session")
def mysql_url(mysql_server: Databases) -> str:
    """URL of a fresh MariaDB database shared by the session's tests (client charset utf8mb4)."""
    return mysql_server.new() + "?charset=utf8mb4"


# --- demo back ends -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_services(demo_dir: Path) -> Iterator[dict[str, str]]:
    """The customer API, order API and gateway sandbox over the session's demo data,
    each on a free loopback port: name -> base URL."""
    from lib.demo.services.serve import DEFAULT_PORTS, ServiceThread, create_service

    threads = {
        name: ServiceThread(create_service(name, demo_dir)).start() for name in DEFAULT_PORTS
    }
    yield {name: t.url for name, t in threads.items()}
    for t in threads.values():
        t.stop()
