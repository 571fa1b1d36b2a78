"""Spreadsheet cells checked against declared column types, and rows turned into Arrow tables.

No I/O here: the `sheet` source reads CSV, XLSX or Google Sheets rows and hands them over.
A cell arrives as text (CSV, Google Sheets) or as what an XLSX reader read (int, float, date,
datetime, bool); either way it is converted to its column's type or, when it does not fit,
becomes NULL and one CellProblem naming its spreadsheet address: a bad cell never blocks the
rest of the sheet. Only header problems (a declared column missing, a name twice) refuse it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from lib.access.masking import looks_like_raw_pii
from lib.errors import SheetInvalid

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
TYPES = tuple(ARROW_TYPES)

# Hidden column of a loaded sheet: each data row's spreadsheet row number (blank rows are
# skipped, so the load order alone cannot say it). lib.reading.catalog keeps it from readers.
ROW = "_row"
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

# What a CellProblem says each type wants.
EXPECTED = {
    "text": "text",
    "int": "a whole number",
    "float": "a number",
    "date": "a date (YYYY-MM-DD or YYYY-MM)",
    "bool": "true or false",
}
_INT_RANGE = "a whole number within ±9,223,372,036,854,775,807"


class CellInvalid(ValueError):
    """One cell does not fit its column's type; `problem` says how, quoting the cell."""

    def __init__(self, problem: str, expected: str | None = None) -> None:
        self.problem = problem
        self.expected = expected  # when more precise than the type's EXPECTED entry
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
            raise CellInvalid(f"{shown(value)} is too large for a whole-number column", _INT_RANGE)
        number = int(digits)
    else:
        raise CellInvalid(f"{shown(value)} is not a whole number")
    if not INT64_MIN <= number <= INT64_MAX:
        raise CellInvalid(f"{shown(value)} is too large for a whole-number column", _INT_RANGE)
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
        raise CellInvalid(f"{shown(value)} is not a finite number", "a finite number")
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


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "text": _as_text,
    "int": _as_int,
    "float": _as_float,
    "date": _as_date,
    "bool": _as_bool,
}


@dataclass(frozen=True)
class CellProblem:
    """One cell that does not fit its column's type, by its spreadsheet address."""

    row: int  # the spreadsheet's row number (header row = 1, first data row = 2)
    column: str  # the column letter: "A", "B", ..., "AA"
    header: str  # the column's header text
    expected: str  # what the column's type wants, e.g. "a whole number"
    found: str  # the cell as shown (`shown`); personal data replaced by "the value"

    @property
    def address(self) -> str:
        return f"{self.column}{self.row}"

    def __str__(self) -> str:
        return f"{self.address} ({self.header}): expected {self.expected}, found {self.found}"


def column_letter(index: int) -> str:
    """The spreadsheet's letters for a 0-based column index: 0 -> "A", 25 -> "Z", 26 -> "AA"."""
    if index < 0:
        raise ValueError(f"column index {index} is negative")
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _found(value: Any) -> str:
    # Problems are shown on pages and audited: a phone number or e-mail is not quoted.
    text = shown(value)
    return "the value" if looks_like_raw_pii(text) else text


class TableBuilder:
    """Data rows checked chunk by chunk into Arrow batches, so a big sheet is never held as
    Python cells all at once. `header` is the sheet's first row.

    `columns` maps declared column names to types (TYPES); every declared column must be in
    the header (else SheetInvalid on row 1), other named columns are kept as text, and
    columns with a blank header are dropped. Fully empty rows are skipped but counted.
    """

    def __init__(
        self,
        header: Sequence[Any],
        columns: Mapping[str, str],
        sheet: str = "sheet",
        *,
        strict: bool = False,
    ) -> None:
        for name, kind in columns.items():
            if kind not in ARROW_TYPES:
                raise ValueError(
                    f"column '{name}' has unknown type {kind!r}; use {', '.join(TYPES)}"
                )
        self.sheet, self.strict = sheet, strict  # strict: the first bad cell raises
        self.positions: dict[str, int] = {}
        seen = {ROW.casefold(): ROW}  # DuckDB's names ignore case: `Email`, `email` are one
        for index, cell in enumerate(header):
            name = _as_text(cell).strip() if not is_empty(cell) else ""
            if not name:
                continue
            twin = seen.setdefault(name.casefold(), name)
            if name in self.positions or twin != name or name == ROW:
                why = "the column name is reserved" if twin == ROW else f"'{twin}' and '{name}'"
                why += "" if twin == ROW else ": column appears more than once in the header"
                raise SheetInvalid(sheet, 1, name, f"{why} (case is ignored); rename the column")
            self.positions[name] = index
        for name in columns:
            if name not in self.positions:
                raise SheetInvalid(sheet, 1, name, "column is missing from the header")
        self.kinds = {name: columns.get(name, "text") for name in self.positions}
        self.problems: list[CellProblem] = []
        self.next_row = 2
        self._batches: list[pa.RecordBatch] = []
        fields = [(n, ARROW_TYPES[k]) for n, k in self.kinds.items()]
        self._schema = pa.schema([*fields, (ROW, pa.int64())])

    def check(
        self, rows: Iterable[Sequence[Any]], first_row: int | None = None
    ) -> dict[str, list[Any]]:
        """These data rows' values by column; `first_row` is the first one's row number
        (default: right after the previous chunk), kept in ROW. Bad cells become None and a
        problem."""
        row_number = self.next_row if first_row is None else first_row
        cols = [
            (n, i, _PARSERS[self.kinds[n]], column_letter(i)) for n, i in self.positions.items()
        ]
        values: dict[str, list[Any]] = {name: [] for name in (*self.positions, ROW)}
        for row in rows:
            if any(not is_empty(cell) for cell in row):
                values[ROW].append(row_number)
                width = len(row)
                for name, index, parse, letter in cols:
                    cell = row[index] if index < width else None
                    if is_empty(cell):
                        values[name].append(None)
                        continue
                    try:
                        values[name].append(parse(cell))
                    except CellInvalid as exc:
                        if self.strict:
                            raise SheetInvalid(self.sheet, row_number, name, exc.problem) from None
                        values[name].append(None)
                        expected = exc.expected or EXPECTED[self.kinds[name]]
                        self.problems.append(
                            CellProblem(row_number, letter, name, expected, _found(cell))
                        )
            row_number += 1
        self.next_row = row_number
        return values

    def add(self, rows: Iterable[Sequence[Any]], first_row: int | None = None) -> None:
        """Check these data rows (see `check`) and keep them as one Arrow batch."""
        values = self.check(rows, first_row)
        arrays = [pa.array(values[f.name], type=f.type) for f in self._schema]
        self._batches.append(pa.RecordBatch.from_arrays(arrays, schema=self._schema))

    def table(self) -> pa.Table:
        return pa.Table.from_batches(self._batches, schema=self._schema)


def check_rows(
    rows: Sequence[Sequence[Any]], columns: Mapping[str, str], *, sheet: str = "sheet"
) -> tuple[list[dict[str, Any]], list[CellProblem]]:
    """rows[0] is the header; every data cell parsed to its column's type; a bad cell becomes
    None and one CellProblem. Fully empty rows are skipped. Header problems (a declared
    column missing, a name twice) raise SheetInvalid with one line."""
    builder = TableBuilder(rows[0] if rows else (), columns, sheet)
    values = builder.check(rows[1:])
    values.pop(ROW)
    names = list(values)
    records = [dict(zip(names, cells, strict=True)) for cells in zip(*values.values(), strict=True)]
    return records, builder.problems


def read_table(
    rows: Iterable[Sequence[Any]], columns: Mapping[str, str], sheet: str
) -> tuple[pa.Table, list[CellProblem]]:
    """A typed Arrow table from a header row and data rows, and its cells' problems."""
    it = iter(rows)
    builder = TableBuilder(next(it, ()), columns, sheet)
    builder.add(it)
    return builder.table(), builder.problems


def rows_to_table(
    rows: Iterable[Sequence[Any]], columns: Mapping[str, str], sheet: str
) -> pa.Table:
    """Like `read_table`, for callers that must refuse a sheet with any bad cell: the first
    one raises SheetInvalid with its row number (header = row 1) and column name."""
    it = iter(rows)
    builder = TableBuilder(next(it, ()), columns, sheet, strict=True)
    builder.add(it)
    return builder.table()


_INFER_ORDER = ("bool", "int", "float", "date")


def _fits(value: Any, kind: str) -> bool:
    if kind == "bool":
        # 0 and 1 read as booleans, but a column of them is more likely a count: only words
        # (TRUE, yes, ...) or real boolean cells make a column bool.
        if isinstance(value, bool):
            return True
        return isinstance(value, str) and value.strip().lower() in (_TRUE | _FALSE) - {"0", "1"}
    try:
        _PARSERS[kind](value)
    except CellInvalid:
        return False
    return True


def infer_types(rows: Sequence[Sequence[Any]]) -> dict[str, str]:
    """header -> the narrowest of TYPES every non-empty cell of the column fits (bool, int,
    float, date, else text). rows[0] is the header; blank header cells are left out, and a
    name twice keeps its first column; a column with no value at all is text."""
    if not rows:
        return {}
    positions: dict[str, int] = {}
    for index, cell in enumerate(rows[0]):
        name = _as_text(cell).strip() if not is_empty(cell) else ""
        if name and name not in positions:
            positions[name] = index
    out: dict[str, str] = {}
    for name, index in positions.items():
        candidates = list(_INFER_ORDER)
        seen = False
        for row in rows[1:]:
            cell = row[index] if index < len(row) else None
            if is_empty(cell):
                continue
            seen = True
            candidates = [kind for kind in candidates if _fits(cell, kind)]
            if not candidates:
                break
        out[name] = candidates[0] if seen and candidates else "text"
    return out
