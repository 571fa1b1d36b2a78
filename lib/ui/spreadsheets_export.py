"""The Spreadsheets page's Export section: a list or a sheet out to XLSX or a Google Sheet.

Choose what (the Customers or Orders list, a declared sheet, or a demo combined view; `what` in
the URL), offered only when your role may open the page that shows it (export_data.exportables:
an analyst, who may not open /customers or /orders, is offered neither list), see its
first rows as they will leave (personal data masked except what your own active unmask
grants reveal on their records), then "Download XLSX" (lib.ui.export.to_xlsx: typed cells,
formulas neutralised) and, for a user who may run sheet.export where Google Sheets access is
configured, "Export to Google Sheet" (create or replace a worksheet) as one audited action.
"""

from __future__ import annotations

import streamlit as st

from lib.access import policy
from lib.access.principal import Principal
from lib.actions import context, export_data, run, sheet_export
from lib.config import runtime
from lib.errors import BackofficeError
from lib.ui import export, session_guard, url_state
from lib.ui.widgets import escape_markdown, show_error, show_result

PARAM = "what"
PARAMS = (PARAM,)  # the URL parameters this section owns (lib.ui.spreadsheets)
KEY = "export_what"
SEEDS = "export_seeds"
NOTES = "export_notes"
PREVIEW_ROWS = 20


def _from_url(options: list[str]) -> str:
    raw = (st.query_params.get(PARAM) or "").strip()
    if raw and raw not in options:
        st.session_state[NOTES] = [f"Ignored what '{url_state.quoted(raw)}' from the link."]
    return raw if raw in options else options[0]


def render(principal: Principal) -> None:
    st.subheader("Export")
    engine = runtime.engine()
    items = export_data.exportables(engine, principal)
    options = list(items)
    start = url_state.entered(SEEDS, KEY, lambda: _from_url(options))
    for note in st.session_state.pop(NOTES, []):
        st.caption(escape_markdown(note))
    if st.session_state.get(KEY) not in (None, *options):
        del st.session_state[KEY]
    what = st.selectbox(
        "What to export",
        options,
        index=options.index(start) if start in options else 0,
        key=KEY,
        format_func=lambda name: items[name].label,
    )
    url_state.write({PARAM: what})
    item = items[what]
    ctx = context.current()
    try:
        with st.spinner("Reading…"):
            raw = export_data.read(engine, item)
            granted = export_data.grants(ctx.audit, principal)
    except BackofficeError as exc:
        show_error(exc)
        return
    if len(raw) > export_data.MAX_ROWS:
        st.warning(f"{item.label} has over {export_data.MAX_ROWS:,} rows: too many to export.")
        return
    frame, unmasked = export_data.masked(raw, item, granted)
    frame = export_data.typed(frame, item)
    shown = f"{unmasked:,} rows show what your unmask grants reveal" if unmasked else "masked"
    st.caption(
        f"{len(frame):,} rows × {len(frame.columns)} columns; the first {PREVIEW_ROWS} below. "
        f"Personal data: {shown}."
    )
    st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True, key="export_preview")
    st.download_button(
        "Download XLSX",
        export.to_xlsx(frame, sheet_name=what.replace(".", "_")),
        file_name=f"{what.replace('.', '_')}.xlsx",
        mime=export.XLSX_MIME,
        icon=":material/download:",
        key="export_xlsx",
    )
    google_section(principal, what)


def google_section(principal: Principal, source: str, key: str = "export", **extra: object) -> None:
    """The "Export to Google Sheet" form of `source` (sheet.export, with `extra` parameters, a
    combination's choices) for a user who may run it where Google Sheets access is configured,
    then the last export's result. `key` prefixes the widget keys (the Combine section's
    form is its own)."""
    if (
        policy.may_run(principal, "sheet.export")
        and sheet_export.target_of(context.current()) is not None
    ):
        _form(principal, source, key, extra)
    result = st.session_state.pop(f"{key}_result", None)
    if result is not None:
        show_result(result)
        if result.ok:
            st.success(escape_markdown(result.message), icon=":material/check_circle:")


def _form(principal: Principal, source: str, key: str, extra: dict[str, object]) -> None:
    with st.form(f"{key}_google"):
        st.markdown("**Export to Google Sheet**")
        spreadsheet = st.text_input(
            "Spreadsheet link or key",
            key=f"{key}_spreadsheet",
            help="Share the spreadsheet with the service account as an editor first.",
        )
        worksheet = st.text_input("Worksheet name", key=f"{key}_worksheet")
        mode = st.radio(
            "If the worksheet exists",
            sheet_export.MODES,
            format_func=lambda m: "Refuse (create it)" if m == "create" else "Replace it",
            key=f"{key}_mode",
            horizontal=True,
        )
        submitted = st.form_submit_button("Export to Google Sheet", icon=":material/upload:")
    if submitted:
        with st.spinner("Writing to Google Sheets…"):
            st.session_state[f"{key}_result"] = run(
                "sheet.export",
                session_guard.actor(principal),
                source=source,
                spreadsheet=spreadsheet,
                worksheet=worksheet,
                mode=mode,
                **extra,
            )
