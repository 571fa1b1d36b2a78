"""The Seller portal's dialogs (lib.ui.seller).

- "New product" opens a form that runs product.create; the action's own validation message
  is shown in the dialog, which closes once the product is created. The inputs take their
  limits from the action (lib.actions.products), which checks them again.
- "Take products off sale" confirms the page's Deactivate… action (product.deactivate per
  product): nothing on this page puts a product back on sale.

Each dialog opens whenever its state key is set and is closed by clearing it (a click in a
dialog opened straight from a button is lost; see /work/shared/STACK.md). The keys are the
page's (lib.ui.seller.PAGE, `page.key(...)`): the page module owns the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import streamlit as st

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.actions.base import Result
from lib.actions.products import CATEGORIES, MAXIMUM, NAME_MAX, PRICE_MIN, STOCK_MIN
from lib.ui import session_guard
from lib.ui.table_actions import close_dialog, run_action
from lib.ui.table_page import Row, TablePage
from lib.ui.widgets import RESULT_ICONS, escape_markdown, keep_results, submit_or_cancel

# Parts of the page's session keys (page.key(part)).
CREATING = "creating"  # the New product dialog is open
CHOSEN = "deactivate_ids"  # the products chosen to take off sale (seller_grid's multiselect)
NEW_FIELDS = ("name", "category", "price", "stock")  # the form's inputs, keyed `new_<field>`


def _page() -> TablePage:
    from lib.ui.seller import PAGE  # the declaration names these dialogs: imported late

    return PAGE


# --- new product -----------------------------------------------------------------------------


def open_create(page: TablePage) -> None:
    st.session_state[page.key(CREATING)] = True


def close_create() -> None:
    st.session_state[_page().key(CREATING)] = False


def create_product(page: TablePage, principal: Principal, tenant: int) -> Result:
    """product.create from the form's fields; the action validates them and says what is
    wrong. Staff name the seller; a seller's own tenant is the action's default."""
    state = st.session_state
    params: dict[str, Any] = {f: state.get(page.key(f"new_{f}")) for f in NEW_FIELDS}
    if policy.sees_all_tenants(principal):
        params["seller_id"] = tenant
    result = actions.run("product.create", session_guard.actor(principal), **params)
    if result.ok:
        name = " ".join(str(params["name"]).split())
        done = replace(result, message=f"{result.message} “{name}” is on sale.")
        keep_results(page.key("results"), "New product", [done])
    return result


def invalid_message(result: Result) -> str:
    """ "Not created: Price must be at least 1." from the action's "price must be at least 1"."""
    if result.outcome != "invalid":
        return result.message
    return f"Not created: {result.message[:1].upper()}{result.message[1:]}."


@session_guard.dialog("New product", on_dismiss=close_create)
def new_product(page: TablePage, principal: Principal, tenant: int, seller: str) -> None:
    st.caption(f"Adds an on-sale product to {escape_markdown(seller)}’s catalogue.")
    with st.form(page.key("new_product"), border=False):
        st.text_input("Name", key=page.key("new_name"), max_chars=NAME_MAX)
        st.selectbox(
            "Category",
            CATEGORIES,
            index=None,
            key=page.key("new_category"),
            format_func=str.capitalize,
            placeholder="Choose a category",
        )
        left, right = st.columns(2)
        # The price field takes 0 too: the action's own message says what the minimum is.
        left.number_input(
            "Price (₩)",
            key=page.key("new_price"),
            value=None,
            min_value=0,
            max_value=MAXIMUM,
            step=1_000,
            help=f"At least ₩{PRICE_MIN:,}",
        )
        right.number_input(
            "Stock", key=page.key("new_stock"), min_value=STOCK_MIN, max_value=MAXIMUM, step=1
        )
        submitted = st.form_submit_button(
            "Create product", key=page.key("create"), type="primary", icon=":material/add:"
        )
    if submitted:
        with st.spinner("Creating…"):
            result = create_product(page, principal, tenant)
        if result.ok:
            state = st.session_state
            state[page.key(CREATING)] = False
            state[page.key("page")] = 1  # newest first: it is at the top of the first page
            st.rerun()
        st.error(escape_markdown(invalid_message(result)), icon=RESULT_ICONS.get(result.outcome))


# --- take off sale ---------------------------------------------------------------------------


def _dismiss_deactivate() -> None:
    close_dialog(_page())


@session_guard.dialog("Take products off sale", on_dismiss=_dismiss_deactivate)
def deactivate(page: TablePage, principal: Principal, rows: Sequence[Row]) -> None:
    """The Deactivate… action's confirmation: lists the products, then runs the action once
    per product (lib.ui.table_actions.run_action), each with its own result."""
    if not rows:
        close_dialog(page)
        st.rerun()
    for row in rows:
        st.markdown(f"- #{row['id']} {escape_markdown(row['name'])}")
    st.caption("They stay in your catalogue, off sale. This page cannot put them back on sale.")
    close = partial(close_dialog, page)
    if submit_or_cancel("Take off sale", page.key("deactivate"), close, icon=":material/block:"):
        action = next(a for a in page.actions if a.action == "product.deactivate")
        with st.spinner("Deactivating…"):
            run_action(page, principal, action, rows)
        st.session_state.pop(page.key(CHOSEN), None)
        close_dialog(page)
        st.rerun()
