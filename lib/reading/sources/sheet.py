"""The `sheet` kind: tables from CSV files, XLSX worksheets and Google Sheets, every cell checked.

Config (one `[sources.<name>]` table, kind = "sheet"):

    base_dir = "..."                       # optional; relative files resolve against it
    service_account_json_secret = "gcp"    # Google Sheets: the service account key (JSON text)
    sheets_api_url = "http://127.0.0.1:P"  # optional; another Sheets v4 endpoint (a local fake)
    timeout = 30                           # optional; seconds per Google Sheets request
    tables.sales = { file = "sales.csv", columns = { month = "date", amount = "int" } }
    tables.stores = { file = "stores.xlsx", sheet = "Sales", columns = { ... } }
    tables.budget = { spreadsheet_key = "1AbC...", worksheet = "Sheet1", columns = { ... } }

Column types are those of lib.reading.sources.cells.TYPES. A cell that does not fit raises
SheetInvalid; a file or spreadsheet that cannot be read raises SourceUnavailable.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
import gspread
import openpyxl
import pyarrow as pa
import requests
from openpyxl.utils.exceptions import InvalidFileException

from lib.errors import SourceUnavailable
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.cells import TYPES, rows_to_table

GOOGLE_SHEETS_API = "https://sheets.googleapis.com"
READ_SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
XLSX_SUFFIXES = (".xlsx", ".xlsm")


class RebasedSession(requests.Session):
    """A session that sends requests meant for Google's Sheets API to `base_url` instead.

    gspread copies its URLs at import, so rewriting them here, where every call passes,
    is the one place a self-hosted or fake Sheets v4 endpoint can be put in.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(GOOGLE_SHEETS_API):
            url = self.base_url + url[len(GOOGLE_SHEETS_API) :]
        return super().request(method, url, *args, **kwargs)


def client_for(
    cfg: SourceConfig, session: requests.Session | None = None, *, write: bool = False
) -> gspread.Client:
    """A gspread client for this source: through `session` if given, else to
    `sheets_api_url` if configured, else signed in with the service account secret.

    Raises SourceUnavailable when no usable credentials are configured.
    """
    if session is None and cfg.options.get("sheets_api_url"):
        session = RebasedSession(str(cfg.options["sheets_api_url"]))
    if session is not None:
        client = gspread.Client(auth=None, session=session)
    else:
        client = _service_account_client(cfg, WRITE_SCOPES if write else READ_SCOPES)
    client.set_timeout(float(cfg.options.get("timeout", 30)))
    return client


def _service_account_client(cfg: SourceConfig, scopes: Sequence[str]) -> gspread.Client:
    raw = cfg.secrets.get("service_account_json")
    if not raw:
        raise SourceUnavailable(
            cfg.name, "no Google service account configured (service_account_json_secret)"
        )
    # `from None` below: the parsers' exceptions can quote the key text, which must not
    # reach a traceback or a log.
    try:
        info = json.loads(raw)
    except ValueError:
        raise SourceUnavailable(
            cfg.name, "the service_account_json secret is not valid JSON"
        ) from None
    try:
        return gspread.service_account_from_dict(info, scopes=list(scopes))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SourceUnavailable(
            cfg.name, "the service_account_json secret is not a service account key"
        ) from None


def load(cfg: SourceConfig, session: requests.Session | None = None) -> dict[str, pa.Table]:
    """Every configured table as a typed Arrow table (text, int64, float64, date32, bool).

    `session`, if given, carries the Google Sheets calls (tests, self-hosted endpoints).
    Raises SheetInvalid for the first cell or header that does not fit its declared
    columns, SourceUnavailable when a file or spreadsheet cannot be read.
    """
    specs: Mapping[str, Mapping[str, Any]] = cfg.options.get("tables") or {}
    if not specs:
        raise SourceUnavailable(cfg.name, "no tables configured")
    base_dir = Path(str(cfg.options.get("base_dir") or "."))
    google = _GoogleReader(cfg, session)
    tables: dict[str, pa.Table] = {}
    try:
        for name, spec in specs.items():
            columns = _declared_columns(cfg, name, spec)
            if spec.get("file"):
                rows, label = _file_rows(cfg, name, spec, base_dir)
            elif spec.get("spreadsheet_key"):
                rows, label = google.rows(name, spec)
            else:
                raise SourceUnavailable(
                    cfg.name, f"table '{name}' needs `file` or `spreadsheet_key`"
                )
            tables[name] = rows_to_table(rows, columns, sheet=label)
    finally:
        google.close()
    return tables


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


def _file_rows(
    cfg: SourceConfig, name: str, spec: Mapping[str, Any], base_dir: Path
) -> tuple[list[Sequence[Any]], str]:
    written = str(spec["file"])
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _csv_rows(path), f"{name} ({written})"
        if suffix in XLSX_SUFFIXES:
            sheet = spec.get("sheet")
            label = f"{name} ({written}, sheet '{sheet}')" if sheet else f"{name} ({written})"
            return _xlsx_rows(cfg, name, path, sheet), label
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
    except (zipfile.BadZipFile, InvalidFileException):
        raise SourceUnavailable(
            cfg.name, f"table '{name}': {path} is not an XLSX workbook"
        ) from None
    except (OSError, csv.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise SourceUnavailable(cfg.name, f"table '{name}': cannot read {path}: {reason}") from None
    raise SourceUnavailable(
        cfg.name, f"table '{name}': {written} is neither .csv nor .xlsx, so it cannot be read"
    )


def _csv_rows(path: Path) -> list[Sequence[Any]]:
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark that must not end up in
    # the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def _xlsx_rows(cfg: SourceConfig, name: str, path: Path, sheet: str | None) -> list[Sequence[Any]]:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise SourceUnavailable(
                cfg.name,
                f"table '{name}': {path.name} has no sheet '{sheet}' "
                f"(it has: {', '.join(workbook.sheetnames)})",
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        # Some writers store a wrong size ("A1") in the file; read-only mode would trust it
        # and silently return one cell. Forgetting it makes openpyxl read every row.
        worksheet.reset_dimensions()
        return list(worksheet.iter_rows(values_only=True))
    finally:
        workbook.close()  # read-only mode keeps the file open until closed


class _GoogleReader:
    """Google Sheets reads for one load: one client, each spreadsheet opened once."""

    def __init__(self, cfg: SourceConfig, session: requests.Session | None) -> None:
        self.cfg = cfg
        self.session = session
        self.client: gspread.Client | None = None
        self.spreadsheets: dict[str, gspread.Spreadsheet] = {}

    def rows(self, name: str, spec: Mapping[str, Any]) -> tuple[list[Sequence[Any]], str]:
        key = str(spec["spreadsheet_key"])
        title = spec.get("worksheet")
        label = f"{name} (Google Sheet, worksheet '{title}')" if title else f"{name} (Google Sheet)"
        if self.client is None:
            self.client = client_for(self.cfg, self.session)
        try:
            if key not in self.spreadsheets:
                self.spreadsheets[key] = self.client.open_by_key(key)
            spreadsheet = self.spreadsheets[key]
            worksheet = spreadsheet.worksheet(str(title)) if title else spreadsheet.sheet1
            return worksheet.get_all_values(), label
        except Exception as exc:
            reason = self._reason(exc, title)
            if reason is None:
                raise
            raise SourceUnavailable(self.cfg.name, f"table '{name}': {reason}") from exc

    def _reason(self, exc: Exception, title: Any) -> str | None:
        """One line for a failure that is the spreadsheet's or the network's; None for a bug."""
        if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
            return "spreadsheet not found, or not shared with the service account"
        if isinstance(exc, PermissionError):  # gspread's open_by_key turns a 403 into this
            return "no permission to open the spreadsheet; share it with the service account"
        if isinstance(exc, gspread.exceptions.WorksheetNotFound):
            return f"the spreadsheet has no worksheet '{title}'"
        if isinstance(exc, gspread.exceptions.APIError):
            status = exc.error.get("status", "")
            message = " ".join(str(exc.error.get("message", "")).split())[:100]
            return f"Google Sheets API error {exc.code} {status}: {message}".rstrip(": ")
        if isinstance(exc, requests.Timeout):
            return f"Google Sheets API timed out after {self.cfg.options.get('timeout', 30)} s"
        if isinstance(exc, requests.ConnectionError):
            return f"cannot connect to the Google Sheets API ({self._host()})"
        if isinstance(exc, requests.RequestException):
            return f"Google Sheets API request failed ({type(exc).__name__})"
        if isinstance(exc, google.auth.exceptions.GoogleAuthError):
            # Its message can carry token-endpoint details; the class name is enough to act on.
            return f"Google sign-in with the service account failed ({type(exc).__name__})"
        return None

    def _host(self) -> str:
        url = self.cfg.options.get("sheets_api_url") or GOOGLE_SHEETS_API
        parts = urlsplit(str(url))
        # hostname/port, not netloc: a URL may carry user:password@.
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    def close(self) -> None:
        if self.client is not None and self.session is None:
            self.client.http_client.session.close()
