"""Turn JSON-shaped documents (Mongo, REST) into flat Arrow tables DuckDB can join."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import pyarrow as pa

SCALARS = (str, int, float, bool, datetime, date)


def flatten(doc: Mapping[str, Any], prefix: str = "", sep: str = "_") -> dict[str, Any]:
    """Nested objects become `parent_child` columns; lists become JSON text."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name, sep))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(value, ensure_ascii=False, default=str)
        elif value is None or isinstance(value, SCALARS):
            out[name] = value
        else:  # ObjectId, Decimal128, UUID...: their text form is what a reader wants
            out[name] = str(value)
    return out


def to_arrow(docs: Iterable[Mapping[str, Any]]) -> pa.Table:
    """An Arrow table over the union of the documents' flattened fields.

    A column whose values disagree in type is kept as text rather than failing the load.
    """
    rows = [flatten(d) for d in docs]
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({"_empty": pa.array([], pa.null())})
