"""Spreadsheet import: rows into a database table by its declared key, all or nothing.

Only the tables declared in IMPORTS can be written, each with its columns' types (those of
lib.reading.sources.cells, so a cell is read exactly as the spreadsheet pages read it) and
its key (UNIQUE in the database). Every row is checked before anything is written; a bad
cell is named like a spreadsheet names it (the header is row 1, the first data row is row
2). Then, in one transaction with one audit row: a row whose key is new is inserted, one
whose key exists with other values is updated, one that matches is left alone, so
importing the same sheet twice changes nothing. `dry_run` counts the same without writing.
Each inserted or updated row carries the request id of its import, which its audit row has.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lib.access.masking import looks_like_raw_pii
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.actions.context import ActionContext, current
from lib.errors import ConfigError, Conflict, ValidationFailed
from lib.notify import events
from lib.reading.sources.cells import (
    EXPECTED,
    CellInvalid,
    CellProblem,
    column_letter,
    is_empty,
    parse_cell,
    shown,
)
from lib.records.schema import now_text

MAX_ROWS = 50_000  # one transaction; a larger sheet is imported in parts
_CHUNK = 500  # key values per SELECT of the rows already there (bound-parameter limits)

imports = sa.MetaData()

_SQL_TYPES: dict[str, Any] = {
    "text": sa.Text,
    "int": sa.BigInteger,
    "float": sa.Float,
    "date": sa.Date,
    "bool": sa.Boolean,
}


@dataclass(frozen=True)
class Importable:
    """A table rows may be imported into: its database, columns {name: cell type}, the
    columns a row must fill and the key that names a row (UNIQUE in the table)."""

    db: str
    table: sa.Table
    columns: Mapping[str, str]
    required: frozenset[str]
    key: tuple[str, ...]


def _importable(
    db: str, name: str, columns: dict[str, str], required: set[str], key: tuple[str, ...]
) -> Importable:
    table = sa.Table(
        name,
        imports,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(sa.Column(c, _SQL_TYPES[k], nullable=c not in required) for c, k in columns.items()),
        sa.Column("imported_at", sa.Text, nullable=False),
        sa.Column("imported_by", sa.Text, nullable=False),
        sa.Column("import_request_id", sa.Text, nullable=False, index=True),
        sa.UniqueConstraint(*key, name=f"uq_{name}_key"),
    )
    return Importable(db, table, dict(columns), frozenset(required | set(key)), key)


# The same columns as the spreadsheets these tables are filled from (config/backoffice.toml).
IMPORTS: dict[str, Importable] = {
    "marketing_spend": _importable(
        "shop",
        "marketing_spend",
        {"month": "date", "channel": "text", "spend_krw": "int", "clicks": "int", "signups": "int"},
        {"month", "channel", "spend_krw"},
        ("month", "channel"),
    ),
    "store_sales": _importable(
        "shop",
        "store_sales",
        {"month": "date", "store": "text", "revenue_krw": "int", "orders": "int"},
        {"month", "store", "revenue_krw"},
        ("month", "store"),
    ),
}

# Engines known to hold a table already (checked once per engine and table).
_created: dict[str, weakref.WeakSet[sa.Engine]] = {name: weakref.WeakSet() for name in IMPORTS}


def _ensure_table(engine: sa.Engine, target: Importable) -> None:
    seen = _created[target.table.name]
    if engine not in seen:
        imports.create_all(engine, tables=[target.table], checkfirst=True)
        seen.add(engine)


@dataclass(frozen=True)
class _Bad:
    """One refused cell: where, what its column wants, what it holds, and the action's line."""

    row: int
    column: str
    expected: str
    found: str
    message: str


def _found(cell: Any) -> str:
    """The cell as a problem quotes it, unless it holds contact details (it is audited)."""
    if is_empty(cell):
        return "an empty cell"
    text = shown(cell)
    return "the value" if looks_like_raw_pii(text) else text


def _problem(exc: CellInvalid, cell: Any) -> str:
    if looks_like_raw_pii(exc.problem):
        return exc.problem.replace(shown(cell), "the value")
    return exc.problem


def _numbers(numbers: Any, count: int) -> list[int]:
    """Each row's spreadsheet row number: as given (a loaded sheet skips its blank rows, so
    only the sheet knows them), else counted from 2 (the header is row 1)."""
    if numbers is None:
        return list(range(2, count + 2))
    if (
        not isinstance(numbers, list | tuple)
        or len(numbers) != count
        or not all(type(n) is int and 2 <= n <= 10_000_000 for n in numbers)
    ):
        raise ValidationFailed("row_numbers must be one spreadsheet row number (2 or more) a row")
    return list(numbers)


def _read(
    rows: Any, target: Importable, numbers: Any = None
) -> tuple[list[tuple[int, dict[str, Any]]], list[_Bad]]:
    """Every row read into its columns' types, with its spreadsheet row number (`numbers`, see
    `_numbers`), and every bad cell. Fully empty rows are skipped. A row repeating an earlier
    row's key is refused at its key's first column. The shape of the input (a list of column
    -> value mappings of the target's columns) raises ValidationFailed."""
    if not isinstance(rows, list | tuple) or not rows:
        raise ValidationFailed("rows is required: a list of rows (column -> value)")
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"rows: at most {MAX_ROWS:,} per import")
    numbered = list(zip(_numbers(numbers, len(rows)), rows, strict=True))
    names = ", ".join(target.columns)
    for row_number, row in numbered:
        if not isinstance(row, Mapping):
            raise ValidationFailed(f"row {row_number}: expected column -> value")
        unknown = [k for k in row if k not in target.columns]
        if unknown:
            header = shown(unknown[0])
            raise ValidationFailed(
                f"row {row_number}, column {'?' if looks_like_raw_pii(header) else header}: "
                f"not a column of {target.table.name} ({names})"
            )
    # Only the columns the rows bring are written: an unmapped column keeps what it holds.
    supplied = [c for c in target.columns if c in target.required or any(c in r for r in rows)]
    clean: list[tuple[int, dict[str, Any]]] = []
    bad: list[_Bad] = []
    seen: dict[tuple[Any, ...], int] = {}
    for row_number, row in numbered:
        if all(is_empty(cell) for cell in row.values()):
            continue
        values: dict[str, Any] = {}
        fine = True
        for column in supplied:
            kind, cell = target.columns[column], row.get(column)
            try:
                value = parse_cell(cell, kind)
            except CellInvalid as exc:
                message = f"row {row_number}, column '{column}': {_problem(exc, cell)}"
                expected = getattr(exc, "expected", None) or EXPECTED[kind]
                bad.append(_Bad(row_number, column, expected, _found(cell), message))
                fine = False
                continue
            if value is None and column in target.required:
                message = f"row {row_number}, column '{column}': a value is required"
                bad.append(_Bad(row_number, column, "a value", _found(cell), message))
                fine = False
            values[column] = value
        if not fine:
            continue
        key = tuple(values[c] for c in target.key)
        if key in seen:
            first, names_key = target.key[0], ", ".join(target.key)
            message = f"row {row_number}: the same {names_key} as row {seen[key]}"
            expected = f"a {names_key} not already in row {seen[key]}"
            bad.append(_Bad(row_number, first, expected, _found(row.get(first)), message))
            continue
        seen[key] = row_number
        clean.append((row_number, values))
    if not clean and not bad:
        raise ValidationFailed("rows: every row is empty")
    return clean, bad


def check_rows(rows: Any, target: Importable, numbers: Any = None) -> list[dict[str, Any]]:
    """Every row read into its columns' types; fully empty rows are skipped.

    Raises ValidationFailed naming the first bad cell's row (`numbers`, see `_numbers`) and
    column.
    """
    clean, bad = _read(rows, target, numbers)
    if bad:
        raise ValidationFailed(bad[0].message)
    return [values for _, values in clean]


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing(
    conn: sa.Connection, target: Importable, rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The stored rows sharing a key with `rows`, by key (selected by the key's first column,
    so only the part of the table the sheet touches is read)."""
    t, first = target.table, target.key[0]
    wanted = {tuple(r[c] for c in target.key) for r in rows}
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for chunk in _chunks(sorted({r[first] for r in rows})):
        for rec in conn.execute(sa.select(t).where(t.c[first].in_(chunk))):
            row = dict(rec._mapping)
            key = tuple(row[c] for c in target.key)
            if key in wanted:
                found[key] = row
    return found


def _sort(
    target: Importable, rows: Sequence[Mapping[str, Any]], stored: Mapping[tuple, dict]
) -> tuple[list[Mapping[str, Any]], list[tuple[int, Mapping[str, Any]]], int]:
    """The rows split into new ones, changed ones (with the stored id) and a count of the
    unchanged ones."""
    new: list[Mapping[str, Any]] = []
    changed: list[tuple[int, Mapping[str, Any]]] = []
    unchanged = 0
    for row in rows:
        old = stored.get(tuple(row[c] for c in target.key))
        if old is None:
            new.append(row)
        elif any(old[c] != value for c, value in row.items()):
            changed.append((old["id"], row))
        else:
            unchanged += 1
    return new, changed, unchanged


@dataclass(frozen=True)
class DryRun:
    """What an import of these rows would do now, and every cell that stops it."""

    table: str
    new: int
    changed: int
    unchanged: int
    problems: tuple[CellProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def dry_run(
    table: str,
    rows: list[dict[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
    sheet_columns: Sequence[str] | None = None,
    row_numbers: Sequence[int] | None = None,
    ctx: ActionContext | None = None,
) -> DryRun:
    """Count the rows an import would insert, update and leave alone, and list every invalid
    cell, reading only. `rows` are keyed by the target's columns, as for the import;
    `mapping` (target column -> sheet header) and `sheet_columns` (the sheet's header, in
    order) give each problem its spreadsheet header and column letter, `row_numbers` (one a
    row, e.g. a loaded sheet's cells.ROW) its row.

    Raises ValidationFailed for an unknown table or rows of the wrong shape.
    """
    if table not in IMPORTS:
        raise ValidationFailed(f"table must be one of: {', '.join(IMPORTS)}")
    target = IMPORTS[table]
    clean, bad = _read(rows, target, row_numbers)
    mapping = dict(mapping or {})
    order = list(sheet_columns) if sheet_columns is not None else list(target.columns)

    def problem(b: _Bad) -> CellProblem:
        header = mapping.get(b.column, b.column)
        letter = column_letter(order.index(header)) if header in order else "?"
        return CellProblem(b.row, letter, header, b.expected, b.found)

    values = [row for _, row in clean]
    stored: dict[tuple[Any, ...], dict[str, Any]] = {}
    if values:
        ctx = ctx or current()
        engine = ctx.databases.get(target.db)
        if engine is None:
            raise ConfigError(f"No system of record named '{target.db}'")
        with engine.connect() as conn:
            if sa.inspect(conn).has_table(target.table.name):
                stored = _existing(conn, target, values)
    new, changed, unchanged = _sort(target, values, stored)
    return DryRun(table, len(new), len(changed), unchanged, tuple(problem(b) for b in bad))


def _validate_import(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"table", "rows", "row_numbers"})
    if not isinstance(p.get("table"), str | None):
        raise ValidationFailed("table must be the name of a table")
    table = v.choice(p, "table", IMPORTS)
    rows = check_rows(p.get("rows"), IMPORTS[table], p.get("row_numbers"))
    return {"table": table, "rows": rows}


def import_rows(call: Call, table: str, rows: list[dict[str, Any]]) -> Result:
    """Insert the rows with new keys and update those whose values changed, in one
    transaction with one audit row, or change nothing."""
    target = IMPORTS[table]
    t = target.table
    call.target(table)
    _ensure_table(call.ctx.db(target.db), target)
    stamp = {
        "imported_at": now_text(),
        "imported_by": call.actor.username,
        "import_request_id": call.request_id,
    }
    columns = list(rows[0])
    try:
        with call.transaction(target.db) as tx:
            new, changed, unchanged = _sort(target, rows, _existing(tx.conn, target, rows))
            if new:
                tx.execute(sa.insert(t), [{**row, **stamp} for row in new])
            if changed:
                update = (
                    sa.update(t)
                    .where(t.c.id == sa.bindparam("row_id"))
                    .values({c: sa.bindparam(f"new_{c}") for c in (*columns, *stamp)})
                )
                params = [
                    {"row_id": row_id, **{f"new_{c}": x for c, x in {**row, **stamp}.items()}}
                    for row_id, row in changed
                ]
                tx.execute(update, params)
            counts = {"new": len(new), "changed": len(changed), "unchanged": unchanged}
            tx.audit("ok", {"table": table, "rows": len(rows), **counts, "columns": columns})
            if new or changed:
                tx.notify(
                    events.import_changed(
                        table,
                        call.actor.username,
                        len(new),
                        len(changed),
                        unchanged,
                        call.request_id,
                    )
                )
    except sa.exc.IntegrityError:
        # The key's UNIQUE constraint: another import wrote some of these keys meanwhile.
        raise Conflict(
            f"Another import into {table} wrote some of these rows at the same time; "
            "nothing was imported. Run the dry run again."
        ) from None
    if not new and not changed:
        message = f"Nothing changed: all {len(rows):,} rows are already in {table}."
    else:
        message = (
            f"Imported {len(new) + len(changed):,} rows into {table}: {len(new):,} new, "
            f"{len(changed):,} changed, {unchanged:,} unchanged."
        )
    return call.result("ok", message, rows=len(rows), **counts)


ACTIONS = (
    Action(
        "sheet.import_rows",
        "table",
        _validate_import,
        import_rows,
        "Import spreadsheet rows into a database table by its key, all or nothing",
    ),
)
