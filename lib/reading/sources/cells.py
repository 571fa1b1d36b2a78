"""Spreadsheet cells checked against declared column types, and rows turned into Arrow tables.

No I/O here: the `sheet` source reads CSV, XLSX or Google Sheets rows and hands them over.
A cell arrives as text (CSV, Google Sheets) or as what openpyxl read (int, float, date,
datetime, bool); either way it is converted to its column's type or refused with a
problem a person can act on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from lib.errors import SheetInvalid

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
TYPES = tuple(ARROW_TYPES)

SHOWN_CHARS = 40  # a problem quotes the cell, but a pasted paragraph must not flood the message
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# "1,234,567": commas only where they group thousands, so "12,5" (a decimal comma) is refused
# rather than read as 125.
# re.ASCII: \d would also match "١٢" (Arabic-Indic digits), which int() then accepts.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
_INT = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"\d{4}-\d{2}")
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class CellInvalid(ValueError):
    """One cell does not fit its column's type; `problem` says how, quoting the cell."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


def shown(value: Any) -> str:
    """The cell as a problem quotes it: one line, at most SHOWN_CHARS characters, in quotes."""
    text = " ".join(_as_text(value).split())
    if len(text) > SHOWN_CHARS:
        text = text[: SHOWN_CHARS - 1] + "…"
    return f"'{text}'"


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_cell(value: Any, kind: str) -> Any:
    """`value` converted to the Python value of column type `kind`; None for an empty cell.

    Raises CellInvalid when the cell cannot be read as that type, and ValueError for a
    `kind` that is not one of TYPES.
    """
    if is_empty(value):
        return None
    if kind == "text":
        return _as_text(value)
    if kind == "int":
        return _as_int(value)
    if kind == "float":
        return _as_float(value)
    if kind == "date":
        return _as_date(value)
    if kind == "bool":
        return _as_bool(value)
    raise ValueError(f"unknown column type {kind!r}; use one of {', '.join(TYPES)}")


def _as_text(value: Any) -> str:
    # Extra columns from XLSX keep the look a person saw, not Python's repr of the value.
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _ungrouped(text: str) -> str:
    return text.replace(",", "") if _GROUPED.fullmatch(text) else text


def _as_int(value: Any) -> int:
    if isinstance(value, bool):  # bool is an int subclass: TRUE in a count column is a mistake
        raise CellInvalid(f"{shown(value)} is not a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise CellInvalid(f"{shown(value)} is not a whole number")
        number = int(value)
    elif isinstance(value, str) and _INT.fullmatch(text := _ungrouped(value.strip())):
        digits = text.split(".")[0]
        # Checked before int(): Python refuses to parse thousands of digits at all.
        if len(digits.lstrip("+-")) > 19:
            raise CellInvalid(f"{shown(value)} is too large for a whole-number column")
        number = int(digits)
    else:
        raise CellInvalid(f"{shown(value)} is not a whole number")
    if not INT64_MIN <= number <= INT64_MAX:
        raise CellInvalid(f"{shown(value)} is too large for a whole-number column")
    return number


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise CellInvalid(f"{shown(value)} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _FLOAT.fullmatch(text := _ungrouped(value.strip())):
        number = float(text)
    else:  # also "nan", "inf" and error cells such as "#DIV/0!"
        raise CellInvalid(f"{shown(value)} is not a number")
    if not math.isfinite(number):
        raise CellInvalid(f"{shown(value)} is not a finite number")
    return number


def _as_date(value: Any) -> date:
    # datetime is a date subclass: check it first. An XLSX date cell arrives as a datetime.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if _ISO_DATE.fullmatch(text):
                return date.fromisoformat(text)
            if _ISO_MONTH.fullmatch(text):
                return date.fromisoformat(text + "-01")
        except ValueError:
            pass  # e.g. 2026-02-30: same message as any other text
    raise CellInvalid(f"{shown(value)} is not a date (expected YYYY-MM-DD or YYYY-MM)")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise CellInvalid(f"{shown(value)} is not true or false")


def rows_to_table(
    rows: Iterable[Sequence[Any]], columns: Mapping[str, str], sheet: str
) -> pa.Table:
    """An Arrow table from a header row and data rows, every cell checked.

    `columns` maps declared column names to types (TYPES); every declared column must be in
    the header, other named columns are kept as text, and columns with a blank header are
    dropped. Fully empty rows are skipped. The first problem raises SheetInvalid, with row
    numbers counted as the spreadsheet does (header = row 1).
    """
    for name, kind in columns.items():
        if kind not in ARROW_TYPES:
            raise ValueError(f"column '{name}' has unknown type {kind!r}; use {', '.join(TYPES)}")
    it = iter(rows)
    header = [_as_text(cell).strip() if not is_empty(cell) else "" for cell in next(it, ())]

    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        if not name:
            continue
        if name in positions:
            raise SheetInvalid(sheet, 1, name, "column appears more than once in the header")
        positions[name] = index
    for name in columns:
        if name not in positions:
            raise SheetInvalid(sheet, 1, name, "column is missing from the header")

    kinds = {name: columns.get(name, "text") for name in positions}
    values: dict[str, list[Any]] = {name: [] for name in positions}
    for row_number, row in enumerate(it, start=2):
        if all(is_empty(cell) for cell in row):
            continue
        for name, index in positions.items():
            cell = row[index] if index < len(row) else None
            try:
                values[name].append(parse_cell(cell, kinds[name]))
            except CellInvalid as exc:
                raise SheetInvalid(sheet, row_number, name, exc.problem) from None
    return pa.table(
        {name: pa.array(values[name], type=ARROW_TYPES[kinds[name]]) for name in positions}
    )
