"""The dashboard as an XLSX workbook: a Summary sheet, then one sheet per chart's data.

Numbers are written as numbers with a number format (₩ #,##0, 0.0%), dates as dates, so the
workbook sorts and sums like any other. Every text cell goes through lib.export's
neutralise (a product name or reason starting with "=" must not run as a formula).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from lib.dashboard.model import CHARTS, DashboardData, Kpi
from lib.export import neutralise, safe_frame
from lib.reports import render

KRW = '"₩"#,##0'
COUNT = "#,##0"
PERCENT = "0.0%"
CHANGE = "+0.0%;-0.0%;0.0%"
RATIO = "#,##0.00"
HOURS = "#,##0.0"
DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm"
UNIT_FORMATS = {"krw": KRW, "count": COUNT, "percent": PERCENT, "ratio": RATIO, "hours": HOURS}
HEAD_FONT = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="E8EEF5")
TITLE_FONT = Font(bold=True, size=14)
# Column names of the chart frames -> heading and number format.
COLUMNS: dict[str, tuple[str, str | None]] = {
    "period": ("Period", DATE),
    "month": ("Month", DATE),
    "segment": ("Segment", None),
    "method": ("Payment method", None),
    "category": ("Reason", None),
    "orders": ("Orders", COUNT),
    "refunds": ("Refunds", COUNT),
    "revenue_krw": ("Revenue (₩)", KRW),
    "spend_krw": ("Marketing spend (₩)", KRW),
    "refunded_krw": ("Refunded (₩)", KRW),
    "share": ("Share", PERCENT),
}


def cell_value(value: Any) -> Any:
    """A value openpyxl writes typed: numbers, dates and datetimes (UTC, no zone) as they
    are, missing values empty, text neutralised."""
    if value is None or (
        pd.api.types.is_scalar(value) and not isinstance(value, str) and pd.isna(value)
    ):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date | bool | int | float):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return cell_value(value.item())
    return neutralise(str(value))


def fit_columns(ws: Worksheet, minimum: int = 8, maximum: int = 60) -> None:
    """Each column as wide as its longest shown value (numbers with their separators)."""
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            if isinstance(cell.value, datetime):
                length = 16
            elif isinstance(cell.value, date):
                length = 10
            elif isinstance(cell.value, int | float):
                length = len(f"{cell.value:,.0f}") + 3
            else:
                length = len(str(cell.value))
            if cell.font is not None and cell.font.sz and cell.font.sz > 12:
                continue  # the title spans columns; it must not widen the first one
            widths[cell.column] = max(widths.get(cell.column, 0), length)
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(
            max(width + 2, minimum), maximum
        )


def write_table(
    ws: Worksheet,
    top: int,
    headings: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Sequence[str | None],
) -> int:
    """A header row at `top` and the rows under it, each column with its number format;
    returns the next free row."""
    for col, heading in enumerate(headings, start=1):
        cell = ws.cell(top, col, neutralise(heading))
        cell.font, cell.fill = HEAD_FONT, HEAD_FILL
    r = top
    for r, values in enumerate(rows, start=top + 1):
        for col, (value, fmt) in enumerate(zip(values, formats, strict=True), start=1):
            cell = ws.cell(r, col, cell_value(value))
            if fmt and cell.value is not None and not isinstance(cell.value, str):
                cell.number_format = fmt
    return r + 1


def kpi_row(kpi: Kpi) -> list[Any]:
    return [kpi.label, kpi.value, kpi.previous, kpi.change, kpi.note or None]


def summary_sheet(ws: Worksheet, data: DashboardData) -> None:
    ws.title = "Summary"
    ws["A1"] = neutralise(render.title(data))
    ws["A1"].font = TITLE_FONT
    f = data.filters
    lines: list[tuple[str, Any, str | None]] = [
        ("From", f.date_from, DATE),
        ("To", f.date_to, DATE),
    ]
    lines += [(label, words, None) for label, words in render.filter_lines(data)]
    fresh = data.refreshed_at
    lines.append(("Data as of (UTC)", fresh if fresh else "not known", DATETIME))
    for r, (label, value, fmt) in enumerate(lines, start=3):
        ws.cell(r, 1, label).font = HEAD_FONT
        cell = ws.cell(r, 2, cell_value(value))
        if fmt and not isinstance(cell.value, str):
            cell.number_format = fmt
        cell.alignment = Alignment(horizontal="left")
    top = 3 + len(lines) + 1
    headings = ["KPI", "Value", "Previous period", "Change", "Note"]
    for r, kpi in enumerate(data.kpis, start=top + 1):
        fmt = UNIT_FORMATS.get(kpi.unit, RATIO)
        for col, (value, number_format) in enumerate(
            zip(kpi_row(kpi), [None, fmt, fmt, CHANGE, None], strict=True), start=1
        ):
            cell = ws.cell(r, col, cell_value(value))
            if number_format and cell.value is not None:
                cell.number_format = number_format
    for col, heading in enumerate(headings, start=1):
        cell = ws.cell(top, col, heading)
        cell.font, cell.fill = HEAD_FONT, HEAD_FILL


def chart_sheet(ws: Worksheet, key: str, frame: pd.DataFrame) -> None:
    frame = safe_frame(frame) if not frame.empty else frame
    originals = list(frame.columns)
    headings, formats = [], []
    for name in originals:
        heading, fmt = COLUMNS.get(str(name).lstrip("'"), (str(name), None))
        if fmt is None and pd.api.types.is_numeric_dtype(frame[name]):
            fmt = COUNT if pd.api.types.is_integer_dtype(frame[name]) else RATIO
        if fmt is None and pd.api.types.is_datetime64_any_dtype(frame[name]):
            fmt = DATE
        headings.append(heading)
        formats.append(fmt)
    rows = frame.itertuples(index=False, name=None)
    write_table(ws, 1, headings, rows, formats)
    ws.freeze_panes = "A2"


def sheet_title(key: str) -> str:
    return CHARTS.get(key, key)[:31]


def dashboard_xlsx(data: DashboardData) -> bytes:
    """The workbook: "Summary" (title, filters in words, freshness, the comparison period,
    each KPI's value, previous and change), then one sheet per chart in data.charts."""
    wb = Workbook()
    summary = wb.active
    summary_sheet(summary, data)
    fit_columns(summary)
    for key, frame in data.charts.items():
        ws = wb.create_sheet(sheet_title(key))
        chart_sheet(ws, key, frame)
        fit_columns(ws)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
