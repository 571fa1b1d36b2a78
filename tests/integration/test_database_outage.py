"""PostgreSQL or MariaDB stopped while the app runs, with real servers of the test's own.

The demo's crm lives in a private PostgreSQL and its shop in a private MariaDB (the shared
servers are never stopped). While one is down, what needs it says which source is down in
one line (no host, user, database, password or path), the rest keeps working, and once it
is back the same engine - the same app process - answers again without a restart.

Snapshots: a snapshot whose refresh fails is served from its last good copy, its age shown
by `refreshed_at`; only a snapshot never copied fails (see lib/reading/snapshots.py). The
engine's background thread refreshes them, so the test waits for it (`eventually`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib import actions
from lib.access.principal import Principal
from lib.demo.load_sql import copy_tables
from lib.errors import SourceUnavailable
from lib.reading.engine import RETRY_AFTER_S, Engine
from lib.reading.sources.base import SourceConfig
from tests.integration.servers import PrivateMariaDB, PrivatePostgres
from tests.pages.helpers import apps_for, open_page
from tests.stack import shop, write_config

pytestmark = pytest.mark.integration

PASSWORD = "Outage-pw-7731"  # in both URLs: no message may show it
SHOP_TABLES = ["sellers", "products", "orders", "payments", "refunds"]


@dataclass
class Databases:
    crm_url: str  # the private PostgreSQL
    shop_url: str  # the private MariaDB
    words_to_hide: tuple[str, ...]  # host, port, user, database names, password


@pytest.fixture(scope="module")
def databases(
    _private_postgres: PrivatePostgres,
    _private_mariadb: PrivateMariaDB,
    mariadb_database: Callable[[str, str], str],
    demo_dir: Path,
) -> Databases:
    """The demo's customers in the private PostgreSQL, its shop in the private MariaDB,
    each reached with a password."""
    pg, my = _private_postgres, _private_mariadb
    if not pg.running:
        pg.start()
    crm_url = pg.new_database().replace("postgres@", f"postgres:{PASSWORD}@")  # trust auth
    copy_tables(demo_dir / "crm.sqlite", crm_url, ["customers"])
    shop_url = mariadb_database("shop_app", PASSWORD)  # starts the MariaDB if stopped
    shop_db = shop_url.rsplit("/", 1)[1]
    copy_tables(demo_dir / "shop.sqlite", shop_url, SHOP_TABLES)
    crm_db = crm_url.rsplit("/", 1)[1]
    hide = (PASSWORD, "127.0.0.1", str(pg.port), str(my.port), crm_db, shop_db, "shop_app",
            "host=", "user=", str(pg.root), str(my.root))  # fmt: skip
    return Databases(crm_url, shop_url, hide)


def assert_one_line_naming(exc: SourceUnavailable, source: str, db: Databases) -> None:
    text = str(exc)
    assert exc.source == source
    assert text.startswith(f"Source '{source}' is unavailable")
    assert "\n" not in text and "Stack Trace" not in text and "Traceback" not in text
    shown = [word for word in db.words_to_hide if word in text]
    assert not shown, f"{text!r} shows {shown}"


# --- the engine ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sources(db: Databases, **options: object) -> list[SourceConfig]:
    return [
        SourceConfig(
            "crm", "sql", options={"url": db.crm_url, "tables": {"customers": {}}, **options}
        ),
        SourceConfig(
            "shop",
            "sql",
            options={
                "url": db.shop_url,
                "tables": {"orders": {}, "sellers": {"mode": "snapshot", "ttl": 60}},
                **options,
            },
        ),
    ]


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    qdir = tmp_path / "queries"
    qdir.mkdir()
    for name, sql in {
        "crm_customers": "-- sources: crm\nSELECT count(*) AS n FROM crm.customers",
        "shop_orders": "-- sources: shop\nSELECT id FROM shop.orders WHERE id <= 3 ORDER BY id",
        "shop_sellers": "-- sources: shop\nSELECT id, name FROM shop.sellers ORDER BY id",
        "shop_count": "-- sources: shop\nSELECT count(*) AS n FROM shop.orders",
    }.items():
        (qdir / f"{name}.sql").write_text(sql, encoding="utf-8")
    return qdir


@pytest.fixture
def make_engine(databases: Databases, queries: Path) -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(clock: Callable[[], float] | None = None, **options: object) -> Engine:
        extra = {"clock": clock} if clock else {}
        engine = Engine(sources(databases, **options), queries, loaders={}, **extra)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def test_postgres_stopped_names_crm_in_one_line_and_the_same_engine_recovers(
    private_postgres, databases, make_engine
):
    engine = make_engine()
    customers = int(engine.query("crm_customers").n[0])
    assert customers > 0

    private_postgres.stop()
    for _ in range(2):  # the first failure, and the next query while it is still down
        with pytest.raises(SourceUnavailable) as err:
            engine.query("crm_customers")
        assert_one_line_naming(err.value, "crm", databases)
        assert "PostgreSQL" in str(err.value)
    assert list(engine.query("shop_orders").id) == [1, 2, 3]  # MariaDB is not held up

    private_postgres.start()
    assert int(engine.query("crm_customers").n[0]) == customers


def test_a_count_over_a_mariadb_table_answers(databases, make_engine, demo_dir):
    # The Seller page counts products this way; DuckDB's mysql scanner used to fail it.
    expected = shop(demo_dir, "SELECT count(*) FROM orders")[0][0]
    assert int(make_engine().query("shop_count").n[0]) == expected


def test_mariadb_stopped_names_shop_in_one_line_and_the_same_engine_recovers(
    private_mariadb, databases, make_engine
):
    engine = make_engine()
    assert list(engine.query("shop_orders").id) == [1, 2, 3]

    private_mariadb.stop()
    for _ in range(2):
        with pytest.raises(SourceUnavailable) as err:
            engine.query("shop_orders")
        assert_one_line_naming(err.value, "shop", databases)
        assert "MySQL/MariaDB" in str(err.value)
    assert int(engine.query("crm_customers").n[0]) > 0

    private_mariadb.start()
    assert list(engine.query("shop_orders").id) == [1, 2, 3]


def test_a_source_first_reached_while_its_server_is_down_attaches_once_it_is_back(
    private_postgres, databases, make_engine
):
    engine = make_engine()
    private_postgres.stop()
    with pytest.raises(SourceUnavailable) as err:
        engine.query("crm_customers")
    assert_one_line_naming(err.value, "crm", databases)
    private_postgres.start()
    assert int(engine.query("crm_customers").n[0]) > 0


def test_a_snapshot_is_served_with_its_age_while_its_database_is_down(
    private_mariadb, databases, make_engine
):
    clock = Clock()
    engine = make_engine(clock=clock)
    sellers = engine.query("shop_sellers")
    copied_at = engine.refreshed_at(["shop"])

    private_mariadb.stop()
    clock.now += 61  # past the snapshot's ttl: the background refresh is due and fails
    engine.snapshots.request("shop", wait_s=30)  # the attempt, while the server is down
    assert engine.query("shop_sellers").equals(sellers)  # the last good copy
    assert engine.refreshed_at(["shop"]) == copied_at  # ...with its age
    with pytest.raises(SourceUnavailable) as err:  # live tables have no copy to serve
        engine.query("shop_orders")
    assert_one_line_naming(err.value, "shop", databases)

    private_mariadb.start()
    with sa.create_engine(databases.shop_url).begin() as conn:
        conn.execute(sa.text("INSERT INTO sellers VALUES (999, 'Back Again', 'b@example.net')"))
    try:
        clock.now += RETRY_AFTER_S
        deadline = time.monotonic() + 30  # the thread looks every second
        while 999 not in set(engine.query("shop_sellers").id) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert 999 in set(engine.query("shop_sellers").id)  # refreshed once it is back
        assert engine.refreshed_at(["shop"]) > copied_at
    finally:
        with sa.create_engine(databases.shop_url).begin() as conn:
            conn.execute(sa.text("DELETE FROM sellers WHERE id = 999"))


def test_a_missing_sqlite_file_is_named_without_its_folder(tmp_path, queries):
    missing = tmp_path / "private" / "folder" / "crm.sqlite"
    crm = SourceConfig(
        "crm", "sql", options={"url": f"sqlite:///{missing}", "tables": {"customers": {}}}
    )
    engine = Engine([crm], queries, loaders={})
    try:
        with pytest.raises(SourceUnavailable) as err:
            engine.query("crm_customers")
    finally:
        engine.close()
    assert str(err.value).startswith("Source 'crm' is unavailable")
    assert "crm.sqlite" in str(err.value) and str(missing.parent) not in str(err.value)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word, as a hung server does."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("source", ["crm", "shop"])
def test_a_server_that_never_answers_fails_after_the_connect_timeout(
    source, databases, make_engine, silent_server
):
    url = sa.make_url({"crm": databases.crm_url, "shop": databases.shop_url}[source])
    engine = make_engine(connect_timeout=1)
    engine.sources[source].options["url"] = url.set(port=silent_server).render_as_string(False)
    query = {"crm": "crm_customers", "shop": "shop_orders"}[source]
    outcome: list[BaseException | object] = []
    worker = threading.Thread(target=lambda: outcome.append(_try(engine.query, query)))
    worker.daemon = True  # if it hangs, it must not keep the test run alive
    worker.start()
    worker.join(timeout=60)  # far above the 1 s connect_timeout: "not hanging", not a speed
    assert outcome, f"a query over {source} still waits for a server that never answers"
    assert isinstance(outcome[0], SourceUnavailable), outcome[0]
    assert_one_line_naming(outcome[0], source, databases)
    assert "no answer in time" in str(outcome[0])


@pytest.mark.parametrize("source", ["crm", "shop"])
def test_a_write_to_a_server_that_never_answers_fails_instead_of_hanging(
    source, databases, silent_server
):
    from lib.records.database import make_engine as make_write_engine

    url = sa.make_url({"crm": databases.crm_url, "shop": databases.shop_url}[source])
    engine = make_write_engine(url.set(port=silent_server))
    outcome: list[BaseException | object] = []
    worker = threading.Thread(target=lambda: outcome.append(_try(engine.connect)))
    worker.daemon = True
    worker.start()
    worker.join(timeout=60)  # far above the 5 s connect timeout: "not hanging", not a speed
    assert outcome, f"a write to {source} still waits for a server that never answers"
    assert isinstance(outcome[0], sa.exc.OperationalError), outcome[0]
    engine.dispose()


def _try(fn: Callable[..., object], *args: object) -> BaseException | object:
    try:
        return fn(*args)
    except BaseException as exc:  # handed to the test's thread to assert on
        return exc


# --- the pages -------------------------------------------------------------------------------


@pytest.fixture
def app(
    tmp_path: Path, demo_dir: Path, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], AppTest]]:
    """Fresh AppTests of Home.py whose crm is the private PostgreSQL and shop the private
    MariaDB; they share one engine, as the sessions of one app process do."""
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8")
    for name, url in (("crm", databases.crm_url), ("shop", databases.shop_url)):
        sqlite_url = f'"sqlite:///{demo_dir}/{name}.sqlite"'
        assert sqlite_url in text
        text = text.replace(sqlite_url, f'"{url}"')
    config.write_text(text, encoding="utf-8")
    with apps_for(config, monkeypatch) as make:
        yield make


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def assert_shows_table(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not errors(at), errors(at)
    assert at.dataframe and len(at.dataframe[0].value) > 0


def assert_one_error_naming(at: AppTest, source: str, db: Databases) -> None:
    assert not at.exception, at.exception
    shown = errors(at)
    assert len(shown) == 1, shown
    assert shown[0].startswith(f"Source '{source}' is unavailable"), shown
    assert "\n" not in shown[0]
    leaked = [word for word in db.words_to_hide if word in shown[0]]
    assert not leaked, f"{shown[0]!r} shows {leaked}"


def test_pages_while_postgres_is_down_and_after_it_is_back(app, private_postgres, databases):
    customers = open_page(app, "app_pages/customers.py", "support")
    assert_shows_table(customers)

    private_postgres.stop()
    customers.run()
    assert_one_error_naming(customers, "crm", databases)
    assert not customers.dataframe
    seller = open_page(app, "app_pages/seller.py", "seller1")  # reads the shop only
    assert_shows_table(seller)
    # A write to the stopped database is refused plainly: `failed`, nothing leaked.
    result = actions.run(
        "customer.update_contact",
        Principal("support", "Support", ("support",)),
        customer_id=1,
        address="서울특별시 중구 세종대로 110",
    )
    assert result.outcome == "failed"
    assert PASSWORD not in result.message

    private_postgres.start()
    customers.run()  # the same app process: no restart
    assert_shows_table(customers)


def test_pages_while_mariadb_is_down_and_after_it_is_back(app, private_mariadb, databases):
    orders = open_page(app, "app_pages/orders.py", "operator")
    assert_shows_table(orders)

    private_mariadb.stop()
    orders.run()
    assert_one_error_naming(orders, "shop", databases)
    customers = open_page(app, "app_pages/customers.py", "support")  # reads the crm only
    assert_shows_table(customers)
    result = actions.run(
        "order.approve", Principal("operator", "Operator", ("operator",)), order_id=1
    )
    assert result.outcome == "failed"
    assert PASSWORD not in result.message

    private_mariadb.start()
    orders.run()
    assert_shows_table(orders)
