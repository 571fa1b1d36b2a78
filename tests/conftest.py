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
# Seeded once per session (seconds); each test gets a copy (milliseconds). tests/integration
# reads one shared copy instead (its writers use a tiny data set of their own), and
# tests/e2e one copy per module (its app server serves a module's tests).

DEMO_COPY = "demo-data"  # the copy's directory under the test's tmp_path


@pytest.fixture(scope="session")
def seeded_demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo files as seeded, once per session. Never written: tests get copies of it."""
    path = tmp_path_factory.mktemp("demo-seeded")
    seed(path)
    return path


@pytest.fixture
def demo_dir(seeded_demo_dir: Path, tmp_path: Path) -> Path:
    """This test's own copy of the seeded demo files: what it changes, no other test sees."""
    from tests.stack import copy_demo  # imports the demo services: only when asked for

    return copy_demo(seeded_demo_dir, tmp_path / DEMO_COPY)


@pytest.fixture(scope="session")
def shared_demo_dir(seeded_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for the whole session, for session-scoped servers and read-only tests: a test
    that writes to it changes what later tests see."""
    from tests.stack import copy_demo

    return copy_demo(seeded_demo_dir, tmp_path_factory.mktemp("demo-shared") / "demo")


@pytest.fixture(autouse=True)
def _fresh_upload_reads() -> None:
    """Each test parses its uploads itself: a read cached by another test (or its timeout on a
    slow box) must not decide this one."""
    from lib.reading.sources import sheet_upload

    sheet_upload._reads.clear()


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
def demo_services(shared_demo_dir: Path) -> Iterator[dict[str, str]]:
    """The customer API, order API and gateway sandbox over the session's shared demo data,
    each on a free loopback port: name -> base URL. tests/pages and tests/e2e override it
    with services over their own copy."""
    from tests.stack import demo_services_over

    with demo_services_over(shared_demo_dir) as urls:
        yield urls
