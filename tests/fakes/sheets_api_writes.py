"""The fake Sheets v4 API's writes, as gspread 6.2 sends them for export:

- PUT  /v4/spreadsheets/{id}/values/{range}?valueInputOption=...   (Worksheet.update)
- POST /v4/spreadsheets/{id}/values/{range}:clear                 (Worksheet.clear)
- POST /v4/spreadsheets/{id}:batchUpdate with addSheet (Spreadsheet.add_worksheet),
  deleteSheet (del_worksheet) and updateSheetProperties (Worksheet.resize, freeze, title)

Cells land in the same `store` the reads serve ({id: {title: grid}}). USER_ENTERED is read
as Sheets reads typed input: a quote prefix keeps the text after it as text, ISO dates and
times become `date` and `datetime`, numeric text a number, TRUE/FALSE a boolean; JSON
numbers and booleans stay as they are. RAW keeps every value as sent. A sheet's id is its
position, as the reads report it.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?")


def user_entered(value: Any) -> Any:
    """A cell as Sheets stores what a user typed (valueInputOption USER_ENTERED)."""
    if not isinstance(value, str):
        return value
    if value.startswith("'"):
        return value[1:]
    if _DATE.fullmatch(value):
        return date.fromisoformat(value)
    if _DATETIME.fullmatch(value):
        return datetime.fromisoformat(value)
    if _NUMBER.fullmatch(value):
        number = float(value)
        return int(number) if "." not in value else number
    if value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    return value


def add_write_routes(app: FastAPI, store: dict[str, dict[str, Any]], lock: threading.Lock) -> None:
    """Add the write endpoints to the fake `app` over its `store`, under its `lock`."""
    # Imported here: tests.fakes.sheets_api imports this module to wire it in.
    from tests.fakes.sheets_api import _a1_label, _parse_range, google_error

    def sheets_of(spreadsheet_id: str) -> dict[str, Any] | None:
        return store.get(spreadsheet_id)

    @app.put("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}")
    async def update_values(spreadsheet_id: str, range_: str, request: Request) -> Any:
        option = request.query_params.get("valueInputOption")
        if option not in ("RAW", "USER_ENTERED"):
            return google_error(400, "'valueInputOption' is required but not specified")
        payload = await request.json()
        values = payload.get("values") or []
        if (payload.get("majorDimension") or "ROWS") != "ROWS":
            return google_error(400, "the fake takes majorDimension ROWS only")
        with lock:
            sheets = sheets_of(spreadsheet_id)
            if sheets is None:
                return google_error(404, "Requested entity was not found.")
            try:
                title, (r0, _, c0, _) = _parse_range(range_, sheets)
            except Exception:
                return google_error(400, f"Unable to parse range: {range_}")
            grid = sheets[title]
            for i, row in enumerate(values):
                while len(grid) <= r0 + i:
                    grid.append([])
                target = grid[r0 + i]
                for j, cell in enumerate(row):
                    while len(target) <= c0 + j:
                        target.append("")
                    target[c0 + j] = user_entered(cell) if option == "USER_ENTERED" else cell
            width = max((len(row) for row in values), default=0)
            return {
                "spreadsheetId": spreadsheet_id,
                "updatedRange": _a1_label(title, r0, r0 + len(values), c0, c0 + width),
                "updatedRows": len(values),
                "updatedColumns": width,
                "updatedCells": sum(len(row) for row in values),
            }

    @app.post("/v4/spreadsheets/{spreadsheet_id}/values/{range_:path}:clear")
    def clear_values(spreadsheet_id: str, range_: str) -> Any:
        with lock:
            sheets = sheets_of(spreadsheet_id)
            if sheets is None:
                return google_error(404, "Requested entity was not found.")
            try:
                title, (r0, r1, c0, c1) = _parse_range(range_, sheets)
            except Exception:
                return google_error(400, f"Unable to parse range: {range_}")
            for row in sheets[title][r0:r1]:
                for j in range(c0, len(row) if c1 is None else min(c1, len(row))):
                    row[j] = ""
            return {"spreadsheetId": spreadsheet_id, "clearedRange": range_}

    @app.post("/v4/spreadsheets/{spreadsheet_id}:batchUpdate")
    async def batch_update(spreadsheet_id: str, request: Request) -> Any:
        payload = await request.json()
        with lock:
            sheets = sheets_of(spreadsheet_id)
            if sheets is None:
                return google_error(404, "Requested entity was not found.")
            replies: list[dict[str, Any]] = []
            for item in payload.get("requests") or []:
                reply = _apply(sheets, item)
                if isinstance(reply, JSONResponse):
                    return reply
                replies.append(reply)
            return {"spreadsheetId": spreadsheet_id, "replies": replies}

    def _apply(sheets: dict[str, Any], item: dict[str, Any]) -> Any:
        titles = list(sheets)
        if "addSheet" in item:
            props = item["addSheet"].get("properties") or {}
            title = str(props.get("title") or f"Sheet{len(titles) + 1}")
            if title in sheets:
                return google_error(
                    400,
                    f'Invalid requests[0].addSheet: A sheet with the name "{title}" already '
                    "exists. Please enter another name.",
                )
            sheets[title] = []
            grid = props.get("gridProperties") or {}
            return {
                "addSheet": {
                    "properties": {
                        "sheetId": len(titles),
                        "title": title,
                        "index": len(titles),
                        "sheetType": "GRID",
                        "gridProperties": {
                            "rowCount": int(grid.get("rowCount", 1000)),
                            "columnCount": int(grid.get("columnCount", 26)),
                        },
                    }
                }
            }
        if "deleteSheet" in item:
            sheet_id = int(item["deleteSheet"].get("sheetId", -1))
            if not 0 <= sheet_id < len(titles):
                return google_error(400, f"No grid with id: {sheet_id}")
            del sheets[titles[sheet_id]]
            return {}
        if "updateSheetProperties" in item:
            props = item["updateSheetProperties"].get("properties") or {}
            sheet_id = int(props.get("sheetId", 0))
            if not 0 <= sheet_id < len(titles):
                return google_error(400, f"No grid with id: {sheet_id}")
            title = titles[sheet_id]
            grid_props = props.get("gridProperties") or {}
            rows, cols = grid_props.get("rowCount"), grid_props.get("columnCount")
            grid = sheets[title]
            if rows is not None:  # Sheets drops what lies outside the new size
                del grid[int(rows) :]
            if cols is not None:
                for row in grid:
                    del row[int(cols) :]
            new_title = props.get("title")
            if new_title and new_title != title:
                renamed = {(new_title if t == title else t): g for t, g in sheets.items()}
                sheets.clear()
                sheets.update(renamed)
            return {}
        return google_error(400, f"the fake does not do {', '.join(item)}")
