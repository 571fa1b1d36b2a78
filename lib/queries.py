"""Named queries: `queries/<name>.sql`, run with bound parameters only.

A query's header names the sources it reads, so the engine can load them first and,
when one fails, say which:

    -- sources: crm, shop
    SELECT ... FROM crm.customers JOIN shop.orders ... WHERE status = $status
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


@dataclass(frozen=True)
class NamedQuery:
    name: str
    sql: str
    sources: tuple[str, ...]
    params: frozenset[str]


@lru_cache(maxsize=256)
def _parse(path: Path, mtime: float) -> NamedQuery:
    sql = path.read_text(encoding="utf-8")
    found = _SOURCES.search(sql)
    sources = tuple(s.strip() for s in found.group(1).split(",")) if found else ()
    return NamedQuery(path.stem, sql, sources, frozenset(_PARAM.findall(sql)))


def load_query(queries_dir: Path, name: str) -> NamedQuery:
    """The query called `name`; the name is checked so it can never walk out of the folder."""
    if not _NAME.match(name):
        raise QueryNotFound(f"'{name}' is not a query name")
    path = queries_dir / f"{name}.sql"
    if not path.is_file():
        raise QueryNotFound(f"No query named '{name}' in {queries_dir.name}/")
    return _parse(path, path.stat().st_mtime)
