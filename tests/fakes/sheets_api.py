"""A local fake of the Google Sheets v4 API: enough of it for gspread 6.2 to open a
spreadsheet by key, pick a worksheet by title, read its values and append rows.

The store is the fake's whole state, shared with the test that made it:

    store = {"<spreadsheet id>": {"<worksheet title>": [["header", ...], [cell, ...], ...]}}

Appends change `store` in place, so a test can see what reached the "spreadsheet".
Unknown ids answer 404 and unreadable ranges 400, both in Google's error shape.

Rate limits: `create_app(store, fail_first=N, retry_after=S)` answers the first N requests
429 RESOURCE_EXHAUSTED (with a Retry-After header if S is given); a test can also set
`app.state.fail_next` later. `fail_writes=N` (or `app.state.fail_writes`) answers the next N
writes (any request but a GET) 429 the same way, while reads go through.
`app.state.ranges` lists every values range read, in order.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tests.fakes.sheets_api_writes import add_write_routes

Grid = list[list[Any]]
# Row start, row end, column start, column end: 0-based, end exclusive, None = unbounded.
Bounds = tuple[int, int | None, int, int | None]

_A1 = re.compile(r"([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?")
_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
}


def google_error(code: int, message: str, status: str | None = None) -> JSONResponse:
    """An error response shaped like Google's, which gspread's APIError parses."""
    status = status or _STATUS.get(code, "UNKNOWN")
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code
    )


class _Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        self.code, self.message = code, message


def create_app(
    store: dict[str, dict[str, Grid]],
    *,
    fail_first: int = 0,
    retry_after: float | None = None,
    fail_writes: int = 0,
) -> FastAPI:
    """The fake API over `store` (see the module docstring for its shape and the 429s)."""
    app = FastAPI(title="fake Google Sheets v4")
    lock = threading.Lock()
    app.state.fail_next = fail_first
    app.state.fail_writes = fail_writes
    app.state.ranges = []

    @app.middleware("http")
    async def _rate_limit(request: Request, call_next: Any) -> Any:
        with lock:
            limited = app.state.fail_next > 0
            if limited:
                app.state.fail_next -= 1
            elif request.method != "GET" and app.state.fail_writes > 0:
                limited = True
                app.state.fail_writes -= 1
        if not limited:
            return await call_next(request)
        answer = google_error(429, "Quota exceeded for quota metric 'Read requests'.")
        if retry_after is not None:
            answer.headers["Retry-After"] = f"{retry_after:g}"
        return answer

    @app.exception_handler(_Fail)
    async def _failed(request: Request, exc: _Fail) -> JSONResponse:
        return google_error(exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return google_error(exc.status_code, str(exc.detail))

    def sheets_of(spreadsheet_id: str) -> dict[str, Grid]:
        if spreadsheet_id not in store:
            raise _Fail(404, "Requested entity was not found.")
        return store[spreadsheet_id]

    @app.get("/v4/spreadsheets/{spreadsheet_id}")
    def get_spreadsheet(spreadsheet_id: str) -> dict[str, Any]:
        with lock:
            sheets = sheets_of(spreadsheet_id)
            return {
                "spreadsheetId": spreadsheet_id,
                "properties": {
                    "title": spreadsheet_id,
                    "locale": "en_US",
                    "timeZone": "Asia/Seoul",
                },
                "sheets": [
                    {"properties": _sheet_properties(index, title, rows)}
                    for index, (title, rows) in enumerate(sheets.items())
                ],
                "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet_id}/edit",
            }

    @app.get("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}")
    def get_values(
        spreadsheet_id: str,
        range_: str,
        majorDimension: str = "ROWS",  # noqa: N803 - Google's parameter names
        valueRenderOption: str = "FORMATTED_VALUE",  # noqa: N803
    ) -> dict[str, Any]:
        with lock:
            app.state.ranges.append(range_)
            sheets = sheets_of(spreadsheet_id)
            title, (r0, r1, c0, c1) = _parse_range(range_, sheets)
            rows = [row[c0:c1] for row in sheets[title][r0:r1]]
            formatted = valueRenderOption == "FORMATTED_VALUE"
            values = _trimmed([[_render(v, formatted) for v in row] for row in rows])
        if majorDimension == "COLUMNS":
            width = max((len(row) for row in values), default=0)
            values = _trimmed(
                [[row[i] if i < len(row) else "" for row in values] for i in range(width)]
            )
        body: dict[str, Any] = {
            "range": _a1_label(title, r0, r1 or len(rows) + r0, c0, c1),
            "majorDimension": majorDimension,
        }
        if values:  # like Google: no "values" key at all for an empty range
            body["values"] = values
        return body

    @app.post("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}:append")
    async def append_values(spreadsheet_id: str, range_: str, request: Request) -> dict[str, Any]:
        payload = await request.json()
        new_rows = payload.get("values") or []
        if "valueInputOption" not in request.query_params:
            raise _Fail(400, "'valueInputOption' is required but not specified")
        with lock:
            sheets = sheets_of(spreadsheet_id)
            title, (_, _, c0, _) = _parse_range(range_, sheets)
            grid = sheets[title]
            used = len(_trimmed([list(row) for row in grid]))
            del grid[used:]  # append goes right after the last row that has data
            start = len(grid)
            for row in new_rows:
                grid.append([""] * c0 + list(row))
            width = max((len(row) for row in new_rows), default=0)
            updated = _a1_label(title, start, start + len(new_rows), c0, c0 + width)
            return {
                "spreadsheetId": spreadsheet_id,
                "tableRange": _a1_label(title, 0, start, c0, c0 + width) if start else None,
                "updates": {
                    "spreadsheetId": spreadsheet_id,
                    "updatedRange": updated,
                    "updatedRows": len(new_rows),
                    "updatedColumns": width,
                    "updatedCells": sum(len(row) for row in new_rows),
                },
            }

    add_write_routes(app, store, lock)  # values update/clear, batchUpdate (exports)
    return app


def _sheet_properties(index: int, title: str, rows: Grid) -> dict[str, Any]:
    width = max((len(row) for row in rows), default=0)
    return {
        "sheetId": index,
        "title": title,
        "index": index,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": max(1000, len(rows)), "columnCount": max(26, width)},
    }


def _split_title(range_: str) -> tuple[str | None, str]:
    """("Sheet1", "A1:B2") from "'Sheet1'!A1:B2", "Sheet1!A1:B2" or "'Sheet1'"."""
    if range_.startswith("'"):
        i, title = 1, []
        while i < len(range_):
            if range_[i] == "'":
                if range_[i + 1 : i + 2] == "'":  # '' is an escaped quote
                    title.append("'")
                    i += 2
                    continue
                rest = range_[i + 1 :]
                return "".join(title), rest[1:] if rest.startswith("!") else rest
            title.append(range_[i])
            i += 1
        return None, range_
    if "!" in range_:
        title, _, a1 = range_.partition("!")
        return title, a1
    return None, range_


def _parse_range(range_: str, sheets: dict[str, Grid]) -> tuple[str, Bounds]:
    title, a1 = _split_title(range_)
    if title is None and a1 in sheets:  # a bare title names the whole sheet
        title, a1 = a1, ""
    if title is None:  # bare A1 notation means the first sheet
        title = next(iter(sheets), None)
    match = _A1.fullmatch(a1)
    if title not in sheets or match is None:
        raise _Fail(400, f"Unable to parse range: {range_}")
    col0, row0, col1, row1 = match.groups()
    single = match.group(0) and ":" not in a1
    r0 = int(row0) - 1 if row0 else 0
    c0 = _column_index(col0) if col0 else 0
    if single:  # "B2" is one cell, "B" one column, "2" one row
        r1 = r0 + 1 if row0 else None
        c1 = c0 + 1 if col0 else None
    else:
        r1 = int(row1) if row1 else None
        c1 = _column_index(col1) + 1 if col1 else None
    return str(title), (r0, r1, c0, c1)


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + (ord(ch) - ord("A") + 1)
    return index - 1


def _column_letters(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _a1_label(title: str, r0: int, r1: int, c0: int, c1: int | None) -> str:
    quoted = "'" + title.replace("'", "''") + "'"
    end_col = _column_letters((c1 or 26) - 1)
    return f"{quoted}!{_column_letters(c0)}{r0 + 1}:{end_col}{max(r1, r0 + 1)}"


def _render(value: Any, formatted: bool) -> Any:
    """A cell as the API returns it: text when FORMATTED_VALUE, else numbers stay numbers."""
    if value is None:
        return ""
    if not formatted:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _trimmed(rows: Grid) -> Grid:
    """Like Google: trailing empty cells of each row and trailing empty rows are left out."""
    out: Grid = []
    for row in rows:
        row = list(row)
        while row and row[-1] in ("", None):
            row.pop()
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out
