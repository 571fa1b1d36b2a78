"""The `sheet` kind: tables from CSV files, XLSX worksheets and Google Sheets, every cell checked.

Config (one `[sources.<name>]` table, kind = "sheet"):

    base_dir = "..."                       # optional; relative files resolve against it
    service_account_json_secret = "gcp"    # Google Sheets: the service account key (JSON text)
    sheets_api_url = "http://127.0.0.1:P"  # optional; another Sheets v4 endpoint (a local fake)
    timeout = 30                           # optional; seconds per Google Sheets request
    range_rows = 5000                      # optional; rows per Google Sheets values request
    retries = 5                            # optional; tries of a request answered 429
    retry_base_s = 1.0                     # optional; first backoff wait, doubled each try
    tables.sales = { file = "sales.csv", columns = { month = "date", amount = "int" } }
    tables.stores = { file = "stores.xlsx", sheet = "Sales", columns = { ... } }
    tables.budget = { spreadsheet_key = "1AbC...", worksheet = "Sheet1", columns = { ... } }

Column types are those of lib.reading.sources.cells.TYPES. A cell that does not fit is NULL
and one CellProblem (`load(...).problems`); a table whose header does not fit, or whose file
or spreadsheet cannot be read, is left out with its one-line reason (`load(...).errors`) and
the other tables still load. Rows are checked in chunks:
CSV streams CHUNK_ROWS rows at a time, and Google Sheets is read `range_rows` rows a request.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gspread
import pyarrow as pa
import requests
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, PasswordError

from lib.errors import SheetInvalid, SourceUnavailable
from lib.reading.sources import google_sheets
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.cells import TYPES, CellProblem, TableBuilder

# Google access lives in lib.reading.sources.google_sheets; these stay importable from here.
from lib.reading.sources.google_sheets import (  # noqa: F401
    GOOGLE_SHEETS_API,
    READ_SCOPES,
    WRITE_SCOPES,
    RebasedSession,
    client_for,
)

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CHUNK_ROWS = 5000  # file rows checked at a time
RANGE_ROWS = google_sheets.RANGE_ROWS


class SheetTables(dict[str, pa.Table]):
    """The loaded tables by name, `problems`: each table's bad cells (NULL in the table), and
    `errors`: each table that could not be read -> its one-line reason (not in the dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: dict[str, list[CellProblem]] = {}
        self.errors: dict[str, str] = {}


def load(cfg: SourceConfig, session: requests.Session | None = None) -> SheetTables:
    """Every configured table as a typed Arrow table (text, int64, float64, date32, bool).

    A cell that does not fit its column is NULL and one CellProblem in `.problems[table]`.
    Each table is read on its own: one that cannot be read (a header that does not fit, a
    missing or broken file, a spreadsheet not shared) is left out, its reason in
    `.errors[table]`. `session`, if given, carries the Google Sheets calls (tests).
    Raises SourceUnavailable when no table is configured or none could be read (a single
    table: its own SheetInvalid or SourceUnavailable).
    """
    specs: Mapping[str, Mapping[str, Any]] = cfg.options.get("tables") or {}
    if not specs:
        raise SourceUnavailable(cfg.name, "no tables configured")
    base_dir = Path(str(cfg.options.get("base_dir") or "."))
    google = _GoogleReader(cfg, session)
    tables = SheetTables()
    failures: list[SheetInvalid | SourceUnavailable] = []
    try:
        for name, spec in specs.items():
            try:
                tables[name], tables.problems[name] = _table(cfg, name, spec, base_dir, google)
            except (SheetInvalid, SourceUnavailable) as exc:
                failures.append(exc)
                tables.errors[name] = _table_reason(exc, name)
    finally:
        google.close()
    if failures and not tables:
        if len(failures) == 1:
            raise failures[0]
        table, reason = next(iter(tables.errors.items()))
        raise SourceUnavailable(cfg.name, f"no table could be read; '{table}': {reason}")
    return tables


def _table(
    cfg: SourceConfig, name: str, spec: Mapping[str, Any], base_dir: Path, google: _GoogleReader
) -> tuple[pa.Table, list[CellProblem]]:
    columns = _declared_columns(cfg, name, spec)
    if spec.get("file"):
        return _file_table(cfg, name, spec, base_dir, columns)
    if spec.get("spreadsheet_key"):
        return google.table(name, spec, columns)
    raise SourceUnavailable(cfg.name, f"table '{name}' needs `file` or `spreadsheet_key`")


def _table_reason(exc: SheetInvalid | SourceUnavailable, name: str) -> str:
    """The one line a table's error says, without the source and table it is listed under."""
    if isinstance(exc, SourceUnavailable):
        return re.sub(rf"^table '{re.escape(name)}'(?::|,)? ", "", exc.reason)
    return str(exc)


def _declared_columns(cfg: SourceConfig, name: str, spec: Mapping[str, Any]) -> dict[str, str]:
    columns = dict(spec.get("columns") or {})
    for column, kind in columns.items():
        if kind not in TYPES:
            raise SourceUnavailable(
                cfg.name,
                f"table '{name}', column '{column}': unknown type {kind!r} "
                f"(use {', '.join(TYPES)})",
            )
    return columns


def _chunked(rows: Iterable[Sequence[Any]], builder: TableBuilder) -> tuple[pa.Table, list]:
    """Rows (header first) checked CHUNK_ROWS at a time: only one chunk is Python cells."""
    it = iter(rows)
    while chunk := list(itertools.islice(it, CHUNK_ROWS)):
        builder.add(chunk)
    return builder.table(), builder.problems


def _file_table(
    cfg: SourceConfig, name: str, spec: Mapping[str, Any], base_dir: Path, columns: dict[str, str]
) -> tuple[pa.Table, list[CellProblem]]:
    written = str(spec["file"])
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as f:
                # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark that must not
                # end up in the first column's name. The csv module, not DuckDB's or pandas'
                # reader: every cell goes through cells' parsers anyway (declared types, "1,250"
                # and "2025-06"), and it streams (bench/sheets.py measures the three).
                rows = csv.reader(f)
                builder = TableBuilder(next(rows, ()), columns, f"{name} ({written})")
                return _chunked(rows, builder)
        if suffix in XLSX_SUFFIXES:
            sheet = spec.get("sheet")
            label = f"{name} ({written}, sheet '{sheet}')" if sheet else f"{name} ({written})"
            return _xlsx_table(cfg, name, path, sheet, columns, label)
    except FileNotFoundError:
        raise SourceUnavailable(cfg.name, f"table '{name}': file not found: {path}") from None
    except IsADirectoryError:
        raise SourceUnavailable(cfg.name, f"table '{name}': {path} is a directory") from None
    except PermissionError:
        raise SourceUnavailable(
            cfg.name, f"table '{name}': cannot read {path}: permission denied"
        ) from None
    except UnicodeDecodeError:
        raise SourceUnavailable(
            cfg.name, f"table '{name}': {path} is not UTF-8 text (save the CSV as UTF-8)"
        ) from None
    except PasswordError:
        raise SourceUnavailable(
            cfg.name, f"table '{name}': {path} is password-protected; save it without a password"
        ) from None
    except CalamineError:  # a broken zip or broken XML inside it
        raise SourceUnavailable(
            cfg.name, f"table '{name}': {path} is not an XLSX workbook"
        ) from None
    except (OSError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise SourceUnavailable(cfg.name, f"table '{name}': cannot read {path}: {reason}") from None
    raise SourceUnavailable(
        cfg.name, f"table '{name}': {written} is neither .csv nor .xlsx, so it cannot be read"
    )


def _xlsx_table(
    cfg: SourceConfig,
    name: str,
    path: Path,
    sheet: str | None,
    columns: dict[str, str],
    label: str,
) -> tuple[pa.Table, list[CellProblem]]:
    # python-calamine (Rust) reads a 50,000-row sheet about 8x faster than openpyxl in
    # read-only mode for about the same peak memory (bench/sheets.py); cells come as the same
    # Python types (date, float, bool, str), and formula cells as their cached values.
    workbook = CalamineWorkbook.from_path(str(path))
    try:
        if sheet is not None and sheet not in workbook.sheet_names:
            raise SourceUnavailable(
                cfg.name,
                f"table '{name}': {path.name} has no sheet '{sheet}' "
                f"(it has: {', '.join(workbook.sheet_names)})",
            )
        worksheet = (
            workbook.get_sheet_by_name(sheet)
            if sheet is not None
            else workbook.get_sheet_by_index(0)
        )
        rows = _from_column_a(worksheet)
        return _chunked(rows, TableBuilder(next(rows, ()), columns, label))
    finally:
        workbook.close()


def _from_column_a(worksheet: CalamineSheet) -> Iterator[list[Any]]:
    """The sheet's rows as from A1, so that addresses are the spreadsheet's: calamine (0.9)
    starts its rows at row 1 but its columns at the first one used."""
    if worksheet.start is None:  # an empty sheet
        return
    pad = [None] * worksheet.start[1]
    for row in worksheet.iter_rows():
        yield pad + row


class _GoogleReader:
    """Google Sheets reads for one load: one client, each spreadsheet opened once, values read
    in ranges of `range_rows` rows (header first), each request retried on a 429."""

    def __init__(self, cfg: SourceConfig, session: requests.Session | None) -> None:
        self.cfg = cfg
        self.session = session
        self.client: gspread.Client | None = None
        self.spreadsheets: dict[str, gspread.Spreadsheet] = {}
        self.backoff = google_sheets.Backoff.of(cfg)
        self.range_rows = max(1, int(cfg.options.get("range_rows", RANGE_ROWS)))

    def table(
        self, name: str, spec: Mapping[str, Any], columns: dict[str, str]
    ) -> tuple[pa.Table, list[CellProblem]]:
        key = str(spec["spreadsheet_key"])
        title = spec.get("worksheet")
        label = f"{name} (Google Sheet, worksheet '{title}')" if title else f"{name} (Google Sheet)"
        if self.client is None:
            self.client = client_for(self.cfg, self.session)
        client = self.client
        retrying = google_sheets.retrying
        try:
            if key not in self.spreadsheets:
                self.spreadsheets[key] = retrying(lambda: client.open_by_key(key), self.backoff)
            spreadsheet = self.spreadsheets[key]
            worksheet = retrying(
                lambda: spreadsheet.worksheet(str(title)) if title else spreadsheet.sheet1,
                self.backoff,
            )
            chunks = google_sheets.read_ranges(
                spreadsheet, worksheet, range_rows=self.range_rows, backoff=self.backoff
            )
            _, header = next(chunks)
            builder = TableBuilder(header[0] if header else (), columns, label)
            for start, rows in chunks:
                builder.add(rows, start)
            return builder.table(), builder.problems
        except Exception as exc:
            reason = google_sheets.reason(self.cfg, exc, worksheet=title)
            if reason is None or isinstance(exc, SourceUnavailable):
                raise
            raise SourceUnavailable(self.cfg.name, f"table '{name}': {reason}") from exc

    def close(self) -> None:
        if self.client is not None and self.session is None:
            self.client.http_client.session.close()
