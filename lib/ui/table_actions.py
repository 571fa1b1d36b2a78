"""The row actions of a table page (lib.ui.table_page): the buttons the role may use, one
`lib.actions.run` per selected row with one result each, and the dialogs that collect what
an action needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import streamlit as st

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.ui import session_guard
from lib.ui.widgets import keep_results

if TYPE_CHECKING:
    from lib.ui.table_page import Row, RowAction, TablePage


def run_action(
    page: TablePage, principal: Principal, row_action: RowAction, rows: Sequence[Row], **extra: Any
) -> None:
    """Run `row_action` once per row it applies to, each with its own result, and keep the
    results for the panel above the table."""
    actor = session_guard.actor(principal)
    chosen = [r for r in rows if row_action.applies(r)]
    results = [
        actions.run(row_action.action, actor, **row_action.params(r), **extra) for r in chosen
    ]
    keep_results(page.key("results"), row_action.label.rstrip("…"), results)
    if page.after_action:
        page.after_action(row_action.action, chosen)


def open_dialog(page: TablePage, row_action: RowAction, rows: Sequence[Row]) -> None:
    st.session_state[page.key("dialog")] = (row_action.action, tuple(rows))


def close_dialog(page: TablePage, typed: Sequence[str] = ()) -> None:
    """Close the page's dialog; what was typed in it (keys starting with `typed`) goes, so
    the next one starts empty."""
    state = st.session_state
    state[page.key("dialog")] = None
    for key in [k for k in state if typed and str(k).startswith(tuple(typed))]:
        del state[key]


def summary(allowed: Sequence[RowAction], selected: Sequence[Row]) -> str:
    """ "3 selected · approve 2 · reject 2 · refund 0": how many of the selection each
    button acts on, so a mixed selection says what will be skipped."""
    if not selected:
        return "Select rows to act on them."
    counts = [
        f"{a.label.rstrip('…').lower()} {sum(1 for r in selected if a.applies(r))}"
        for a in allowed
        if not a.hidden_unless_applicable
    ]
    return " · ".join([f"{len(selected)} selected", *counts])


def toolbar(page: TablePage, principal: Principal, selected: Sequence[Row]) -> None:
    """The buttons the role may use (from the policy), enabled for what the selection
    allows."""
    allowed = [a for a in page.actions if policy.may_run(principal, a.action)]
    if not allowed:
        return
    if page.selection == "multi-row":
        st.caption(summary(allowed, selected))
    with st.container(horizontal=True):
        for a in allowed:
            rows = [r for r in selected if a.applies(r)]
            usable = bool(rows) and (not a.single or len(selected) == 1)
            if a.hidden_unless_applicable and not rows:
                continue
            label = f"{a.label} {len(rows)}" if len(rows) > 1 and not a.dialog else a.label
            callback = open_dialog if a.dialog else run_action
            args = (page, a, tuple(rows)) if a.dialog else (page, principal, a, tuple(rows))
            st.button(
                label,
                key=page.key(a.action.rsplit(".", 1)[-1]),
                type="primary" if a.primary else "secondary",
                icon=a.icon,
                disabled=not usable,
                on_click=callback,
                args=args,
                help=a.help,
            )


def draw_dialog(page: TablePage, principal: Principal) -> None:
    """The page's open dialog, if the role may run its action: only the toolbar's buttons
    open one, but the session state is checked again here (each submit is checked too, by
    lib.actions.run)."""
    opened = st.session_state.get(page.key("dialog"))
    if not opened:
        return
    name, rows = opened
    if not policy.may_run(principal, name):
        st.session_state[page.key("dialog")] = None
        return
    row_action = next((a for a in page.actions if a.action == name and a.dialog), None)
    if row_action is not None and row_action.dialog is not None:
        row_action.dialog(principal, rows)
