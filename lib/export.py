"""Files people download and open in a spreadsheet: every CSV and XLSX the app hands out.

A text cell that a spreadsheet would read as a formula (`=HYPERLINK(...)`, `+cmd|...`,
`@SUM(...)`, `-2+3`) is a way to attack whoever opens the file, and the text in these
exports is written by others: product names from sellers, reasons, spreadsheet headers.
So, following OWASP's CSV injection guidance, a text cell (or column name) starting with
`=`, `+`, `-`, `@`, a tab or a carriage return (or the full-width `＝＋－＠`, which some
spreadsheets read the same way) gets a leading apostrophe. Numbers stay numbers: a
negative amount held in a numeric column is not text and is written as it is.

    st.download_button("Download CSV", export.to_csv(frame), file_name="x.csv",
                       mime=export.CSV_MIME)

The tables' own CSV download (st.dataframe's toolbar) cannot be neutralised, so it is
turned off in .streamlit/config.toml (`client.disableDataExport`); this module is the one
way out. No Streamlit here: the report builders (lib.reports) use it too, and lib.ui.export
re-exports it for the pages.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIME = "application/pdf"


def neutralise(value: Any) -> Any:
    """A text value that cannot start a formula; anything that is not text as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot start a formula."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(neutralise, na_action="ignore")
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame) -> bytes:
    """The frame as CSV (RFC 4180: CRLF line ends, so a field holding a line break is quoted)
    in UTF-8 with a byte-order mark (so a spreadsheet reads Korean text as Korean), without
    the index, every text cell neutralised."""
    text = safe_frame(frame).to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def to_xlsx(frame: pd.DataFrame, sheet_name: str = "Sheet1") -> bytes:
    """The frame as an XLSX workbook, without the index, every text cell neutralised.

    Times with a time zone are written in UTC without it (XLSX has no time zones)."""
    out = safe_frame(frame)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet_name[:31], index=False)
    return buffer.getvalue()
