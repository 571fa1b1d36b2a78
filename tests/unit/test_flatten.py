from datetime import datetime

import pyarrow as pa

from lib.reading.sources.flatten import flatten, to_arrow


def test_nested_objects_become_prefixed_columns_and_lists_json():
    doc = {"_id": "T1", "assignee": {"name": "Kim", "team": {"id": 3}}, "tags": ["a", "환불"]}
    assert flatten(doc) == {
        "_id": "T1",
        "assignee_name": "Kim",
        "assignee_team_id": 3,
        "tags": '["a", "환불"]',
    }


def test_to_arrow_takes_the_union_of_fields_and_keeps_types():
    table = to_arrow([{"a": 1, "at": datetime(2026, 1, 2)}, {"a": 2, "b": "x"}])
    assert table.column_names == ["a", "at", "b"]
    assert table.schema.field("a").type == pa.int64()
    assert table.column("b").to_pylist() == [None, "x"]


def test_disagreeing_types_fall_back_to_text():
    table = to_arrow([{"v": 1}, {"v": "one"}])
    assert table.column("v").to_pylist() == ["1", "one"]
