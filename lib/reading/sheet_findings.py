"""What a `sheet` source's last load found beside its tables (lib.reading.sources.sheet's
SheetTables): each table's bad cells, and each table that could not be read with its one-line
reason. The engine keeps one per source; other kinds' loads find nothing.

A table that could not be read is not in DuckDB, so a query naming it fails as a missing
table; `unreadable` turns that into the table's own one-line reason.

A sheet's rows carry their spreadsheet row number (cells.ROW). `store` keeps them whole in a
hidden table (`numbered`, outside the source's schema, so the catalogue never lists it) and
`source."table"` is a view without ROW: `SELECT * FROM sheets.t` gives the sheet's columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from lib.errors import SourceUnavailable
from lib.reading.sources.cells import ROW, CellProblem

NUMBERED_SUFFIX = "__rows"  # `sheets__rows.budget`: the rows of `sheets.budget` with ROW

_MISSING = re.compile(r"Table with name (\S+) does not exist")


def numbered(source: str, table: str) -> str:
    """The hidden table behind `source."table"`: its rows with their row numbers (ROW)."""
    return f'"{source}{NUMBERED_SUFFIX}"."{table}"'


def _kind(cur: duckdb.DuckDBPyConnection, source: str, table: str) -> str | None:
    found = cur.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = $s AND table_name = $t",
        {"s": source, "t": table},
    ).fetchone()
    return None if found is None else str(found[0])


def drop(cur: duckdb.DuckDBPyConnection, source: str, table: str) -> None:
    """Forget `source."table"` (a table, or a view over its hidden numbered table)."""
    kind = _kind(cur, source, table)
    if kind is not None:
        cur.execute(f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} {source}."{table}"')
    cur.execute(f"DROP TABLE IF EXISTS {numbered(source, table)}")


def store(cur: duckdb.DuckDBPyConnection, source: str, table: str, loaded: str, arrow: Any) -> None:
    """`source."table"` from the registered relation `loaded` (of `arrow`), in one step."""
    has_row = ROW in getattr(getattr(arrow, "schema", None), "names", ())
    cur.execute("BEGIN")
    try:
        if (_kind(cur, source, table) == "VIEW") != has_row:  # changed shape: start afresh
            drop(cur, source, table)
        if has_row:
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{source}{NUMBERED_SUFFIX}"')
            cur.execute(f"CREATE OR REPLACE TABLE {numbered(source, table)} AS FROM {loaded}")
            cur.execute(
                f'CREATE OR REPLACE VIEW {source}."{table}" AS '
                f'SELECT * EXCLUDE ("{ROW}") FROM {numbered(source, table)}'
            )
        else:
            cur.execute(f'CREATE OR REPLACE TABLE {source}."{table}" AS FROM {loaded}')
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise


@dataclass
class SheetFindings:
    problems: dict[str, list[CellProblem]] = field(default_factory=dict)  # table -> bad cells
    errors: dict[str, str] = field(default_factory=dict)  # unreadable table -> its reason

    @classmethod
    def of(cls, tables: Mapping[str, Any]) -> SheetFindings:
        """What a loader's result carries; nothing for a plain mapping of tables."""
        return cls(
            {n: list(p) for n, p in getattr(tables, "problems", {}).items()},
            {n: str(r) for n, r in getattr(tables, "errors", {}).items()},
        )

    def copy(self) -> SheetFindings:
        return SheetFindings({n: list(p) for n, p in self.problems.items()}, dict(self.errors))

    def unreadable(self, source: str, exc: duckdb.Error) -> SourceUnavailable | None:
        """The one-line error of a query that failed because it names a table of `source`
        that could not be read; None when that is not why it failed."""
        if not isinstance(exc, duckdb.CatalogException):
            return None
        found = _MISSING.search(str(exc).split("\n", 1)[0])
        table = found.group(1).strip('"') if found else None
        if table not in self.errors:
            return None
        return SourceUnavailable(source, f"table '{table}' cannot be read: {self.errors[table]}")
