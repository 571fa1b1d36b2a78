"""The Spreadsheets page: one page, its sections chosen by a segmented control kept in the
URL as `section`. Each section is a module lib.ui.spreadsheets_<section> with
`render(principal)`, imported only when chosen; a section is offered when its module exists
and the principal may run the action it is for (config/policy.toml, lib.actions).

Each section declares the URL parameters it owns (`PARAMS`); a link keeps only the open
section's. When the section changes, the previous one's parameters are all removed before
the new one reads the URL: two sections may use one name (Sheets and Import: `sheet`), and
a value picked in one must not open in the other."""

from __future__ import annotations

import importlib
import importlib.util

import streamlit as st

from lib.access import policy
from lib.access.principal import Principal
from lib.ui import url_state
from lib.ui.widgets import escape_markdown

PARAM = "section"
KEEP = frozenset({PARAM, "embed", "embed_options"})  # the page's own and Streamlit's
KEY = "spreadsheets_section"  # the segmented control
OPEN = "spreadsheets_open"  # the section the last run rendered (not a widget: reset on entry)
SEEDS = "spreadsheets_seeds"
NOTES = "spreadsheets_notes"
# section -> (label, icon, the action it needs or None)
SECTIONS: dict[str, tuple[str, str, str | None]] = {
    "sheets": ("Sheets", ":material/table_view:", None),
    "combine": ("Combine", ":material/join_inner:", None),
    "import": ("Import", ":material/upload:", "sheet.import_rows"),
    "export": ("Export", ":material/download:", "sheet.export"),
    "connect": ("Connect", ":material/add_link:", "sheet.connect"),
}
DEFAULT = "sheets"


def module_name(section: str) -> str:
    return f"lib.ui.spreadsheets_{section}"


def _exists(section: str) -> bool:
    return importlib.util.find_spec(module_name(section)) is not None


def _may_run(principal: Principal, action: str) -> bool:
    from lib.actions import ACTIONS  # the registry: an action not built yet is not offered

    return action in ACTIONS and policy.may_run(principal, action)


def sections(principal: Principal) -> list[str]:
    """The sections this principal may use, in their order."""
    return [
        name
        for name, (_, _, action) in SECTIONS.items()
        if (action is None or _may_run(principal, action)) and _exists(name)
    ]


def _from_url(offered: list[str]) -> str:
    """The section the URL asks for; one it does not offer is ignored with a note."""
    raw = (st.query_params.get(PARAM) or "").strip()
    if raw and raw not in offered:
        shown = url_state.quoted(raw)
        note = f"Ignored section '{shown}' from the link: not a section you can open."
        st.session_state[NOTES] = [note]
    return raw if raw in offered else offered[0]


def render(principal: Principal) -> None:
    st.title("Spreadsheets")
    offered = sections(principal)
    if not offered:
        st.info("No spreadsheet sections are available to your role.")
        return
    if KEY not in st.session_state:
        # The page is entered anew (Streamlit dropped the control's state on another page):
        # the section open on the last visit is no previous section of this one, so a link
        # to another section keeps its parameters.
        st.session_state.pop(OPEN, None)
    start = url_state.entered(SEEDS, KEY, lambda: _from_url(offered))
    for note in st.session_state.pop(NOTES, []):
        st.caption(escape_markdown(note))  # it quotes the URL
    if st.session_state.get(KEY) not in (None, *offered):
        del st.session_state[KEY]  # a section no longer offered (the policy changed)
    chosen = st.segmented_control(
        "Section",
        offered,
        default=start if start in offered else offered[0],
        required=True,
        key=KEY,
        format_func=lambda s: f"{SECTIONS[s][1]} {SECTIONS[s][0]}",
        label_visibility="collapsed",
    )
    section = chosen if chosen in offered else offered[0]
    module = importlib.import_module(module_name(section))
    changed = st.session_state.get(OPEN) not in (None, section)
    st.session_state[OPEN] = section
    _keep_only(() if changed else getattr(module, "PARAMS", None))
    url_state.write({PARAM: None if section == DEFAULT else section})
    module.render(principal)


def _keep_only(params: tuple[str, ...] | None) -> None:
    """Remove the URL parameters that are not the open section's (`params`; None: a section
    that declares none keeps whatever the URL has)."""
    if params is None:
        return
    for name in [n for n in st.query_params if n not in KEEP and n not in params]:
        del st.query_params[name]
