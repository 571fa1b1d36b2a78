"""The mongo kind, through pymongo's API on mongomock (no MongoDB server can run here)."""

import json
import uuid

import pytest

from lib.errors import SourceUnavailable
from lib.reading.engine import Engine
from lib.reading.sources import mongo
from lib.reading.sources.base import SourceConfig

TICKETS = [
    {
        "_id": "T1",
        "customer_id": 1,
        "status": "open",
        "assignee": {"name": "Lee", "team": "cs"},
        "tags": ["refund"],
        "messages": [{"from": "customer", "body": "환불해 주세요"}],
    },
    {
        "_id": "T2",
        "customer_id": 1,
        "status": "closed",
        "assignee": {"name": "Park", "team": "cs"},
        "tags": [],
    },
    {"_id": "T3", "customer_id": 2, "status": "open", "tags": ["delivery"]},
]


@pytest.fixture
def cfg(tmp_path):
    seed = tmp_path / "tickets.json"
    seed.write_text(json.dumps(TICKETS, ensure_ascii=False), encoding="utf-8")
    # A fresh URI per test: each mongomock client is its own in-memory server.
    return SourceConfig(
        "support",
        "mongo",
        options={
            "uri": f"mongomock://{uuid.uuid4().hex}",
            "database": "support",
            "collections": {"tickets": {"seed_file": str(seed)}},
        },
    )


def test_collection_is_flattened_into_a_table(cfg):
    table = mongo.load(cfg)["tickets"]
    assert table.num_rows == 3
    assert {"_id", "customer_id", "assignee_name", "assignee_team", "tags", "messages"} <= set(
        table.column_names
    )
    rows = {r["_id"]: r for r in table.to_pylist()}
    assert rows["T1"]["assignee_name"] == "Lee"
    assert json.loads(rows["T1"]["messages"])[0]["body"] == "환불해 주세요"
    assert rows["T3"]["assignee_name"] is None


def test_seeding_happens_once_per_store(cfg):
    mongo.load(cfg)
    assert mongo.load(cfg)["tickets"].num_rows == 3


def test_mongo_table_joins_with_other_tables_in_duckdb(cfg, tmp_path):
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "open_by_customer.sql").write_text(
        "-- sources: support\n"
        "SELECT customer_id, count(*) AS open FROM support.tickets "
        "WHERE status = $status GROUP BY customer_id ORDER BY customer_id",
        encoding="utf-8",
    )
    engine = Engine([cfg], tmp_path / "q")
    df = engine.query("open_by_customer", status="open")
    assert df.to_dict("records") == [{"customer_id": 1, "open": 1}, {"customer_id": 2, "open": 1}]


def test_unreachable_server_is_a_source_error():
    cfg = SourceConfig(
        "support",
        "mongo",
        options={"uri": "mongodb://127.0.0.1:1/", "timeout": 0.3, "collections": {"t": {}}},
    )
    with pytest.raises(SourceUnavailable, match="Source 'support'"):
        mongo.load(cfg)
