"""`python -m lib.demo.seed --servers` at a small size: customers in PostgreSQL, the shop in
MariaDB (this session's private servers), real types, the declared indexes, and a config the
app's reading layer runs on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.config.settings import load_settings
from lib.demo import scale_servers, seed
from lib.reading.engine import Engine
from lib.records import schema

pytestmark = pytest.mark.integration

ORDERS, CUSTOMERS = 5000, 800
SHOP = ("sellers", "products", "orders", "payments", "refunds")


@pytest.fixture(scope="module")
def seeded(
    _private_postgres, _private_mariadb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The CLI run once into a temp directory and one new database on each private server."""
    for server in (_private_postgres, _private_mariadb):
        if not server.running:
            server.start()
    # Databases the seeder must create itself (named, not made by the servers' helper).
    urls = {
        "crm": f"{_private_postgres.backend_url}/seed_scale_crm",
        "shop": f"{_private_mariadb.backend_url}/seed_scale_shop",
    }
    demo_dir = tmp_path_factory.mktemp("seed-scale")
    argv = ["--dir", str(demo_dir), "--orders", str(ORDERS), "--customers", str(CUSTOMERS)]
    argv += ["--servers", "--pg-url", urls["crm"], "--mariadb-url", urls["shop"]]
    assert seed.main(argv) == 0
    yield demo_dir, urls


def inspect(url: str, fn):  # noqa: ANN001, ANN201 - a small helper for the checks below
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def test_the_servers_hold_the_asked_rows(seeded):
    _, urls = seeded

    def counts(conn: sa.Connection, names: tuple[str, ...]) -> dict[str, int]:
        return {n: conn.execute(sa.text(f"SELECT COUNT(*) FROM {n}")).scalar_one() for n in names}

    assert inspect(urls["crm"], lambda c: counts(c, ("customers",))) == {"customers": CUSTOMERS}
    shop = inspect(urls["shop"], lambda c: counts(c, SHOP))
    assert (shop["orders"], shop["payments"], shop["sellers"]) == (ORDERS, ORDERS, 3)
    assert shop["refunds"] > 0


def test_timestamps_are_timestamps_and_amounts_integers(seeded):
    _, urls = seeded
    customer = inspect(
        urls["crm"],
        lambda c: c.execute(
            sa.text("SELECT signup_date, updated_at, name_key, phone_key FROM customers LIMIT 1")
        ).one(),
    )
    assert isinstance(customer.signup_date, date) and isinstance(customer.updated_at, datetime)
    assert customer.name_key == customer.name_key.lower() and "-" not in customer.phone_key
    order = inspect(
        urls["shop"],
        lambda c: c.execute(
            sa.text("SELECT ordered_at, updated_at, amount FROM orders LIMIT 1")
        ).one(),
    )
    assert isinstance(order.ordered_at, datetime) and isinstance(order.updated_at, datetime)
    assert isinstance(order.amount, int)
    columns = inspect(urls["shop"], lambda c: sa.inspect(c).get_columns("orders"))
    kinds = {col["name"]: type(col["type"]) for col in columns}
    assert issubclass(kinds["amount"], sa.Integer) and issubclass(kinds["ordered_at"], sa.DateTime)
    columns = inspect(urls["crm"], lambda c: sa.inspect(c).get_columns("customers"))
    kinds = {col["name"]: type(col["type"]) for col in columns}
    assert issubclass(kinds["signup_date"], sa.Date)
    assert issubclass(kinds["updated_at"], sa.DateTime)


@pytest.mark.parametrize(
    ("db", "table"), [("crm", "customers"), ("shop", "orders"), ("shop", "payments")]
)
def test_the_declared_indexes_are_there(seeded, db, table):
    _, urls = seeded
    declared = schema.crm if db == "crm" else schema.shop
    # The PostgreSQL-only prefix index on payment keys is not built in MariaDB.
    wanted = {i.name for i in declared.tables[table].indexes} - {"idx_payments_key_prefix"}
    found = inspect(urls[db], lambda c: {i["name"] for i in sa.inspect(c).get_indexes(table)})
    assert wanted <= found


def test_the_written_config_runs_the_reading_layer_on_the_servers(seeded):
    demo_dir, urls = seeded
    config = demo_dir / scale_servers.CONFIG_NAME
    settings = load_settings(config)
    sources = {s.name: s for s in settings.sources}
    assert sources["crm"].options["url"] == urls["crm"]
    assert sources["shop"].options["url"] == urls["shop"]
    assert settings.demo_dir == demo_dir
    assert scale_servers.configured_sizes(settings.app) == {
        "orders": ORDERS,
        "customers": CUSTOMERS,
    }
    engine = Engine(settings.sources, settings.queries_dir)
    try:
        for source, table, rows in (("crm", "customers", CUSTOMERS), ("shop", "orders", ORDERS)):
            engine.ensure(source)
            sql = f"SELECT COUNT(*) FROM {engine.alias(source)}.{table}"
            assert engine.cursor().execute(sql).fetchone() == (rows,)
    finally:
        engine.close()


def test_the_files_beside_them_hold_the_same_sizes(seeded):
    demo_dir, _ = seeded
    assert seed.is_current(demo_dir, orders=ORDERS, customers=CUSTOMERS)
    counts = seed.row_counts(demo_dir)
    assert (counts["orders"], counts["customers"]) == (ORDERS, CUSTOMERS)
