"""The Seller portal's dialogs (lib.ui.seller).

- "New product" opens a form that runs product.create; the action's own validation message
  is shown in the dialog, which closes once the product is created. The inputs take their
  limits from the action (lib.actions.products), which checks them again.
- "Take products off sale" confirms the page's Deactivate… action (product.deactivate per
  product): nothing on this page puts a product back on sale.

Each dialog opens whenever its state key is set and is closed by clearing it (a click in a
dialog opened straight from a button is lost; see /work/shared/STACK.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
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
from lib.ui.widgets import RESULT_ICONS, escape_markdown, keep_results

NAME = "seller"  # the page's name (lib.ui.seller): its session and widget keys start with it
DIALOG = f"{NAME}_dialog"  # the table page's open row-action dialog
DEACTIVATE_IDS = f"{NAME}_deactivate_ids"  # the products chosen to take off sale
CREATING = f"{NAME}_creating"  # the New product dialog is open
NEW_NAME, NEW_CATEGORY, NEW_PRICE, NEW_STOCK = (
    f"{NAME}_new_name",
    f"{NAME}_new_category",
    f"{NAME}_new_price",
    f"{NAME}_new_stock",
)


# --- new product -----------------------------------------------------------------------------


def open_create() -> None:
    st.session_state[CREATING] = True


def close_create() -> None:
    st.session_state[CREATING] = False


def create_product(page: TablePage, principal: Principal, tenant: int) -> Result:
    """product.create from the form's fields; the action validates them and says what is
    wrong. Staff name the seller; a seller's own tenant is the action's default."""
    state = st.session_state
    params: dict[str, Any] = {
        "name": state.get(NEW_NAME),
        "category": state.get(NEW_CATEGORY),
        "price": state.get(NEW_PRICE),
        "stock": state.get(NEW_STOCK),
    }
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
    with st.form(f"{NAME}_new_product", border=False):
        st.text_input("Name", key=NEW_NAME, max_chars=NAME_MAX)
        st.selectbox(
            "Category",
            CATEGORIES,
            index=None,
            key=NEW_CATEGORY,
            format_func=str.capitalize,
            placeholder="Choose a category",
        )
        left, right = st.columns(2)
        # The price field takes 0 too: the action's own message says what the minimum is.
        left.number_input(
            "Price (₩)",
            key=NEW_PRICE,
            value=None,
            min_value=0,
            max_value=MAXIMUM,
            step=1_000,
            help=f"At least ₩{PRICE_MIN:,}",
        )
        right.number_input("Stock", key=NEW_STOCK, min_value=STOCK_MIN, max_value=MAXIMUM, step=1)
        submitted = st.form_submit_button(
            "Create product", key=f"{NAME}_create", type="primary", icon=":material/add:"
        )
    if submitted:
        with st.spinner("Creating…"):
            result = create_product(page, principal, tenant)
        if result.ok:
            state = st.session_state
            state[CREATING] = False
            state[page.key("page")] = 1  # newest first: it is at the top of the first page
            st.rerun()
        st.error(escape_markdown(invalid_message(result)), icon=RESULT_ICONS.get(result.outcome))


# --- take off sale ---------------------------------------------------------------------------


def _dismiss_deactivate() -> None:
    st.session_state[DIALOG] = None


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
    with st.container(horizontal=True):
        confirm = st.button(
            "Take off sale",
            key=f"{NAME}_deactivate_confirm",
            type="primary",
            icon=":material/block:",
        )
        cancel = st.button("Cancel", key=f"{NAME}_deactivate_cancel")
    if cancel:
        close_dialog(page)
        st.rerun()
    if confirm:
        action = next(a for a in page.actions if a.action == "product.deactivate")
        with st.spinner("Deactivating…"):
            run_action(page, principal, action, rows)
        st.session_state.pop(DEACTIVATE_IDS, None)
        close_dialog(page)
        st.rerun()
