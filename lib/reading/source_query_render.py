"""Source queries' SQL: the header of queries/<name>.sql read, and the statement rendered
for one call (pure text work, no database: lib.reading.source_query runs it).

    -- sources: shop
    -- runs_on: shop
    -- sortable: ordered_at=o.ordered_at, id=o.id, status=(o.status, o.ordered_at)
    -- default_sort: ordered_at desc
    -- key: o.id
    SELECT o.id, o.ordered_at, ... FROM orders AS o
    WHERE __keyset__
      AND o.status IN :statuses          -- when: statuses

- A line ending `-- when: p` is kept only when `p` is given, not None and, for a list,
  not empty; its comment goes. `-- when: p, a|b, !c`: p given, a or b given, c not given.
  Pseudo-parameters: `__count` in the count statement, `__keys` in the keys of a page
  found by its number (a join only the select list needs can be left out of both: MariaDB
  then reads the sort's index instead of sorting the table), `__small` in a page statement
  whose list counted exactly (at most the cap: few enough rows to sort), `__sort_<name>` in a page
  sorted by <name>. So a range filter may use its index for the count, a small list and its
  own sort, and leave a large list to the sort's index (SQLite has no range statistics to
  choose by: it read a whole amount range and sorted it).
- A sort is one of `sortable`'s names (an expression, or several in parentheses: all
  NOT NULL); ORDER BY is that, then the key, every part in the one direction asked for.
- `__keyset__` is `1 = 1`, or the condition that starts after (or before) a row's sort
  values and key: `(s < :__k0 OR (s = :__k0 AND id < :__k1))`, so the next page is one
  index range read whatever page it is.
- The sort values and key are selected too (`__k0`, ...), so a page knows its boundaries.
- The count replaces the select list with `1` and stops at the cap:
  `SELECT count(*) FROM (SELECT 1 FROM ... LIMIT :__cap) AS capped`.

Nothing a caller passes reaches the text: sorts are names from the header, directions
asc/desc, everything else a bound parameter. Portable SQL only (SQLite, PostgreSQL,
MariaDB): no `||`, ILIKE, `::`, NULLS LAST.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.errors import QueryNotFound
from lib.reading.queries import load_query

KEYSET = "__keyset__"
KEY_PREFIX = "__k"  # bound keyset values and the selected sort values: __k0, __k1, ...
LIMIT, OFFSET, CAP = "__limit", "__offset", "__cap"

_RUNS_ON = re.compile(r"^--\s*runs_on:\s*(\w+)\s*$", re.MULTILINE)
_SORTABLE = re.compile(r"^--\s*sortable:\s*(.+)$", re.MULTILINE)
_KEY = re.compile(r"^--\s*key:\s*(.+?)\s*$", re.MULTILINE)
_WHEN = re.compile(r"--\s*when:\s*([!\w|,\s]+?)\s*$")
# Pseudo-parameters a when-line may name: the count statement; a page of a list that
# counted exactly; a page sorted by <name> (`__sort_amount`).
COUNTING, SMALL, SORTED, KEYS = "__count", "__small", "__sort_", "__keys"
_COMMENT_LINE = re.compile(r"^\s*--")
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")  # as sqlalchemy.text reads them
_SELECT = re.compile(r"^\s*SELECT\b", re.IGNORECASE)


@dataclass(frozen=True)
class SourceSQL:
    """One queries/<name>.sql file that runs on a source's own database."""

    name: str
    runs_on: str
    body: str  # the statement, comment lines dropped, `-- when:` comments kept
    sortable: Mapping[str, tuple[str, ...]]  # name -> expressions
    default_sort: tuple[str, str] | None
    key: str | None  # the expression that makes a row's position unique

    @property
    def params(self) -> frozenset[str]:
        """The bound parameters the statement names (the renderer's own aside)."""
        return frozenset(p for p in _PARAM.findall(self.body) if not p.startswith("__"))

    def sort_parts(self, sort: tuple[str, str] | None) -> tuple[tuple[str, ...], str]:
        """The ORDER BY expressions (sort's, then the key) and the direction; a sort not
        declared, or a direction not asc/desc, is refused."""
        name, direction = sort or self.default_sort or (next(iter(self.sortable), ""), "asc")
        direction = str(direction).lower()
        if name not in self.sortable or direction not in ("asc", "desc"):
            raise QueryNotFound(f"query '{self.name}' cannot be sorted by {name} {direction}")
        parts = self.sortable[name]
        if self.key and self.key not in parts:
            parts = (*parts, self.key)
        return parts, direction


def _split_top(text: str) -> list[str]:
    """`a, (b, c), d` -> ["a", "(b, c)", "d"]: commas outside parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return [p for p in out if p]


def _sortable(header: str | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for item in _split_top(header or ""):
        name, _, expr = item.partition("=")
        expr = expr.strip() or name.strip()
        if expr.startswith("(") and expr.endswith(")"):
            exprs = tuple(_split_top(expr[1:-1]))
        else:
            exprs = (expr,)
        out[name.strip()] = exprs
    return out


def parse(queries_dir: Path, name: str) -> SourceSQL:
    """queries/<name>.sql as a source query (lib.reading.queries loads and checks the name);
    a file without `-- runs_on:` is refused."""
    q = load_query(queries_dir, name)
    runs_on = _RUNS_ON.search(q.sql)
    if runs_on is None:
        raise QueryNotFound(f"query '{name}' has no '-- runs_on:' header")
    key = _KEY.search(q.sql)
    sortable = _SORTABLE.search(q.sql)
    body = "\n".join(
        line for line in q.sql.splitlines() if line.strip() and not _COMMENT_LINE.match(line)
    )
    if not _SELECT.match(body):
        raise QueryNotFound(f"query '{name}' is not one SELECT statement")
    return SourceSQL(
        name=name,
        runs_on=runs_on.group(1),
        body=body,
        sortable=_sortable(sortable.group(1) if sortable else None),
        default_sort=q.default_sort,
        key=key.group(1) if key else None,
    )


def given(value: Any) -> bool:
    """Whether a `-- when:` parameter is set: not None and, for a list, not empty."""
    if value is None:
        return False
    if isinstance(value, list | tuple | set | frozenset):
        return len(value) > 0
    return True


def _holds(condition: str, params: Mapping[str, Any]) -> bool:
    """`a, b|c, !d`: a given, and b or c given, and d not given."""
    for term in condition.split(","):
        alternatives = [t.strip() for t in term.split("|") if t.strip()]
        if not any(
            not given(params.get(t[1:])) if t.startswith("!") else given(params.get(t))
            for t in alternatives
        ):
            return False
    return True


def _kept_lines(body: str, params: Mapping[str, Any]) -> str:
    out = []
    for line in body.splitlines():
        when = _WHEN.search(line)
        if when is None:
            out.append(line)
        elif _holds(when.group(1), params):
            out.append(line[: when.start()].rstrip())
    return "\n".join(out)


def _from_index(sql: str) -> tuple[int, int]:
    """Where the outer SELECT's select list starts and its FROM begins."""
    depth, select_end = 0, None
    for m in re.finditer(r"\(|\)|'[^']*'|\b(?:SELECT|FROM)\b", sql, re.IGNORECASE):
        token = m.group(0)
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
        elif depth == 0 and token.upper() == "SELECT" and select_end is None:
            select_end = m.end()
        elif depth == 0 and token.upper() == "FROM" and select_end is not None:
            return select_end, m.start()
    raise QueryNotFound("a source query needs a top-level SELECT ... FROM")


def keyset_condition(parts: Sequence[str], direction: str, before: bool) -> str:
    """Rows after (or, with `before`, ahead of) the bound row `:__k0, :__k1, ...` in the
    ORDER BY `parts` `direction`: (a < :k0 OR (a = :k0 AND (b < :k1 OR ...)))."""
    op = "<" if (direction == "desc") != before else ">"
    cond = f"{parts[-1]} {op} :{KEY_PREFIX}{len(parts) - 1}"
    for i in range(len(parts) - 2, -1, -1):
        k = f":{KEY_PREFIX}{i}"
        cond = f"({parts[i]} {op} {k} OR ({parts[i]} = {k} AND {cond}))"
    return cond if cond.startswith("(") else f"({cond})"


@dataclass(frozen=True)
class Rendered:
    sql: str
    key_columns: tuple[str, ...]  # the selected sort values, in ORDER BY order


def render_page(
    q: SourceSQL,
    params: Mapping[str, Any],
    sort: tuple[str, str] | None,
    *,
    keyset: str | None = None,  # "after" | "before" | None
    skipping: bool = False,
) -> Rendered:
    """One page's statement: the kept lines, the keyset condition, the sort values selected
    as __k0.., ORDER BY (reversed for `before`: the caller reverses the rows) and
    LIMIT :__limit OFFSET :__offset.

    `skipping` (an OFFSET past the first rows, a page number from a URL): the rows skipped
    are found by their keys alone (`key IN (SELECT key ... LIMIT OFFSET)`), which an index
    answers without reading the rows; MariaDB otherwise read every skipped row, or sorted
    the whole table (4.8 s for page 500 at 1.5M orders)."""
    parts, direction = q.sort_parts(sort)
    name = (sort or q.default_sort or (next(iter(q.sortable), ""), ""))[0]
    sql = _kept_lines(q.body, {**params, SORTED + name: True})
    order_by = ", ".join(f"{p} {direction.upper()}" for p in parts)
    if skipping and keyset is None and q.key:
        if KEYSET not in sql:
            raise QueryNotFound(f"query '{q.name}' has no {KEYSET} for a page number")
        keys_sql = _kept_lines(q.body, {**params, SORTED + name: True, KEYS: True})
        select_end, from_at = _from_index(keys_sql)
        inner = (
            keys_sql[:select_end]
            + f" {q.key} AS __pk\n"
            + keys_sql[from_at:].replace(KEYSET, "1 = 1")
        )
        inner += f"\nORDER BY {order_by}\nLIMIT :{LIMIT} OFFSET :{OFFSET}"
        # The derived table: MariaDB takes no LIMIT in an IN subquery itself.
        found = f"{q.key} IN (SELECT __pk FROM (\n{inner}\n) AS page_keys)"
        sql = sql.replace(KEYSET, found)
        keys = tuple(f"{KEY_PREFIX}{i}" for i in range(len(parts)))
        extra = "".join(f", {p} AS {k}" for p, k in zip(parts, keys, strict=True))
        _, from_at = _from_index(sql)
        sql = sql[:from_at].rstrip() + extra + "\n" + sql[from_at:]
        return Rendered(f"{sql}\nORDER BY {order_by}\nLIMIT :{LIMIT}", keys)
    if keyset is None:
        sql = sql.replace(KEYSET, "1 = 1")
    else:
        if KEYSET not in sql:
            raise QueryNotFound(f"query '{q.name}' has no {KEYSET} for its next page")
        sql = sql.replace(KEYSET, keyset_condition(parts, direction, keyset == "before"))
    _, from_at = _from_index(sql)
    keys = tuple(f"{KEY_PREFIX}{i}" for i in range(len(parts)))
    extra = "".join(f", {p} AS {k}" for p, k in zip(parts, keys, strict=True))
    sql = sql[:from_at].rstrip() + extra + "\n" + sql[from_at:]
    order = direction if keyset != "before" else {"asc": "desc", "desc": "asc"}[direction]
    order_by = ", ".join(f"{p} {order.upper()}" for p in parts)
    sql = f"{sql}\nORDER BY {order_by}\nLIMIT :{LIMIT} OFFSET :{OFFSET}"
    return Rendered(sql, keys)


def render_count(q: SourceSQL, params: Mapping[str, Any]) -> str:
    """The capped count: at most :__cap rows of the list are read (`__count` is given)."""
    sql = _kept_lines(q.body, {**params, COUNTING: True}).replace(KEYSET, "1 = 1")
    select_end, from_at = _from_index(sql)
    inner = sql[:select_end] + " 1\n" + sql[from_at:]
    return f"SELECT count(*) AS n FROM (\n{inner}\nLIMIT :{CAP}\n) AS capped"


def render_all(q: SourceSQL, params: Mapping[str, Any], sort: tuple[str, str] | None) -> str:
    """The whole statement for `run`: kept lines, no keyset, ORDER BY when sortable."""
    sql = _kept_lines(q.body, params).replace(KEYSET, "1 = 1")
    if q.sortable:
        parts, direction = q.sort_parts(sort)
        sql += "\nORDER BY " + ", ".join(f"{p} {direction.upper()}" for p in parts)
    return sql


def used_params(sql: str) -> set[str]:
    return set(_PARAM.findall(sql))
