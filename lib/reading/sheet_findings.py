"""What a `sheet` source's last load found beside its tables (lib.reading.sources.sheet's
SheetTables): each table's bad cells, and each table that could not be read with its one-line
reason. The engine keeps one per source; other kinds' loads find nothing.

A table that could not be read is not in DuckDB, so a query naming it fails as a missing
table; `unreadable` turns that into the table's own one-line reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from lib.errors import SourceUnavailable
from lib.reading.sources.cells import CellProblem

_MISSING = re.compile(r"Table with name (\S+) does not exist")


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
