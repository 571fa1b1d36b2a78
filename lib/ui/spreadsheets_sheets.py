"""The Sheets section of the Spreadsheets page: every declared sheet of the `sheets` source
(kind, rows, columns and their declared types, freshness, a refresh), and one opened from
the list or the URL (`sheet`) as a typed, paged, sortable preview (a lib.ui.table_page
TablePage) with each bad cell by its spreadsheet address. A bad cell is empty in the
preview and listed below it; an unreachable sheet shows its one-line error. Columns named
like personal data are masked, as in an export (lib.access.masking.named_columns)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pandas as pd
import streamlit as st

from lib.access.masking import mask_named_columns, named_columns
from lib.access.principal import Principal
from lib.config import runtime
from lib.errors import BackofficeError, SourceUnavailable
from lib.reading import catalog
from lib.reading.engine import Engine
from lib.ui import table_page, url_state
from lib.ui.table_filters import Sort
from lib.ui.table_page import TablePage
from lib.ui.widgets import ago, escape_markdown, show_error

SOURCE = "sheets"
PARAM = "sheet"
PARAMS = (PARAM, "sort", "page")  # the URL parameters this section owns (the preview's too)
KEY = "spreadsheets_sheet"  # the "Open a sheet" selectbox
SEEDS = "spreadsheets_sheet_seeds"
NOTES = "spreadsheets_sheet_notes"
PREVIEW = "spreadsheets_preview_"  # + table: each sheet's TablePage keys
PAGE_SIZE = 20
XLSX_SUFFIXES = (".xlsx", ".xlsm")
# A directory in an error message: the server's layout is not the reader's business, the
# file's own name is enough to act on.
_DIRS = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\\/\s'\"]+[\\/])+")


@dataclass(frozen=True)
class Declared:
    """One `[sources.sheets.tables.<name>]` as configured."""

    name: str
    kind: str  # CSV, XLSX, Google Sheets
    where: str  # the file's name (and worksheet), or the Google worksheet
    columns: Mapping[str, str]  # declared column -> type


def kind_of(spec: Mapping[str, Any]) -> tuple[str, str]:
    """The sheet's kind and where it is read from, without the server's directories."""
    if spec.get("spreadsheet_key"):
        worksheet = spec.get("worksheet")
        return "Google Sheets", f"worksheet '{worksheet}'" if worksheet else "first worksheet"
    name = PurePath(str(spec.get("file") or "")).name
    suffix = PurePath(name).suffix.lower()
    if suffix == ".csv":
        return "CSV", name
    if suffix in XLSX_SUFFIXES:
        sheet = spec.get("sheet")
        return "XLSX", f"{name}, sheet '{sheet}'" if sheet else name
    return "unknown", name


def declared() -> list[Declared]:
    """The sheets the configuration declares, in its order; none without a `sheets` source."""
    source = next((s for s in runtime.settings().sources if s.name == SOURCE), None)
    if source is None:
        return []
    out = []
    for name, spec in (source.options.get("tables") or {}).items():
        if isinstance(spec, Mapping):
            kind, where = kind_of(spec)
            out.append(Declared(str(name), kind, where, dict(spec.get("columns") or {})))
    return out


def one_line(exc: BackofficeError) -> str:
    return _DIRS.sub("", str(exc))


def row_count(engine: Engine, table: str) -> int | None:
    try:
        return catalog.count(engine, SOURCE, table)
    except BackofficeError:
        return None


@dataclass(frozen=True)
class SheetListing:
    """One page of a loaded sheet, sorted by one of its columns (checked against the
    table's own), in one statement with its total; personal data masked."""

    table: str

    def fetch(
        self, params: Mapping[str, Any], sort: tuple[str, str], limit: int, offset: int
    ) -> tuple[pd.DataFrame, int]:
        engine = runtime.engine()
        df, total = catalog.page(engine, SOURCE, self.table, sort=sort, limit=limit, offset=offset)
        return mask_named_columns(df), total


def column_config(name: str, kind: str, masked: bool = False) -> Any:
    label = f"{name} ({kind})"
    if masked:  # its masked values are text, whatever its declared type
        return st.column_config.TextColumn(label)
    if kind == "int":
        return st.column_config.NumberColumn(label, format="%d")
    if kind == "float":
        return st.column_config.NumberColumn(label)
    if kind == "date":
        return st.column_config.DateColumn(label, format="YYYY-MM-DD")
    if kind == "bool":
        return st.column_config.CheckboxColumn(label)
    return st.column_config.TextColumn(label)


def preview_page(sheet: Declared, columns: list[str]) -> TablePage:
    """The sheet as a declared table page: its loaded columns, each sortable."""
    masked = named_columns(columns)
    return TablePage(
        name=PREVIEW + sheet.name,
        title=f"{sheet.name} ({sheet.kind})",
        listing=SheetListing(sheet.name),
        sort=Sort({c: c for c in columns}, (columns[0], "asc")),
        columns={c: column_config(c, sheet.columns.get(c, "text"), c in masked) for c in columns},
        records=lambda df: [{"id": i} for i in range(len(df))],
        selection=None,
        empty="This sheet has no data rows.",
        page_size=PAGE_SIZE,
        embedded=True,
    )


def table_errors_of(engine: Engine) -> dict[str, str]:
    """Each sheet that could not be read as last loaded -> its one line (no server
    directories); the other sheets still load (Engine.table_errors)."""
    try:
        found = engine.table_errors(SOURCE)
    except (AttributeError, BackofficeError):
        return {}
    return {table: _DIRS.sub("", reason) for table, reason in found.items()}


def _declaration_errors() -> None:
    """Declaration files the settings skipped (lib.config.sheet_declarations.merge): which
    file and why, so the admin can fix it; the other sheets and pages work meanwhile."""
    errors = getattr(runtime.settings(), "declaration_errors", None) or {}
    for path, reason in errors.items():
        st.warning(
            f"Declaration file {escape_markdown(PurePath(path).name)} is skipped: "
            f"{escape_markdown(_DIRS.sub('', reason))}. Fix or remove it (the [sheets] "
            "declarations folder); the other sheets are not affected.",
            icon=":material/warning:",
        )


def problems_of(engine: Engine) -> dict[str, list[Any]]:
    """Each table's bad cells as last loaded; none when the engine cannot say."""
    problems = getattr(engine, "problems", None)
    if problems is None:
        return {}
    try:
        return dict(problems(SOURCE))
    except BackofficeError:
        return {}


# --- the section -----------------------------------------------------------------------------


def _from_url(names: list[str]) -> str | None:
    raw = (st.query_params.get(PARAM) or "").strip()
    if raw and raw not in names:
        shown = url_state.quoted(raw)
        st.session_state[NOTES] = [f"Ignored sheet '{shown}' from the link: no such sheet."]
    return raw if raw in names else None


def _forget_paging() -> None:
    """Another sheet: its own sort and page, not the last sheet's."""
    for name in ("sort", "page"):
        if name in st.query_params:
            del st.query_params[name]


def _load(engine: Engine) -> str | None:
    """Load the source (once per TTL); the one-line error when it cannot be read."""
    try:
        engine.ensure(SOURCE)
    except BackofficeError as exc:
        return one_line(exc)
    return None


def _listing(
    sheets: list[Declared],
    error: str | None,
    problems: Mapping[str, list],
    unreadable: Mapping[str, str] | None = None,
) -> None:
    engine = runtime.engine()
    failed = next((s.name for s in sheets if error and f"table '{s.name}'" in error), None)
    rows = []
    for s in sheets:
        count = None if error else row_count(engine, s.name)
        if s.name == failed:
            state = "cannot be read (see above)"
        elif s.name in (unreadable or {}):
            state = f"cannot be read: {(unreadable or {})[s.name]}"
        elif count is None:
            state = "not loaded (see above)" if error else "not loaded"
        else:
            bad = len(problems.get(s.name, ()))
            state = f"{bad} bad cell{'s' if bad != 1 else ''}" if bad else "ok"
        rows.append(
            {
                "sheet": s.name,
                "kind": s.kind,
                "from": s.where,
                "rows": count,
                "columns": len(s.columns),
                "types": ", ".join(f"{c}: {t}" for c, t in s.columns.items()),
                "state": state,
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        key="spreadsheets_sheets_list",
        column_config={
            "rows": st.column_config.NumberColumn("rows", format="%d"),
            "columns": st.column_config.NumberColumn("columns", format="%d"),
        },
    )


def _freshness(engine: Engine) -> None:
    left, right = st.columns([5, 1], vertical_alignment="center")
    when = engine.refreshed_at([SOURCE])
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "not yet loaded"
    left.caption(f"Sheets read {stamp} ({ago(when)})")
    if right.button("Refresh", key="spreadsheets_sheets_refresh", icon=":material/refresh:"):
        with contextlib.suppress(BackofficeError):  # the error is shown above the list, once
            engine.refresh(SOURCE)
        st.rerun()


def _problems(sheet: Declared, problems: list[Any]) -> None:
    if not problems:
        return
    n = len(problems)
    st.warning(
        f"{n} cell{'s' if n != 1 else ''} of {escape_markdown(sheet.name)} do not fit their "
        "declared type: each is empty in the preview; the other cells and rows are shown.",
        icon=":material/warning:",
    )
    frame = pd.DataFrame(
        [
            {
                "cell": p.address,
                "row": p.row,
                "column": p.column,
                "header": p.header,
                "expected": p.expected,
                "found": p.found,
            }
            for p in problems
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch", key=f"{PREVIEW}{sheet.name}_problems")


def render(principal: Principal) -> None:
    engine = runtime.engine()
    _declaration_errors()
    sheets = declared()
    if not sheets:
        st.info("No sheets are declared (config: [sources.sheets.tables.<name>]).")
        return
    names = [s.name for s in sheets]
    start = url_state.entered(SEEDS, KEY, lambda: _from_url(names))
    for note in st.session_state.pop(NOTES, []):
        st.caption(escape_markdown(note))  # it quotes the URL
    error = _load(engine)
    if error:
        st.error(escape_markdown(error), icon=":material/error:")
    problems = {} if error else problems_of(engine)
    unreadable = {} if error else table_errors_of(engine)
    _freshness(engine)
    _listing(sheets, error, problems, unreadable)
    chosen = st.selectbox(
        "Open a sheet",
        [None, *names],
        index=[None, *names].index(start),
        key=KEY,
        format_func=lambda n: "Choose a sheet…" if n is None else n,
        on_change=_forget_paging,
    )
    url_state.write({PARAM: chosen})
    if chosen is None or error:
        return
    sheet = next(s for s in sheets if s.name == chosen)
    if sheet.name in unreadable:  # left out of the load: its reason, not a preview
        show_error(SourceUnavailable(SOURCE, f"table '{sheet.name}': {unreadable[sheet.name]}"))
        return
    try:
        columns = list(catalog.columns(engine, SOURCE, sheet.name))
    except BackofficeError:
        show_error(SourceUnavailable(SOURCE, f"table '{sheet.name}' is not loaded"))
        return
    if not columns:
        st.info("This sheet has no columns.")
        return
    table_page.render(preview_page(sheet, columns), principal)
    _problems(sheet, problems.get(sheet.name, []))
