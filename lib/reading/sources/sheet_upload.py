"""An uploaded CSV or XLSX file read into rows, and a Google Sheets link read into its key.

Used when an admin connects a sheet: the file comes from a browser, so it is limited in size,
read with a timeout, and refused with a one-line reason when it is malformed (broken zip,
not UTF-8, a formula cell, merged header cells, an empty sheet, an unknown extension).
Nothing here writes anything.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import io
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import gspread
import openpyxl
import requests
from openpyxl.utils.exceptions import InvalidFileException

from lib.errors import SheetInvalid
from lib.reading.sources import google_sheets
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.cells import is_empty

SUFFIXES = (".csv", ".xlsx")
MAX_GOOGLE_ROWS = 100_000  # data rows a connect reads from a Google Sheet (held in the page)
# An XLSX is a zip: a few MB can inflate to GBs. Refuse before openpyxl inflates it: the read
# thread cannot be stopped at the timeout, so what it may inflate is bounded instead.
MAX_INFLATION = 5  # times the upload limit
MAX_UNPACKED = 100_000_000  # bytes, whatever the limit
# The last few reads by content: the page reads an upload on every rerun and the action
# reads it again to check it; the same bytes give the same rows (or reason), parsed once.
CACHED = 3
_Key = tuple[str, str, str | None, int, float]
_reads: OrderedDict[_Key, UploadedSheet | UploadInvalid] = OrderedDict()
_reads_lock = threading.Lock()


class UploadInvalid(SheetInvalid):
    """A file or link that cannot be connected; str() is the one-line reason."""

    def __init__(self, name: str, reason: str) -> None:
        # SheetInvalid's fields for code that reads them; row 0: not one cell's fault.
        self.sheet, self.row, self.column, self.problem = name, 0, "", reason
        Exception.__init__(self, reason)


class _TimedOut(UploadInvalid):
    """A read past its deadline: not cached, since a busy server's timeout is not the file's."""


@dataclass(frozen=True)
class UploadedSheet:
    rows: list[list[Any]]  # header first
    sheet: str | None  # the XLSX worksheet read; None for CSV
    sheets: tuple[str, ...] = ()  # every worksheet of an XLSX


def suffix_of(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def read_upload(
    filename: str, data: bytes, *, max_bytes: int, timeout_s: float, sheet: str | None = None
) -> list[list[Any]]:
    """The rows of an uploaded CSV or XLSX (its first worksheet, or `sheet`), header first.

    Raises UploadInvalid (a SheetInvalid) with a one-line reason.
    """
    return read_sheet(filename, data, max_bytes=max_bytes, timeout_s=timeout_s, sheet=sheet).rows


def read_sheet(
    filename: str, data: bytes, *, max_bytes: int, timeout_s: float, sheet: str | None = None
) -> UploadedSheet:
    """read_upload, also saying which worksheet was read and which the workbook has."""
    name = PurePath(filename).name or "the file"
    suffix = suffix_of(name)
    if suffix not in SUFFIXES:
        raise UploadInvalid(name, f"{name}: upload a .csv or .xlsx file, not '{suffix or name}'")
    if len(data) > max_bytes:
        raise UploadInvalid(
            name, f"{name} is {_mb(len(data))}; the limit is {_mb(max_bytes)} per upload"
        )
    key = (hashlib.sha256(data).hexdigest(), name, sheet, max_bytes, timeout_s)
    with _reads_lock:
        known = _reads.get(key)
    if known is None:
        known = _parse(name, data, max_bytes, timeout_s, sheet)
        with _reads_lock:
            if not isinstance(known, _TimedOut):
                _reads[key] = known
            while len(_reads) > CACHED:
                _reads.popitem(last=False)
    if isinstance(known, UploadInvalid):
        raise UploadInvalid(name, str(known))  # a fresh one: no traceback piling up
    return known


def _parse(
    name: str, data: bytes, max_bytes: int, timeout_s: float, sheet: str | None
) -> UploadedSheet | UploadInvalid:
    """The file read, or why not (kept too, except a timeout: the next read may be quicker)."""
    reader = _csv if suffix_of(name) == ".csv" else _xlsx
    # A thread, so a pathological file cannot hold the page: the caller gets its answer at
    # the deadline (the read itself is abandoned, not killed; it only ever reads `data`, and
    # MAX_INFLATION / MAX_UNPACKED bound what it may inflate).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        result = pool.submit(reader, name, data, max_bytes, sheet).result(timeout=timeout_s)
        _check_not_empty(name, result.rows)
    except concurrent.futures.TimeoutError:
        return _TimedOut(name, f"{name} took longer than {timeout_s:g} s to read")
    except UploadInvalid as exc:
        return exc
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return result


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _csv(name: str, data: bytes, max_bytes: int, sheet: str | None) -> UploadedSheet:
    try:
        # utf-8-sig: Excel's "CSV UTF-8" begins with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadInvalid(
            name, f"{name} is not UTF-8 text (byte {exc.start + 1}); save it as CSV UTF-8"
        ) from None
    try:
        rows = [list(row) for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise UploadInvalid(name, f"{name} is not a readable CSV file: {exc}") from None
    return UploadedSheet(rows, None)


def _xlsx(name: str, data: bytes, max_bytes: int, sheet: str | None) -> UploadedSheet:
    broken = f"{name} is not a readable XLSX workbook (broken or not a zip file)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise UploadInvalid(name, broken) from None
    if inflated > min(MAX_INFLATION * max(max_bytes, 1), MAX_UNPACKED):
        raise UploadInvalid(name, f"{name} unpacks to {_mb(inflated)}: too large to read")
    try:
        # Not read-only and not data_only: merged ranges and formulas are only seen this way.
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, EOFError):
        raise UploadInvalid(name, broken) from None
    except Exception:  # noqa: BLE001 - any parser failure on foreign bytes is "unreadable"
        raise UploadInvalid(name, f"{name} could not be read as an XLSX workbook") from None
    titles = tuple(workbook.sheetnames)
    if sheet is not None and sheet not in titles:
        raise UploadInvalid(
            name, f"{name} has no worksheet '{sheet}' (it has: {', '.join(titles)})"
        )
    worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
    for merged in worksheet.merged_cells.ranges:
        if merged.min_row == 1:
            raise UploadInvalid(
                name, f"{name}: header cells {merged.coord} are merged; unmerge them"
            )
    rows: list[list[Any]] = []
    for row in worksheet.iter_rows():
        values = []
        for cell in row:
            if cell.data_type == "f":
                raise UploadInvalid(
                    name,
                    f"{name}: cell {cell.coordinate} holds a formula; "
                    "paste values only (Paste special → Values) and upload again",
                )
            values.append(cell.value)
        rows.append(values)
    return UploadedSheet(rows, worksheet.title, titles)


def _check_not_empty(name: str, rows: Sequence[Sequence[Any]]) -> None:
    filled = [row for row in rows if not all(is_empty(cell) for cell in row)]
    if not filled:
        raise UploadInvalid(name, f"{name}: the sheet is empty")
    if all(is_empty(cell) for cell in rows[0]):
        raise UploadInvalid(name, f"{name}: the first row must be the header, and it is empty")
    if len(filled) < 2:
        raise UploadInvalid(name, f"{name}: the sheet has a header but no data rows")


def parse_google_url(url: str) -> tuple[str, int | None]:
    """(spreadsheet key, worksheet gid or None) from a Google Sheets link or a bare key, as
    lib.reading.sources.google_sheets reads it. Raises UploadInvalid when it is neither."""
    try:
        return google_sheets.parse_google_url(url)
    except google_sheets.LinkInvalid as exc:
        raise UploadInvalid("link", str(exc)) from None


def read_google(
    cfg: SourceConfig,
    key: str,
    gid: int | None = None,
    worksheet: str | None = None,
    *,
    session: requests.Session | None = None,
    max_rows: int = MAX_GOOGLE_ROWS,
) -> UploadedSheet:
    """The rows of a Google Sheet's worksheet (by title, else by gid, else the first), read
    through the source's service account in ranges, at most `max_rows` data rows. Raises
    UploadInvalid with a one-line reason; a sheet the account may not open says what to
    share with whom."""
    who = google_sheets.service_account_email(cfg)
    share = (
        f"The service account cannot open spreadsheet {key}: share it with {who} "
        "(Viewer is enough) and try again."
        if who
        else f"The service account cannot open spreadsheet {key}: share it with the service "
        f"account named in the {cfg.name} source's service_account_json secret (its "
        "client_email; Viewer is enough) and try again."
    )
    backoff = google_sheets.Backoff.of(cfg)
    retrying = google_sheets.retrying
    try:
        client = google_sheets.client_for(cfg, session)
        try:
            spreadsheet = retrying(lambda: client.open_by_key(key), backoff)
            if worksheet:
                sheet = retrying(lambda: spreadsheet.worksheet(worksheet), backoff)
            elif gid is not None:
                sheet = retrying(lambda: spreadsheet.get_worksheet_by_id(gid), backoff)
            else:
                sheet = retrying(lambda: spreadsheet.sheet1, backoff)
            titles = tuple(w.title for w in retrying(spreadsheet.worksheets, backoff))
            rows = _google_rows(cfg, spreadsheet, sheet, backoff, max_rows)
        finally:
            if session is None:
                client.http_client.session.close()
    except (gspread.exceptions.SpreadsheetNotFound, PermissionError):
        raise UploadInvalid(key, share) from None
    except gspread.exceptions.WorksheetNotFound:
        which = f"'{worksheet}'" if worksheet else f"with gid {gid}"
        raise UploadInvalid(key, f"Spreadsheet {key} has no worksheet {which}") from None
    except UploadInvalid:
        raise
    except Exception as exc:
        if isinstance(exc, gspread.exceptions.APIError) and exc.code in (403, 404):
            raise UploadInvalid(key, share) from None
        reason = google_sheets.reason(cfg, exc, worksheet=worksheet)
        if reason is None:
            raise
        raise UploadInvalid(key, reason) from None
    _check_not_empty(f"Worksheet '{sheet.title}'", rows)
    return UploadedSheet(rows, sheet.title, titles)


def _google_rows(
    cfg: SourceConfig,
    spreadsheet: gspread.Spreadsheet,
    sheet: gspread.Worksheet,
    backoff: google_sheets.Backoff,
    max_rows: int,
) -> list[list[Any]]:
    """The worksheet's rows, header first, as wide as the header and padded to it (like
    get_all_values), read in ranges; refused past `max_rows` data rows."""
    rows: list[list[Any]] = []
    range_rows = int(cfg.options.get("range_rows", google_sheets.RANGE_ROWS))
    chunks = google_sheets.read_ranges(
        spreadsheet, sheet, range_rows=range_rows, backoff=backoff, max_rows=max_rows + 1
    )
    for start, chunk in chunks:
        if chunk:
            rows.extend([] for _ in range(start - 1 - len(rows)))  # empty rows Google left out
            rows.extend(chunk)
    if len(rows) - 1 > max_rows:
        raise UploadInvalid(
            sheet.title,
            f"Worksheet '{sheet.title}' has more than {max_rows:,} rows; "
            "connect a smaller sheet (or split it)",
        )
    width = len(rows[0]) if rows else 0
    return [[*row, *[""] * (width - len(row))] for row in rows]
