"""Named queries: `queries/<name>.sql`, run with bound parameters only.

A query's header names the sources it reads, so the engine can load them first and,
when one fails, say which:

    -- sources: crm, shop
    SELECT ... FROM crm.customers JOIN shop.orders ... WHERE status = $status

A query a table can sort declares its sortable columns and puts `__order_by__` where the
ORDER BY list goes; a caller picks a column and direction from that list only, so no
caller text ever reaches the SQL:

    -- sortable: ordered_at, amount, id
    -- default_sort: ordered_at desc
    SELECT ... ORDER BY __order_by__ LIMIT $limit OFFSET $offset
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lib.errors import QueryNotFound

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SOURCES = re.compile(r"^--\s*sources:\s*(.+)$", re.MULTILINE)
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_SORTABLE = re.compile(r"^--\s*sortable:\s*(.+)$", re.MULTILINE)
_DEFAULT_SORT = re.compile(r"^--\s*default_sort:\s*(\w+)\s+(asc|desc)\s*$", re.MULTILINE)
ORDER_BY = "__order_by__"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    sql: str
    sources: tuple[str, ...]
    params: frozenset[str]
    sortable: tuple[str, ...] = ()
    default_sort: tuple[str, str] | None = None

    def render(self, sort: tuple[str, str] | None = None) -> str:
        """The SQL with its ORDER BY filled from the declared sortable columns only."""
        if ORDER_BY not in self.sql:
            if sort is not None:
                raise QueryNotFound(f"query '{self.name}' cannot be sorted")
            return self.sql
        column, direction = sort or self.default_sort or (self.sortable[0], "asc")
        if column not in self.sortable or direction.lower() not in ("asc", "desc"):
            raise QueryNotFound(f"query '{self.name}' cannot be sorted by {column} {direction}")
        # A stable tie-break keeps pages from overlapping when many rows share a value.
        tie = ", id" if "id" in self.sortable and column != "id" else ""
        return self.sql.replace(ORDER_BY, f'"{column}" {direction.upper()} NULLS LAST{tie}')


@lru_cache(maxsize=256)
def _parse(path: Path, mtime: float) -> NamedQuery:
    sql = path.read_text(encoding="utf-8")
    found = _SOURCES.search(sql)
    sources = tuple(s.strip() for s in found.group(1).split(",")) if found else ()
    sortable_m = _SORTABLE.search(sql)
    sortable = tuple(c.strip() for c in sortable_m.group(1).split(",")) if sortable_m else ()
    default_m = _DEFAULT_SORT.search(sql)
    default_sort = (default_m.group(1), default_m.group(2)) if default_m else None
    return NamedQuery(
        path.stem, sql, sources, frozenset(_PARAM.findall(sql)), sortable, default_sort
    )


def load_query(queries_dir: Path, name: str) -> NamedQuery:
    """The query called `name`; the name is checked so it can never walk out of the folder."""
    if not _NAME.match(name):
        raise QueryNotFound(f"'{name}' is not a query name")
    path = queries_dir / f"{name}.sql"
    if not path.is_file():
        raise QueryNotFound(f"No query named '{name}' in {queries_dir.name}/")
    return _parse(path, path.stat().st_mtime)
