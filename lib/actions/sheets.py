"""Spreadsheet import: rows into a database table, every cell checked, all or nothing.

Only the tables declared in IMPORTS can be written, each with its columns' types (those of
lib.reading.sources.cells, so a cell is read exactly as the spreadsheet pages read it). Every row is
checked before anything is written; the first bad cell is named like a spreadsheet names it
(the header is row 1, the first data row is row 2). The rows then go in in one transaction.
Each imported row carries the request id of its import, which its audit row also has.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lib.access.masking import looks_like_raw_pii
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import ValidationFailed
from lib.reading.sources.cells import CellInvalid, is_empty, parse_cell, shown
from lib.records.schema import now_text

MAX_ROWS = 50_000  # one transaction; a larger sheet is imported in parts

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
    """A table rows may be imported into: its database, columns {name: cell type} and the
    columns a row must fill."""

    db: str
    table: sa.Table
    columns: Mapping[str, str]
    required: frozenset[str]


def _importable(db: str, name: str, columns: dict[str, str], required: set[str]) -> Importable:
    table = sa.Table(
        name,
        imports,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(sa.Column(c, _SQL_TYPES[k], nullable=c not in required) for c, k in columns.items()),
        sa.Column("imported_at", sa.Text, nullable=False),
        sa.Column("imported_by", sa.Text, nullable=False),
        sa.Column("import_request_id", sa.Text, nullable=False, index=True),
    )
    return Importable(db, table, dict(columns), frozenset(required))


# The same columns as the spreadsheets these tables are filled from (config/backoffice.toml).
IMPORTS: dict[str, Importable] = {
    "marketing_spend": _importable(
        "shop",
        "marketing_spend",
        {"month": "date", "channel": "text", "spend_krw": "int", "clicks": "int", "signups": "int"},
        {"month", "channel", "spend_krw"},
    ),
    "store_sales": _importable(
        "shop",
        "store_sales",
        {"month": "date", "store": "text", "revenue_krw": "int", "orders": "int"},
        {"month", "store", "revenue_krw"},
    ),
}

# Engines known to hold a table already (checked once per engine and table).
_created: dict[str, weakref.WeakSet[sa.Engine]] = {name: weakref.WeakSet() for name in IMPORTS}


def _ensure_table(engine: sa.Engine, target: Importable) -> None:
    seen = _created[target.table.name]
    if engine not in seen:
        imports.create_all(engine, tables=[target.table], checkfirst=True)
        seen.add(engine)


def _problem(exc: CellInvalid, cell: Any) -> str:
    """The cell's problem, without quoting it if it holds contact details (it is audited)."""
    if looks_like_raw_pii(exc.problem):
        return exc.problem.replace(shown(cell), "the value")
    return exc.problem


def check_rows(rows: Any, target: Importable) -> list[dict[str, Any]]:
    """Every row read into its columns' types; fully empty rows are skipped (but counted).

    Raises ValidationFailed naming the first bad cell's row (header = row 1) and column.
    """
    if not isinstance(rows, list | tuple) or not rows:
        raise ValidationFailed("rows is required: a list of rows (column -> value)")
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(f"rows: at most {MAX_ROWS:,} per import")
    names = ", ".join(target.columns)
    clean: list[dict[str, Any]] = []
    for row_number, row in enumerate(rows, start=2):
        if not isinstance(row, Mapping):
            raise ValidationFailed(f"row {row_number}: expected column -> value")
        unknown = [k for k in row if k not in target.columns]
        if unknown:
            header = shown(unknown[0])
            raise ValidationFailed(
                f"row {row_number}, column {'?' if looks_like_raw_pii(header) else header}: "
                f"not a column of {target.table.name} ({names})"
            )
        if all(is_empty(cell) for cell in row.values()):
            continue
        values: dict[str, Any] = {}
        for column, kind in target.columns.items():
            cell = row.get(column)
            try:
                value = parse_cell(cell, kind)
            except CellInvalid as exc:
                raise ValidationFailed(
                    f"row {row_number}, column '{column}': {_problem(exc, cell)}"
                ) from None
            if value is None and column in target.required:
                raise ValidationFailed(f"row {row_number}, column '{column}': a value is required")
            values[column] = value
        clean.append(values)
    if not clean:
        raise ValidationFailed("rows: every row is empty")
    return clean


def _validate_import(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"table", "rows"})
    if not isinstance(p.get("table"), str | None):
        raise ValidationFailed("table must be the name of a table")
    table = v.choice(p, "table", IMPORTS)
    return {"table": table, "rows": check_rows(p.get("rows"), IMPORTS[table])}


def import_rows(call: Call, table: str, rows: list[dict[str, Any]]) -> Result:
    """Insert every row into `table` in one transaction, or none of them."""
    target = IMPORTS[table]
    call.target(table)
    _ensure_table(call.ctx.db(target.db), target)
    stamp = now_text()
    stamped = [
        {
            **row,
            "imported_at": stamp,
            "imported_by": call.actor.username,
            "import_request_id": call.request_id,
        }
        for row in rows
    ]
    with call.transaction(target.db) as tx:
        tx.execute(sa.insert(target.table), stamped)
        tx.audit("ok", {"table": table, "rows": len(rows), "columns": list(target.columns)})
    return call.result("ok", f"Imported {len(rows):,} rows into {table}.", rows=len(rows))


ACTIONS = (
    Action(
        "sheet.import_rows",
        "table",
        _validate_import,
        import_rows,
        "Import spreadsheet rows into a database table, all or nothing",
    ),
)
