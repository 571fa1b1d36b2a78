"""Snapshots refreshed in the background by updated_at (lib.reading.snapshots), on SQLite and
on private PostgreSQL and MariaDB servers: what a refresh picks up, that a page's query never
waits for a copy, what it says while the first copy runs, that a failed refresh keeps the last
copy with its age, and that personal data is never copied."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.errors import SourceUnavailable
from lib.reading import snapshot_reads
from lib.reading.engine import Engine
from lib.reading.snapshots import SnapshotBuilding
from lib.reading.sources.base import SourceConfig
from lib.records.schema import KEYWORD, TIMESTAMP

pytestmark = pytest.mark.integration

meta = sa.MetaData()
orders = sa.Table(
    "orders",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer_email", sa.String(255), nullable=False),  # personal: never copied
    sa.Column("status", KEYWORD, nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)
payments = sa.Table(
    "payments",
    meta,
    sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("balance_amount", sa.Integer, nullable=False),
)
refunds = sa.Table(
    "refunds",
    meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.Integer, nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
)
T0 = datetime(2026, 11, 1, 9, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stamp(url: str, moment: datetime) -> object:
    """updated_at as the database stores it: text on SQLite, a timestamp elsewhere."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if url.startswith("sqlite") else moment


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def shop_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    elif request.param == "postgresql":
        url = request.getfixturevalue("private_postgres").new_database()
    else:
        url = request.getfixturevalue("private_mariadb").new_database()
    db = sa.create_engine(url)
    meta.create_all(db)
    with db.begin() as conn:
        conn.execute(orders.insert(), [
            {"id": i, "customer_email": f"buyer{i}@example.com", "status": "approved",
             "amount": 1000 * i, "updated_at": stamp(url, T0 + timedelta(minutes=10 * i))}
            for i in (1, 2, 3)
        ])  # fmt: skip
        conn.execute(
            payments.insert(), [{"order_id": i, "balance_amount": 1000 * i} for i in (1, 2, 3)]
        )
    db.dispose()
    yield url


def source(url: str, ttl: float = 30) -> SourceConfig:
    common = {"mode": "snapshot", "ttl": ttl}
    return SourceConfig(
        "shop",
        "sql",
        options={
            "url": url,
            "tables": {
                "orders": {"mode": "live"},
                "orders_snapshot": {
                    **common,
                    "table": "orders",
                    "key": "id",
                    "updated_at": "updated_at",
                    "columns": ["id", "status", "amount", "updated_at"],
                },
                "payments_snapshot": {
                    **common,
                    "table": "payments",
                    "follows": "orders_snapshot",
                    "parent_key": "order_id",
                },
                "refunds_snapshot": {
                    **common,
                    "table": "refunds",
                    "follows": "orders_snapshot",
                    "parent_key": "order_id",
                },
            },  # fmt: skip
        },
    )


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    qdir = tmp_path / "queries"
    qdir.mkdir()
    for name, sql in {
        "snap_orders": "-- sources: shop\n"
        "SELECT o.id, o.status, o.amount, p.balance_amount FROM shop.orders_snapshot AS o "
        "LEFT JOIN shop.payments_snapshot AS p ON p.order_id = o.id ORDER BY o.id",
        "snap_refunds": "-- sources: shop\n"
        "SELECT id, amount FROM shop.refunds_snapshot ORDER BY id",
        "live_count": "-- sources: shop\nSELECT count(*) AS n FROM shop.orders",
    }.items():
        (qdir / f"{name}.sql").write_text(sql, encoding="utf-8")
    return qdir


@pytest.fixture
def make_engine(queries: Path) -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(url: str, **kwargs: object) -> Engine:
        engine = Engine([source(url)], queries, loaders={}, **kwargs)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def test_one_refresh_picks_up_an_updated_order_a_new_order_and_a_refund(shop_url, make_engine):
    clock = Clock()
    engine = make_engine(shop_url, clock=clock)
    first = engine.query("snap_orders")
    assert list(first.id) == [1, 2, 3] and engine.query("snap_refunds").empty

    db = sa.create_engine(shop_url)
    later = T0 + timedelta(hours=1)
    with db.begin() as conn:
        conn.execute(
            orders.update()
            .where(orders.c.id == 2)
            .values(status="partially_refunded", updated_at=stamp(shop_url, later))
        )
        conn.execute(payments.update().where(payments.c.order_id == 2).values(balance_amount=500))
        conn.execute(refunds.insert().values(id=7, order_id=2, amount=1500))
        conn.execute(
            orders.insert().values(
                id=4,
                customer_email="new@example.com",
                status="pending",
                amount=4000,
                updated_at=stamp(shop_url, later),
            )
        )
        conn.execute(payments.insert().values(order_id=4, balance_amount=4000))
    db.dispose()  # fmt: skip

    assert engine.query("snap_orders").equals(first)  # not due yet: the copy as it was
    clock.now += 31
    engine.snapshots.refresh_due()  # the round the background thread runs when due
    got = engine.query("snap_orders").set_index("id")
    assert list(got.index) == [1, 2, 3, 4]
    assert (got.loc[2, "status"], got.loc[2, "balance_amount"]) == ("partially_refunded", 500)
    assert (got.loc[4, "status"], got.loc[4, "amount"]) == ("pending", 4000)
    assert engine.query("snap_refunds").to_dict("records") == [{"id": 7, "amount": 1500}]


def test_a_refresh_reads_only_the_rows_changed_since_the_last_one(shop_url, make_engine):
    engine = make_engine(shop_url)
    engine.query("snap_orders")
    reads: list[int] = []
    real = snapshot_reads.ChangeReader.rows_since

    def counted(self, spec, bound):  # type: ignore[no-untyped-def]
        rows = real(self, spec, bound)
        reads.append(rows.num_rows)
        return rows

    snapshot_reads.ChangeReader.rows_since = counted  # type: ignore[method-assign]
    try:
        version = engine.data_version(["shop"])
        engine.snapshots.refresh_due(force=True)
    finally:
        snapshot_reads.ChangeReader.rows_since = real  # type: ignore[method-assign]
    # The newest order minus the 60 s overlap: only order 3 (updated 10 min after order 2).
    assert reads == [1]
    assert engine.data_version(["shop"]) == version  # nothing differed: nothing rewritten


def test_no_personal_data_column_is_copied(shop_url, make_engine):
    engine = make_engine(shop_url)
    engine.query("snap_orders")
    cols = engine.cursor().execute("DESCRIBE shop.orders_snapshot").df()["column_name"]
    assert list(cols) == ["id", "status", "amount", "updated_at"]
    cells = engine.cursor().execute("SELECT * FROM shop.orders_snapshot").df().astype(str)
    assert not cells.apply(lambda c: c.str.contains("@")).to_numpy().any()


def test_a_query_never_waits_for_a_copy_and_says_one_is_being_prepared(
    tmp_path, queries, monkeypatch
):
    url = f"sqlite:///{tmp_path / 'slow.sqlite'}"
    db = sa.create_engine(url)
    meta.create_all(db)
    with db.begin() as conn:
        conn.execute(
            orders.insert().values(
                id=1, customer_email="a@example.com", status="pending", amount=10,
                updated_at="2026-11-01 09:00:00",
            )
        )  # fmt: skip
    db.dispose()
    release = threading.Event()
    real = snapshot_reads.full_copy_sql

    def slow(*args):  # type: ignore[no-untyped-def]
        release.wait(30)  # the first copy takes as long as the test says
        return real(*args)

    monkeypatch.setattr("lib.reading.snapshots.full_copy_sql", slow)
    engine = Engine([source(url)], queries, loaders={})
    try:
        started = time.monotonic()
        with pytest.raises(SnapshotBuilding) as err:
            engine.query(
                "snap_orders",
            )
        waited = time.monotonic() - started
        assert waited < 10  # a bounded wait for a first copy, never the copy itself
        assert str(err.value).startswith(
            "The data is being prepared (snapshot of shop.orders, started "
        )
        assert engine.query("live_count").n[0] == 1  # the live tables are not held up
        release.set()
        assert engine.snapshots.wait_built(30)
        assert list(engine.query("snap_orders").id) == [1]
    finally:
        release.set()
        engine.close()


def test_a_failed_refresh_keeps_serving_the_last_copy_with_its_age(
    shop_url, make_engine, monkeypatch
):
    clock = Clock()
    engine = make_engine(shop_url, clock=clock)
    first = engine.query("snap_orders")
    copied_at = engine.refreshed_at(["shop"])

    def down(self, spec, bound):  # type: ignore[no-untyped-def]
        raise ConnectionError("connection refused")

    monkeypatch.setattr(snapshot_reads.ChangeReader, "count_since", down)
    clock.now += 31
    engine.snapshots.refresh_due()
    assert engine.query("snap_orders").equals(first)
    assert engine.refreshed_at(["shop"]) == copied_at
    assert isinstance(engine.snapshots._sources["shop"].error, SourceUnavailable)

    monkeypatch.undo()
    clock.now += 31
    engine.snapshots.refresh_due()
    assert engine.refreshed_at(["shop"]) > copied_at
