"""The Connect section of the Spreadsheets page: an admin declares a new sheet without
editing files. Upload a CSV/XLSX or paste a Google Sheets link, name the table; the column
types are inferred from the data (one selectbox per column to correct them), every cell is
checked against them and each bad cell listed by its address; Save runs the audited action
`sheet.connect`, which writes the declaration beside the configuration.

Only for a role granted `sheet.connect` (deny by default): writing the configuration is a
write like any other. Nothing is written before Save, and a malformed file gets its one-line
reason instead of a form."""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.config import runtime
from lib.config import sheet_declarations as declarations
from lib.errors import BackofficeError, SheetInvalid, ValidationFailed
from lib.reading.sources import cells
from lib.reading.sources.sheet_upload import (
    UploadedSheet,
    UploadInvalid,
    parse_google_url,
    read_google,
    read_sheet,
)
from lib.ui import session_guard
from lib.ui.widgets import escape_markdown, show_error, show_result

ACTION = "sheet.connect"
PARAMS: tuple[str, ...] = ()  # no URL parameters (lib.ui.spreadsheets)
FROM = "connect_from"  # radio: upload or google
FILE = "connect_file"
WORKSHEET = "connect_worksheet"  # the XLSX worksheet (selectbox)
TITLE = "connect_google_worksheet"  # the Google worksheet's title (text)
URL = "connect_url"
READ = "connect_read"  # button: read the Google Sheet
GOOGLE = "connect_google"  # the Google Sheet read: (key, worksheet, UploadedSheet)
TABLE = "connect_table"
TYPE = "connect_type_"  # + column index: one selectbox per column
SOURCE_ID = "connect_source_id"  # what the type selectboxes were made for
SAVE = "connect_save"
DONE = "connect_done"  # the last save's message, shown after the form is reset
UPLOAD, GOOGLE_LINK = "Upload a CSV or XLSX file", "Google Sheets link"
SHOWN_PROBLEMS = 200
TYPE_LABELS = {
    "text": "text",
    "int": "whole number",
    "float": "number",
    "date": "date",
    "bool": "true/false",
}


def render(principal: Principal) -> None:
    st.subheader("Connect a sheet")
    if not policy.may_run(principal, ACTION):
        st.info("Connecting a sheet changes the configuration; your role may not do that.")
        return
    if done := st.session_state.pop(DONE, None):
        st.success(escape_markdown(done), icon=":material/check_circle:")
    settings = runtime.settings()
    limits = declarations.options(settings)
    choice = st.radio("From", (UPLOAD, GOOGLE_LINK), key=FROM, horizontal=True)
    sheet = _upload(limits) if choice == UPLOAD else _google(settings)
    if sheet is None:
        return
    source_id, kind, spec = sheet
    _form(principal, settings, source_id, kind, spec)


def _upload(limits: declarations.SheetOptions) -> tuple[str, str, dict[str, Any]] | None:
    file = st.file_uploader(
        f"CSV or XLSX, at most {limits.max_upload_bytes / 1_000_000:g} MB",
        type=["csv", "xlsx"],
        key=FILE,
    )
    if file is None:
        return None
    data = file.getvalue()
    chosen = st.session_state.get(WORKSHEET)
    try:
        read = _read(file.name, data, limits, chosen if isinstance(chosen, str) else None)
    except UploadInvalid as exc:
        if chosen is None:
            show_error(exc)
            return None
        st.session_state.pop(WORKSHEET, None)  # a worksheet of the previous file
        try:
            read = _read(file.name, data, limits, None)
        except UploadInvalid as again:
            show_error(again)
            return None
    if len(read.sheets) > 1:
        st.selectbox("Worksheet", read.sheets, key=WORKSHEET)
    kind = "xlsx" if read.sheet is not None else "csv"
    digest = hashlib.sha256(data).hexdigest()[:16]
    spec = {"filename": file.name, "data": data, "sheet": read.sheet, "rows": read.rows}
    return f"{digest}:{read.sheet}", kind, spec


def _read(
    name: str, data: bytes, limits: declarations.SheetOptions, sheet: str | None
) -> UploadedSheet:
    return read_sheet(
        name,
        data,
        max_bytes=limits.max_upload_bytes,
        timeout_s=limits.read_timeout_s,
        sheet=sheet,
    )


def _google(settings: Any) -> tuple[str, str, dict[str, Any]] | None:
    url = st.text_input("Google Sheets link", key=URL, placeholder="https://docs.google.com/…")
    title = st.text_input("Worksheet (blank: the one in the link, else the first)", key=TITLE)
    if st.button("Read the sheet", key=READ, icon=":material/cloud_download:"):
        st.session_state.pop(GOOGLE, None)
        try:
            key, gid = parse_google_url(url)
            cfg = settings.source(declarations.options(settings).source)
            read = read_google(cfg, key, gid, title.strip() or None)
        except (UploadInvalid, BackofficeError) as exc:
            show_error(exc)
            return None
        st.session_state[GOOGLE] = (key, read)
    held = st.session_state.get(GOOGLE)
    if held is None:
        st.caption("Paste the link, then read the sheet: its columns and types appear here.")
        return None
    key, read = held
    spec = {"spreadsheet_key": key, "worksheet": read.sheet, "rows": read.rows}
    return f"{key}:{read.sheet}", "google", spec


def default_table(spec: dict[str, Any]) -> str:
    """A table name from the file's name or the worksheet's title, as TABLE_NAME allows."""
    stem = PurePath(spec.get("filename") or "").stem or str(spec.get("worksheet") or "")
    name = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")
    if name and not name[0].isalpha():
        name = f"sheet_{name}"
    return name[:63] or "new_sheet"


def _form(
    principal: Principal, settings: Any, source_id: str, kind: str, spec: dict[str, Any]
) -> None:
    rows = spec["rows"]
    if st.session_state.get(SOURCE_ID) != source_id:
        # Another file or sheet: its types are inferred afresh, its name proposed afresh.
        for key in [k for k in st.session_state if str(k).startswith(TYPE)]:
            del st.session_state[key]
        st.session_state[SOURCE_ID] = source_id
        st.session_state[TABLE] = default_table(spec)
    table = st.text_input("Table name", key=TABLE, max_chars=63).strip()
    inferred = cells.infer_types(rows)
    st.caption(
        f"{len(rows) - 1:,} rows under the header. Types were inferred from the data; "
        "correct any that are wrong."
    )
    columns: dict[str, str] = {}
    grid = st.columns(min(4, max(1, len(inferred))))
    for index, (header, guess) in enumerate(inferred.items()):
        with grid[index % len(grid)]:
            columns[header] = st.selectbox(
                header,
                cells.TYPES,
                index=cells.TYPES.index(guess),
                key=f"{TYPE}{index}",
                format_func=lambda t: TYPE_LABELS.get(t, t),
            )
    try:
        _, problems = cells.check_rows(rows, columns)
    except SheetInvalid as exc:
        show_error(exc)
        return
    if problems:
        st.warning(
            f"{len(problems):,} cells do not fit their column's type; they will be empty in "
            "the table until the sheet is fixed.",
            icon=":material/warning:",
        )
        shown = problems[:SHOWN_PROBLEMS]
        st.dataframe(
            pd.DataFrame(
                {
                    "Cell": [p.address for p in shown],
                    "Column": [p.header for p in shown],
                    "Expected": [p.expected for p in shown],
                    "Found": [p.found for p in shown],
                }
            ),
            hide_index=True,
            key="connect_problems",
        )
    else:
        st.caption("Every cell fits its column's type.")
    try:
        declarations.check_table(settings, table)
    except ValidationFailed as exc:
        show_error(exc)
        return
    if st.button("Save the sheet", key=SAVE, type="primary", icon=":material/save:"):
        _save(principal, table, kind, columns, spec)


def _save(
    principal: Principal, table: str, kind: str, columns: dict[str, str], spec: dict[str, Any]
) -> None:
    params = {k: v for k, v in spec.items() if k != "rows" and v is not None}
    result = actions.run(
        ACTION, session_guard.actor(principal), table=table, kind=kind, columns=columns, **params
    )
    if not result.ok:
        show_result(result)
        return
    # The settings and the engine are made once per process: made again, they read the new
    # declaration, so the Sheets section lists the table and DuckDB loads it.
    runtime.settings.clear()
    runtime.engine.clear()
    for key in (FILE, URL, TITLE, GOOGLE, SOURCE_ID, TABLE, WORKSHEET):
        st.session_state.pop(key, None)
    st.session_state[DONE] = result.message
    st.rerun()
