"""One customer in detail, below the Customers table: contact (lib.ui.customer_contact),
the customer API's profile read live, the customer's orders (shop) and support tickets
(MongoDB). Each source that is down says so in its own section; the others still show.

The customer and their orders are read in the crm's and the shop's own databases (source
queries, lib.reading.source_query): one primary-key lookup and one range of the orders'
customer index, where DuckDB's scanner would read every order of the shop to find them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from lib.access import policy
from lib.access.masking import mask_contacts
from lib.access.principal import Principal
from lib.actions.base import Result
from lib.config import runtime
from lib.errors import BackofficeError, SourceUnavailable
from lib.reading.engine import Engine
from lib.reading.source_query import SourceQueries
from lib.reading.sources import rest
from lib.ui.customer_contact import (
    RESULT,
    UNMASKING,
    contact_form,
    contact_panel,
    md,
    unmask_dialog,
    utc,
)
from lib.ui.widgets import show_error, show_result

ORDERS_SHOWN = 20
TICKETS_SHOWN = 50
API_SOURCE = "customer_api"
PROFILE_TTL = 30.0  # seconds a profile read from the customer API is reused in a session
PROFILES = "customers_profiles"  # session key: customer id -> (monotonic time, profile | error)

ORDER_CONFIG = {
    "id": st.column_config.NumberColumn("Order", format="%d", width="small"),
    "ordered_at": st.column_config.DatetimeColumn("Ordered at", format="YYYY-MM-DD HH:mm"),
    "status": st.column_config.TextColumn("Status"),
    "product": st.column_config.TextColumn("Product"),
    "quantity": st.column_config.NumberColumn("Qty", format="%d", width="small"),
    "amount": st.column_config.NumberColumn("Amount", format="₩%,d"),
}
TICKET_CONFIG = {
    "ticket": st.column_config.TextColumn("Ticket", width="small"),
    "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
    "subject": st.column_config.TextColumn("Subject", width="large"),
    "status": st.column_config.TextColumn("Status"),
    "priority": st.column_config.TextColumn("Priority"),
    "channel": st.column_config.TextColumn("Channel"),
    "assignee": st.column_config.TextColumn("Assignee"),
}


# --- the customer API's profile --------------------------------------------------------------


def fetch_profile(customer_id: int) -> Mapping[str, Any] | BackofficeError:
    """The customer API's profile of this customer, read live (reused for PROFILE_TTL
    seconds in this session, so clicking around does not call the API on every rerun)."""
    cache: dict[int, tuple[float, Any]] = st.session_state.setdefault(PROFILES, {})
    hit = cache.get(customer_id)
    if hit is not None and time.monotonic() - hit[0] < PROFILE_TTL:
        return hit[1]
    try:
        cfg = runtime.settings().source(API_SOURCE)
        with st.spinner("Asking the customer API…"):
            value = rest.fetch(cfg, f"/customers/{int(customer_id)}")
        if not isinstance(value, Mapping):
            raise SourceUnavailable(API_SOURCE, "the profile is not a JSON object")
    except BackofficeError as exc:
        value = exc
    cache[customer_id] = (time.monotonic(), value)
    return value


def _forget_profile(customer_id: int) -> None:
    st.session_state.get(PROFILES, {}).pop(customer_id, None)


def profile_panel(customer_id: int) -> None:
    st.markdown("**Profile** · customer API, live")
    profile = fetch_profile(customer_id)
    if isinstance(profile, BackofficeError):
        show_error(profile)
        st.button(
            "Ask the API again",
            key="customers_profile_retry",
            on_click=_forget_profile,
            args=(customer_id,),
            icon=":material/refresh:",
            type="tertiary",
        )
        return
    points = profile.get("points")
    opt_in = profile.get("marketing_opt_in")
    last_login = utc(str(profile.get("last_login_at") or "").replace("Z", "+00:00"))
    lines = {
        "Loyalty tier": str(profile.get("loyalty_tier") or "—").capitalize(),
        "Points": f"{points:,}" if isinstance(points, int) else "—",
        "Marketing opt-in": "yes" if opt_in is True else "no" if opt_in is False else "—",
        "Last login": last_login.strftime("%Y-%m-%d %H:%M UTC") if last_login else "—",
    }
    st.markdown("  \n".join(f"{name}: **{md(value)}**" for name, value in lines.items()))


# --- orders and tickets ----------------------------------------------------------------------


def _related(
    reader: Engine | SourceQueries, name: str, customer_id: int, limit: int
) -> pd.DataFrame | BackofficeError:
    try:
        if isinstance(reader, SourceQueries):
            return reader.run(name, customer_id=customer_id, limit=limit)
        return reader.query(name, customer_id=customer_id, limit=limit)
    except BackofficeError as exc:
        return exc


def _tab_label(title: str, found: pd.DataFrame | BackofficeError) -> str:
    if isinstance(found, BackofficeError):
        return f"{title} (unavailable)"
    total = int(found["total"].iloc[0]) if len(found) else 0
    return f"{title} ({total:,})"


def related_table(
    found: pd.DataFrame | BackofficeError, config: Mapping[str, Any], noun: str, empty: str
) -> None:
    if isinstance(found, BackofficeError):
        show_error(found)
        return
    if found.empty:
        st.info(empty, icon=":material/inbox:")
        return
    total = int(found["total"].iloc[0])
    if total > len(found):
        st.caption(f"The {len(found)} most recent of {total:,} {noun}, newest first.")
    else:
        st.caption("Newest first.")
    shown = found[list(config)].copy()
    if "status" in shown:
        shown["status"] = shown["status"].str.replace("_", " ")
    st.dataframe(shown, hide_index=True, width="stretch", column_config=dict(config))


# --- the detail ------------------------------------------------------------------------------


def _read_customer(
    sources: SourceQueries, customer_id: int
) -> tuple[dict[str, Any] | None, BackofficeError | None]:
    try:
        found = sources.run("customers_one", customer_id=customer_id)
    except BackofficeError as exc:
        return None, exc
    return (None if found.empty else found.iloc[0].to_dict()), None


def customer_detail(principal: Principal, customer_id: int, on_close: Callable[[], None]) -> None:
    """One customer: contact (masked), API profile, orders, tickets, and what may be done."""
    engine, sources = runtime.engine(), runtime.source_queries()
    head = st.columns([5, 1], vertical_alignment="center")
    head[0].subheader(f"Customer #{customer_id}")
    head[1].button(
        "Close", key="customers_close", on_click=on_close, icon=":material/close:", type="tertiary"
    )
    pending = st.session_state.pop(RESULT, None)
    if isinstance(pending, Result):
        show_result(pending)

    customer, crm_error = _read_customer(sources, customer_id)
    if customer is None and crm_error is None:
        st.warning(f"No customer #{customer_id}.", icon=":material/person_off:")
        return

    left, right = st.columns([3, 2])
    with left.container(border=True):
        if customer is None:
            st.markdown("**Contact**")
            show_error(crm_error)  # type: ignore[arg-type]
        else:
            contact_panel(principal, customer)
    with right.container(border=True):
        profile_panel(customer_id)

    with st.spinner("Loading orders and tickets…"):
        orders = _related(sources, "customers_orders", customer_id, ORDERS_SHOWN)
        tickets = _related(engine, "customers_tickets", customer_id, TICKETS_SHOWN)
    if isinstance(tickets, pd.DataFrame):  # customers type subjects, contact details and all
        tickets = tickets.assign(subject=tickets["subject"].map(mask_contacts))
    may_edit = customer is not None and policy.may_run(principal, "customer.update_contact")
    labels = [_tab_label("Orders", orders), _tab_label("Support tickets", tickets)]
    if may_edit:
        labels.append("Edit contact")
    tabs = st.tabs(labels)
    with tabs[0]:
        related_table(orders, ORDER_CONFIG, "orders", "No orders from this customer.")
    with tabs[1]:
        related_table(tickets, TICKET_CONFIG, "tickets", "No support tickets from this customer.")
    if may_edit and customer is not None:
        with tabs[2]:
            contact_form(principal, customer)

    if st.session_state.get(UNMASKING) == customer_id:
        unmask_dialog(principal)
