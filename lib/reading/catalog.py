"""Reading a table of a declared source by name: the one place that does it.

A sheet's (or any loaded table's) columns are known only at run time, so no named query
(queries/*.sql) can list them. Here every identifier is checked against DuckDB's own
catalogue (information_schema) of the declared sources before any SQL is written, then
quoted; values (limits, offsets, parameters) are bound. Nothing a user types reaches the
SQL otherwise.

A failure reads as the engine's own: a source's database that went away is its one-line
SourceUnavailable (Engine._probe), like Engine.query.

A sheet's row numbers (cells.ROW) are in a hidden table outside the source's schema
(sheet_findings.numbered), so the catalogue never lists them: previews, exports and
combinations never see them; `rows(..., row_numbers=True)` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd

from lib.errors import BackofficeError, SourceUnavailable, one_line
from lib.reading.engine import TOTAL, Engine
from lib.reading.sheet_findings import NUMBERED_SUFFIX, numbered
from lib.reading.sources.cells import ROW
from lib.reading.sqlite_race import retried


class NotInCatalogue(BackofficeError):
    """A source, table or column that is not in the engine's catalogue of declared sources."""


NAME_CHARS = 60  # of a name asked for, repeated in an error


def ident(name: str) -> str:
    """An identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def qualified(source: str, table: str) -> str:
    return f"{ident(source)}.{ident(table)}"


def described(engine: Engine, sources: Sequence[str]) -> dict[str, dict[str, str]]:
    """ "source.table" -> {column: DuckDB type}, in table order, for every table DuckDB holds in
    these sources' schemas (loaded already: see `columns` for one that loads)."""
    unknown = [s for s in sources if s not in engine.sources]
    if unknown:
        raise NotInCatalogue(f"No source named '{one_line(unknown[0], NAME_CHARS)}'.")
    # information_schema lists every attached database too: the live SQLite files included.
    rows = retried(
        lambda: (
            engine._cursor()
            .execute(
                "SELECT table_schema, table_name, column_name, data_type "
                "FROM information_schema.columns "
                "WHERE table_catalog = current_database() "
                "AND table_schema IN (SELECT unnest(CAST($schemas AS VARCHAR[]))) "
                "ORDER BY table_schema, table_name, ordinal_position",
                {"schemas": list(sources)},
            )
            .fetchall()
        )
    )
    out: dict[str, dict[str, str]] = {}
    for schema, table, column, dtype in rows:
        out.setdefault(f"{schema}.{table}", {})[str(column)] = str(dtype)
    return out


def columns(engine: Engine, source: str, table: str) -> dict[str, str]:
    """The table's columns -> DuckDB types, the source loaded first (its TTL). Raises
    NotInCatalogue for a source or table DuckDB does not hold, SourceUnavailable like
    Engine.ensure."""
    if source not in engine.sources:
        raise NotInCatalogue(f"No source named '{one_line(source, NAME_CHARS)}'.")
    engine.ensure(source)
    found = described(engine, [source]).get(f"{source}.{table}")
    if found is None:
        raise NotInCatalogue(
            f"Source {source} has no table '{one_line(table, NAME_CHARS)}' loaded."
        )
    return found


def _origin(engine: Engine, source: str, table: str) -> tuple[str, str, bool]:
    """What to read the table from, the ORDER BY that keeps its rows as loaded ("" if none),
    and whether it has ROW: a sheet's hidden numbered table (in row order); else the table
    itself by rowid; a live SQL table is a view over the scanner, with no rowid."""
    found = engine._cursor().execute(
        "SELECT table_schema, table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_name = $t "
        "AND table_schema IN ($s, $h)",
        {"s": source, "t": table, "h": source + NUMBERED_SUFFIX},
    )
    kinds = dict(found.fetchall())
    if source + NUMBERED_SUFFIX in kinds:
        return numbered(source, table), ident(ROW), True
    return qualified(source, table), "rowid" if kinds.get(source) == "BASE TABLE" else "", False


def _failed(engine: Engine, sources: Iterable[str], exc: duckdb.Error) -> None:
    """Raise SourceUnavailable for a source whose database does not answer now (a live
    scanner fails at query time when its server went away)."""
    for source in sources:
        if engine.sources[source].kind == "sql":
            engine._probe(source, exc)


def _table_sql(engine: Engine, source: str, table: str, sql: str, params: list[Any]) -> Any:
    try:
        return engine._cursor().execute(sql, params).df()
    except duckdb.Error as exc:
        _failed(engine, [source], exc)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceUnavailable(source, f"table '{table}': {one_line(first, 200)}") from exc


def count(engine: Engine, source: str, table: str) -> int:
    """How many rows the table holds."""
    columns(engine, source, table)
    df = _table_sql(
        engine, source, table, f"SELECT count(*) AS n FROM {qualified(source, table)}", []
    )
    return int(df["n"].iloc[0])


def page(
    engine: Engine,
    source: str,
    table: str,
    *,
    sort: tuple[str, str] | None,
    limit: int,
    offset: int,
) -> tuple[pd.DataFrame, int]:
    """One page of the table, sorted by one of its columns (NULLs last), and the table's total
    from the same statement (count(*) OVER (), like Engine.page). A page past the end still
    says the total, so the caller can move to the last page."""
    cols = columns(engine, source, table)
    origin, loaded_order, _ = _origin(engine, source, table)
    order = [loaded_order] if loaded_order else []
    if sort is not None:
        column, direction = sort
        if column not in cols or direction not in ("asc", "desc"):
            raise NotInCatalogue(
                f"Table {source}.{table} has no column '{one_line(column, NAME_CHARS)}'."
            )
        order.insert(0, f"{ident(column)} {direction.upper()} NULLS LAST")
    listed = ", ".join(ident(c) for c in cols)  # not SELECT *: a sheet's ROW stays hidden
    sql = (
        f"SELECT {listed}, count(*) OVER () AS {TOTAL} FROM {origin}"
        + (f" ORDER BY {', '.join(order)}" if order else "")
        + " LIMIT ? OFFSET ?"
    )
    df = _table_sql(engine, source, table, sql, [limit, offset])
    if df.empty and offset > 0:
        total = count(engine, source, table)
    else:
        total = int(df[TOTAL].iloc[0]) if len(df) else 0
    return df.drop(columns=[TOTAL]), total


def rows(
    engine: Engine,
    source: str,
    table: str,
    *,
    limit: int | None = None,
    row_numbers: bool = False,
) -> pd.DataFrame:
    """The table's rows in the order they were loaded (at most `limit`; None: all); with
    `row_numbers`, a sheet's rows also carry their spreadsheet row number in column ROW."""
    cols = list(columns(engine, source, table))
    origin, loaded_order, has_row = _origin(engine, source, table)
    if row_numbers and has_row:
        cols.append(ROW)
    order = f" ORDER BY {loaded_order}" if loaded_order else ""
    listed = ", ".join(ident(c) for c in cols)
    sql = f"SELECT {listed} FROM {origin}{order} LIMIT ?"
    return _table_sql(engine, source, table, sql, [limit]).reset_index(drop=True)


def run(
    engine: Engine, sql: str, params: Mapping[str, Any] | Sequence[Any], sources: Iterable[str]
) -> pd.DataFrame:
    """SQL written from identifiers this module checked (see `described`), over `sources`
    (loaded first), values bound. A source whose database went away raises its
    SourceUnavailable; any other DuckDB error is raised as it is, for the caller to word."""
    names = sorted(set(sources))
    for source in names:
        if source not in engine.sources:
            raise NotInCatalogue(f"No source named '{one_line(source, NAME_CHARS)}'.")
        engine.ensure(source)
    try:
        return engine._cursor().execute(sql, params).df()
    except duckdb.Error as exc:
        _failed(engine, names, exc)
        raise
