"""The engine over a real SQLite file and stand-in loaders: modes, TTLs, failures."""

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from lib.errors import SourceUnavailable
from lib.reading.engine import Engine
from lib.reading.sources.base import SourceConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, amount INTEGER)")
        con.executemany(
            "INSERT INTO orders VALUES (?, ?, ?)",
            [(1, "pending", 1000), (2, "approved", 2500), (3, "pending", 700)],
        )
    return path


def write_queries(tmp_path: Path, **queries: str) -> Path:
    qdir = tmp_path / "queries"
    qdir.mkdir(exist_ok=True)
    for name, sql in queries.items():
        (qdir / f"{name}.sql").write_text(sql, encoding="utf-8")
    return qdir


def sql_source(db: Path, ttl: float = 60) -> SourceConfig:
    return SourceConfig(
        "shop",
        "sql",
        ttl=ttl,
        options={
            "url": f"sqlite:///{db}",
            "tables": {
                "orders": {"mode": "live"},
                "orders_snap": {"table": "orders", "mode": "snapshot", "ttl": ttl},
            },
        },
    )


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Snapshots are refreshed by the engine's background thread (it looks every second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def set_status(db: Path, order_id: int, status: str) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order_id))


def test_live_table_sees_a_change_at_once_and_a_snapshot_after_its_ttl(tmp_path, db):
    clock = Clock()
    qdir = write_queries(
        tmp_path,
        live_pending="-- sources: shop\nSELECT count(*) AS n FROM shop.orders WHERE status = $s",
        snap_pending="-- sources: shop\n"
        "SELECT count(*) AS n FROM shop.orders_snap WHERE status = $s",
    )
    engine = Engine([sql_source(db, ttl=60)], qdir, loaders={}, clock=clock)
    assert engine.query("live_pending", s="pending").n[0] == 2
    assert engine.query("snap_pending", s="pending").n[0] == 2

    set_status(db, 1, "approved")
    assert engine.query("live_pending", s="pending").n[0] == 1
    assert engine.query("snap_pending", s="pending").n[0] == 2  # still within its TTL

    clock.now += 61  # due: the background thread copies it; the query reads what is there
    assert eventually(lambda: engine.query("snap_pending", s="pending").n[0] == 1)


def test_refresh_reloads_a_snapshot_before_its_ttl(tmp_path, db):
    qdir = write_queries(
        tmp_path,
        snap="-- sources: shop\n"
        "SELECT count(*) AS n FROM shop.orders_snap WHERE status = 'pending'",
    )
    engine = Engine([sql_source(db, ttl=3600)], qdir, loaders={}, clock=Clock())
    assert engine.query("snap").n[0] == 2
    set_status(db, 3, "rejected")
    engine.refresh("shop")
    assert engine.query("snap").n[0] == 1


def test_parameters_are_bound_never_spliced(tmp_path, db):
    qdir = write_queries(
        tmp_path,
        by_status="-- sources: shop\nSELECT id FROM shop.orders WHERE status = $s ORDER BY id",
    )
    engine = Engine([sql_source(db)], qdir, loaders={})
    assert engine.query("by_status", s="pending' OR '1'='1").empty
    assert list(engine.query("by_status", s="pending").id) == [1, 3]
    with pytest.raises(TypeError, match="needs parameters: s"):
        engine.query("by_status")


def test_non_sql_source_is_cached_for_its_ttl(tmp_path):
    calls = []

    def loader(cfg: SourceConfig):
        calls.append(cfg.name)
        return {"t": pa.table({"x": [len(calls)]})}

    clock = Clock()
    qdir = write_queries(tmp_path, x="-- sources: api\nSELECT x FROM api.t")
    engine = Engine(
        [SourceConfig("api", "rest", ttl=30)], qdir, loaders={"rest": loader}, clock=clock
    )
    assert engine.query("x").x[0] == 1
    assert engine.query("x").x[0] == 1
    clock.now += 31
    assert engine.query("x").x[0] == 2
    assert calls == ["api", "api"]


def test_a_failing_source_is_named_and_the_others_keep_working(tmp_path, db):
    def broken(cfg: SourceConfig):
        raise SourceUnavailable(cfg.name, "GET /customers answered HTTP 500")

    qdir = write_queries(
        tmp_path,
        orders="-- sources: shop\nSELECT count(*) AS n FROM shop.orders",
        profiles="-- sources: api\nSELECT * FROM api.profiles",
    )
    engine = Engine([sql_source(db), SourceConfig("api", "rest")], qdir, loaders={"rest": broken})
    with pytest.raises(SourceUnavailable) as err:
        engine.query("profiles")
    assert str(err.value) == "Source 'api' is unavailable: GET /customers answered HTTP 500"
    assert engine.query("orders").n[0] == 3

    status = {s.name: s for s in engine.status()}
    assert status["shop"].ok and status["shop"].tables == {"orders": 3, "orders_snap": 3}
    assert status["shop"].modes == {"orders": "live", "orders_snap": "snapshot"}
    assert not status["api"].ok and "HTTP 500" in status["api"].error


def test_unreachable_database_error_names_source_and_hides_the_password(tmp_path):
    cfg = SourceConfig(
        "crm",
        "sql",
        options={"tables": {"customers": {}}},
        secrets={"url": "postgresql://app:hunter2-secret@127.0.0.1:1/crm"},
    )
    engine = Engine([cfg], tmp_path, loaders={})
    with pytest.raises(SourceUnavailable) as err:
        engine.ensure("crm")
    assert err.value.source == "crm"
    assert "hunter2-secret" not in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_sqlite_file_is_reported(tmp_path):
    cfg = SourceConfig(
        "shop",
        "sql",
        options={"url": f"sqlite:///{tmp_path}/absent.sqlite", "tables": {"orders": {}}},
    )
    engine = Engine([cfg], tmp_path, loaders={})
    with pytest.raises(SourceUnavailable, match="Source 'shop' is unavailable"):
        engine.ensure("shop")


LIST = """-- sources: shop
-- sortable: id, amount
-- default_sort: id asc
SELECT id, amount, count(*) OVER () AS total_rows
FROM shop.orders
WHERE ($status IS NULL OR status = $status)
ORDER BY __order_by__
LIMIT $limit OFFSET $offset"""


def test_a_page_and_its_total_come_from_one_query(tmp_path, db):
    engine = Engine([sql_source(db)], write_queries(tmp_path, listed=LIST), loaders={})
    df, total = engine.page("listed", sort=("amount", "desc"), limit=2, offset=0, status=None)
    assert (list(df.id), total, list(df.columns)) == ([2, 1], 3, ["id", "amount"])
    df, total = engine.page("listed", limit=2, offset=2, status=None)
    assert (list(df.id), total) == ([3], 3)
    df, total = engine.page("listed", limit=2, offset=0, status="pending")
    assert (list(df.id), total) == ([1, 3], 2)
    df, total = engine.page("listed", limit=2, offset=0, status="refunded")
    assert (df.empty, total) == (True, 0)


def test_a_page_past_the_end_still_says_the_total(tmp_path, db):
    """A link to page 9 of a list that has shrunk: no rows to carry the total, so the
    first page is read for it and the caller moves to the last page."""
    engine = Engine([sql_source(db)], write_queries(tmp_path, listed=LIST), loaders={})
    df, total = engine.page("listed", limit=2, offset=16, status="pending")
    assert (df.empty, total) == (True, 2)


def test_a_list_query_without_its_total_is_refused(tmp_path, db):
    plain = LIST.replace(", count(*) OVER () AS total_rows", "")
    engine = Engine([sql_source(db)], write_queries(tmp_path, plain=plain), loaders={})
    with pytest.raises(TypeError, match="total_rows"):
        engine.page("plain", limit=2, offset=0, status=None)
