"""The Seller portal's catalogue grid (the table page's `grid` hook, lib.ui.seller).

- Price and stock are edited in the table; "Save changes" sends one product.update per
  changed row, each with the row's updated_at as it was shown (a row changed meanwhile
  conflicts instead of being overwritten), and lists each row's result.
- An edit is a position in the table: when the rows shown change under it (another page,
  sort or filter, another user's new product) it is dropped, never moved to whichever
  product slid into that position.
- Below the table, the products on sale to take off sale are chosen; the page's
  "Deactivate…" action (lib.ui.seller_dialogs) acts on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.ui import session_guard
from lib.ui.seller_dialogs import CHOSEN
from lib.ui.table_page import ROW_HEIGHT, Row, TablePage
from lib.ui.widgets import keep_results

EDITABLE = ("price", "stock")
DROPPED = "Unsaved edits were dropped: the list changed under them."


def editor_key(page: TablePage) -> str:
    return page.key("editor")


def edited_rows(page: TablePage) -> dict[int, dict[str, Any]]:
    """The data editor's cell edits: row position -> {column: new value}."""
    raw = st.session_state.get(editor_key(page))
    try:
        edited = raw["edited_rows"]  # type: ignore[index]
    except (KeyError, TypeError):
        return {}
    out: dict[int, dict[str, Any]] = {}
    for pos, change in (edited or {}).items():
        try:
            out[int(pos)] = dict(change)
        except (TypeError, ValueError):
            continue
    return out


def changes(
    shown: Sequence[Mapping[str, Any]], edits: Mapping[int, Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], dict[str, Any]]]:
    """(row, {price?, stock?}) for each shown row whose price or stock was edited to a new
    value; other columns and edits back to the old value are left out."""
    out = []
    for pos in sorted(edits):
        if not 0 <= pos < len(shown):
            continue
        row = shown[pos]
        params = {
            f: value
            for f, value in edits[pos].items()
            if f in EDITABLE and value is not None and value != row[f]
        }
        if params:
            out.append((row, params))
    return out


def forget_stale_edits(page: TablePage, rows: Sequence[Row]) -> None:
    """Drop unsaved edits when the rows shown are not the ones they were made on (the
    table page keeps the last run's rows as `shown`), and say so."""
    before = st.session_state.get(page.key("shown"))
    if before is None or [r["id"] for r in before] == [r["id"] for r in rows]:
        return
    if edited_rows(page):
        st.caption(DROPPED)
    st.session_state.pop(editor_key(page), None)


def save_edits(page: TablePage, principal: Principal, shown: Sequence[Row]) -> None:
    """One product.update per changed row, with the updated_at the row was shown with."""
    actor = session_guard.actor(principal)
    results = [
        actions.run(
            "product.update",
            actor,
            product_id=row["id"],
            expected_updated_at=row["version"],
            **params,
        )
        for row, params in changes(shown, edited_rows(page))
    ]
    st.session_state.pop(editor_key(page), None)  # the table re-reads what was saved
    if results:
        keep_results(page.key("results"), "Save changes", results)


def discard_edits(page: TablePage) -> None:
    st.session_state.pop(editor_key(page), None)


def save_bar(page: TablePage, principal: Principal, rows: Sequence[Row]) -> None:
    pending = changes(rows, edited_rows(page))
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button(
            f"Save changes ({len(pending)})" if pending else "Save changes",
            key=page.key("save"),
            type="primary",
            icon=":material/save:",
            disabled=not pending,
            on_click=save_edits,
            args=(page, principal, tuple(rows)),
            help="One update per changed row; a row changed meanwhile is not overwritten.",
        )
        st.button(
            "Discard",
            key=page.key("discard"),
            disabled=not pending,
            on_click=discard_edits,
            args=(page,),
            type="tertiary",
        )
        st.caption("Edit price and stock in the table, then save.")


def to_deactivate(page: TablePage, principal: Principal, rows: Sequence[Row]) -> list[Row]:
    """Choose products on sale on this page; returns them (what Deactivate… acts on)."""
    if not policy.may_run(principal, "product.deactivate"):
        return []
    options = [r["id"] for r in rows if r["active"]]
    names = {r["id"]: r["name"] for r in rows}
    state, key = st.session_state, page.key(CHOSEN)
    # A product gone from the page (or off sale now) is no longer chosen.
    state[key] = [i for i in state.get(key) or [] if i in options]
    st.multiselect(
        "Take off sale",
        options,
        key=key,
        format_func=lambda i: f"#{i} {names.get(i, '')}",
        placeholder="Products on sale on this page",
        width=420,
    )
    chosen = set(state[key])
    return [r for r in rows if r["id"] in chosen]


def grid(page: TablePage, principal: Principal, df: pd.DataFrame, rows: list[Row]) -> list[Row]:
    """The editable table, its save bar and the products chosen to take off sale."""
    forget_stale_edits(page, rows)
    may_edit = policy.may_run(principal, "product.update")
    shown = list(page.columns)
    st.data_editor(
        df[[*shown, "seller_id"]],
        key=editor_key(page),
        num_rows="fixed",
        hide_index=True,
        width="stretch",
        height=ROW_HEIGHT * (len(df) + 1) + 3,  # every row of the page, no inner scroll
        column_order=shown,
        column_config=dict(page.columns),
        disabled=True if not may_edit else [c for c in shown if c not in EDITABLE],
    )
    if may_edit:
        save_bar(page, principal, rows)
    return to_deactivate(page, principal, rows)
