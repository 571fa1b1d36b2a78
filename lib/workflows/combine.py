"""The last step of every run: the combine query over the steps' rows, in a private DuckDB
connection (each step's rows a table named after the step), never on the app's engine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import duckdb
import pandas as pd

from lib.reading.queries import NamedQuery

# DuckDB's words for a column a query names and a table lacks.
_MISSING = (
    re.compile(r'Referenced column "([^"]+)" not found'),
    re.compile(r'does not have a column named "([^"]+)"'),
)
MAX_FILLS = 64
# DuckDB cannot register a frame without columns (a call step no item answered, whose rows
# name nothing): it is registered with this one empty column, so that the query's own
# columns can then be added to it as to any other step without rows.
PLACEHOLDER = "_no_rows"


def combine(
    frames: Mapping[str, pd.DataFrame], query: NamedQuery, params: Mapping[str, Any]
) -> pd.DataFrame:
    """The rows of `query` over `frames`, bound with the run parameters it declares.

    A step with no rows may not know its columns (no item answered): a column the query
    names and no table has is added, empty, to the steps without rows, so a LEFT JOIN onto
    them still gives the other side's rows instead of an error."""
    tables = dict(frames)
    bound = {name: params.get(name) for name in query.params}
    sql = query.render()
    for _ in range(MAX_FILLS):
        con = duckdb.connect()
        try:
            for name, df in tables.items():
                con.register(name, df if len(df.columns) else _placeholder(df))
            return con.execute(sql, bound).df()
        except duckdb.BinderException as exc:  # a column a step without rows does not know
            column = _missing_column(str(exc))
            empty = [n for n, df in tables.items() if df.empty and column not in df.columns]
            if column is None or not empty:
                raise
            for name in empty:
                tables[name] = tables[name].assign(**{column: pd.Series([], dtype=object)})
        finally:
            con.close()
    raise duckdb.BinderException(f"query '{query.name}' names too many missing columns")


def _placeholder(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(**{PLACEHOLDER: pd.Series([], dtype=object)})


def _missing_column(message: str) -> str | None:
    for pattern in _MISSING:
        if found := pattern.search(message):
            return found.group(1)
    return None
