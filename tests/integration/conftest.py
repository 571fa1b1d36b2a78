"""Integration fixtures: a tiny demo data set built here, demo services on free ports, and
private database servers a test may stop and start (tests/integration/servers.py)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from lib.audit import AuditStore
from lib.demo.services.serve import ServiceThread, create_service
from lib.records import schema
from tests.integration.servers import PrivateMariaDB, PrivatePostgres, ServerMissing

CUSTOMER_COUNT = 7
ORDER_COUNT = 23
PRICE = 10_000
# order status -> (payment status, balance as a share of the amount)
PAYMENT_FOR = {
    "approved": ("DONE", 1.0),
    "pending": ("DONE", 1.0),
    "rejected": ("ABORTED", 0.0),
    "refunded": ("CANCELED", 0.0),
    "partially_refunded": ("PARTIAL_CANCELED", 0.5),
}
STATUS_CYCLE = ("approved", "approved", "pending", "rejected", "refunded", "partially_refunded")


@dataclass
class TinyDemo:
    """What the tiny data set holds, so tests can state expectations without re-reading it."""

    dir: Path
    customer_ids: list[int]
    orders: dict[int, dict] = field(default_factory=dict)  # id -> order row
    payments: dict[str, dict] = field(default_factory=dict)  # payment_key -> payment row

    def payment_key(self, status: str, amount: int | None = None) -> str:
        """The key of a payment in `status` (and of `amount`, if given)."""
        for key, p in self.payments.items():
            if p["status"] == status and (amount is None or p["amount"] == amount):
                return key
        raise LookupError(f"no {status} payment of {amount}")

    def set_order_status(self, order_id: int, status: str) -> None:
        """Change an order in shop.sqlite the way the app's actions would."""
        with closing(sqlite3.connect(self.dir / "shop.sqlite")) as con, con:
            con.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order_id))


def create_demo_tables(path: Path, metadata: sa.MetaData, names: tuple[str, ...]) -> None:
    """The declared tables (lib.records.schema, as the seeder makes them) in a SQLite file."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    try:
        metadata.create_all(engine, tables=[metadata.tables[name] for name in names])
    finally:
        engine.dispose()


def build_tiny_demo(demo_dir: Path) -> TinyDemo:
    """crm.sqlite with 7 customers and shop.sqlite with 23 orders, each with its payment."""
    demo_dir.mkdir(parents=True, exist_ok=True)
    create_demo_tables(demo_dir / "crm.sqlite", schema.crm, ("customers",))
    create_demo_tables(
        demo_dir / "shop.sqlite", schema.shop, ("sellers", "products", "orders", "payments")
    )
    demo = TinyDemo(dir=demo_dir, customer_ids=list(range(1, CUSTOMER_COUNT + 1)))
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as con, con:
        names = ["김민수", "Emily Clark", "이서연", "박지훈", "Daniel Park", "최유진", "정하늘"]
        con.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (i, names[i - 1], f"user{i}@example.com", f"010-1234-{i:04d}",
                 "서울특별시 강남구 테헤란로 123", "regular", "active",
                 f"2024-0{i}-15", "2026-01-01 00:00:00")
                for i in demo.customer_ids
            ],
        )  # fmt: skip
    with closing(sqlite3.connect(demo_dir / "shop.sqlite")) as con, con:
        con.execute("INSERT INTO sellers VALUES (1, 'Seller One', 'one@example.net')")
        con.execute(
            "INSERT INTO products VALUES (1, 1, 'Mug', 'home', ?, 10, 1,"
            " '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            (PRICE,),
        )
        for oid in range(1, ORDER_COUNT + 1):
            status = STATUS_CYCLE[oid % len(STATUS_CYCLE)]
            quantity = oid % 5 + 1
            order = {
                "id": oid,
                "customer_id": oid % CUSTOMER_COUNT + 1,
                "status": status,
                "amount": PRICE * quantity,
                "ordered_at": f"2026-03-{oid:02d} 10:00:00",
            }
            con.execute(
                "INSERT INTO orders VALUES (?, ?, 1, 1, ?, ?, ?, ?, ?)",
                (oid, order["customer_id"], quantity, order["amount"], status,
                 order["ordered_at"], order["ordered_at"]),
            )  # fmt: skip
            pay_status, share = PAYMENT_FOR[status]
            payment = {
                "payment_key": f"tpk_test_{oid:04d}",
                "order_id": oid,
                "amount": order["amount"],
                "balance_amount": int(order["amount"] * share),
                "method": "card",
                "status": pay_status,
                "approved_at": f"2026-03-{oid:02d} 10:01:00",
            }
            con.execute(
                "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?)", tuple(payment.values())
            )
            demo.orders[oid] = order
            demo.payments[payment["payment_key"]] = payment
    return demo


@pytest.fixture(scope="session")
def demo_dir(shared_demo_dir: Path) -> Path:
    """The full demo data, read only here (tests that write use `tiny_demo`): the session's
    shared copy, the one `demo_services` serves, so module-scoped fixtures may use it too."""
    return shared_demo_dir


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty place for an audit_log: a SQLite file, or a fresh schema in the session's
    PostgreSQL database (the server is asked for only by the PostgreSQL case)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite'}"
    pg_url: str = request.getfixturevalue("pg_url")
    schema = f"audit_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    return f"{pg_url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def store(audit_url: str) -> Iterator[AuditStore]:
    """An empty audit store at `audit_url` (so on SQLite and on PostgreSQL)."""
    store = AuditStore(audit_url)
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture
def tiny_demo(tmp_path: Path) -> TinyDemo:
    """A fresh tiny demo data set per test (the gateway writes its ledger beside it)."""
    return build_tiny_demo(tmp_path / "demo")


@pytest.fixture
def tiny_demo_dir(tiny_demo: TinyDemo) -> Path:
    return tiny_demo.dir


@pytest.fixture
def start_service() -> Iterator[Callable[..., str]]:
    """`start_service("gateway", demo_dir)` or `start_service(app)`: serve it on a free port
    for this test and return its base URL. Services get the default demo token and secret."""
    running: list[ServiceThread] = []

    def start(app: FastAPI | str, demo_dir: Path | None = None) -> str:
        if isinstance(app, str):
            if demo_dir is None:
                raise TypeError("start_service(name, demo_dir): demo_dir is required")
            app = create_service(app, demo_dir, env={})  # {}: ignore the developer's env
        service = ServiceThread(app).start()
        running.append(service)
        return service.url

    yield start
    for service in running:
        service.stop()


# --- private database servers ------------------------------------------------------------
# For tests that stop a database while the app runs; the shared :5432 / :3306 servers are
# never stopped. One of each per session, removed at its end.


def _private(make: Callable[[], PrivatePostgres | PrivateMariaDB]) -> Iterator:
    try:
        server = make()
    except ServerMissing as exc:
        if os.environ.get("CI") == "true":  # CI must run these tests, not skip them
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def _private_postgres() -> Iterator[PrivatePostgres]:
    yield from _private(PrivatePostgres.create)


@pytest.fixture(scope="session")
def _private_mariadb() -> Iterator[PrivateMariaDB]:
    yield from _private(PrivateMariaDB.create)


@pytest.fixture
def private_postgres(_private_postgres: PrivatePostgres) -> PrivatePostgres:
    """A PostgreSQL server of this session's own (trust auth), running when the test starts;
    `.stop()` / `.start()` it freely."""
    if not _private_postgres.running:  # an earlier test failed while it was stopped
        _private_postgres.start()
    return _private_postgres


@pytest.fixture
def private_mariadb(_private_mariadb: PrivateMariaDB) -> PrivateMariaDB:
    """A MariaDB server of this session's own (root, no password), running when the test
    starts; `.stop()` / `.start()` it freely."""
    if not _private_mariadb.running:
        _private_mariadb.start()
    return _private_mariadb


@pytest.fixture(scope="session")
def mariadb_database(_private_mariadb: PrivateMariaDB) -> Callable[[str, str], str]:
    """`mariadb_database(user, password)`: a new empty database in the session's private
    MariaDB (started if a test left it stopped), reached as `user` with `password` (a user the
    app would connect as, not root): its SQLAlchemy URL."""

    def make(user: str, password: str) -> str:
        if not _private_mariadb.running:
            _private_mariadb.start()
        root_url = _private_mariadb.new_database()
        db = root_url.rsplit("/", 1)[1]
        admin = sa.create_engine(root_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                # DDL takes no bound parameters; user and password are the test's own literals.
                conn.execute(
                    sa.text(f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'")
                )
                conn.execute(sa.text(f"GRANT ALL ON `{db}`.* TO '{user}'@'%'"))
        finally:
            admin.dispose()
        return f"mysql+pymysql://{user}:{password}@127.0.0.1:{_private_mariadb.port}/{db}"

    return make
