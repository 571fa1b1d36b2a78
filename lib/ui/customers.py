"""The Customers page: search and filter customers, see one in detail, unmask, edit contact.

A table page (lib.ui.table_page) declared here, plus its own panel:

- Filters (search, segment, status, signup dates, sort), the page of the table and the
  selected customer are mirrored in the URL
  (`/customers?q=1502&segment=vip&status=active&from=2024-01-01&sort=name&page=2&id=1502`)
  and restored from it.
- The table is filtered, sorted and paged in the crm's own database
  (queries/customers_page.sql, a source query: lib.ui.source_listing): one index range read
  per page at any size, Next/Previous by keyset, the count exact up to 10,000 and "10,000+"
  past it. The sorts offered are the query's indexed ones. Its personal data is always masked.
- The search box follows lib.access.pii_search: an id exactly, a whole e-mail address or
  phone number, a name by its beginning, each an index lookup of the keys the database
  computes (lib.records.schema); a search on personal data stays out of the URL and is
  counted in the audit log.
- Selecting a row (or `?id=`, even for a customer not on this page) opens the customer
  below the table (lib.ui.customer_detail, lib.ui.customer_contact). Like the filters, the
  URL's `id` is read when the page is entered (lib.ui.url_state.entered); then the session
  holds the open customer and writes it back to the URL.

app_pages/customers.py calls `render(principal)`. Nothing here writes a record except
through `lib.actions.run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from lib.access import pii_search
from lib.access.masking import PII_COLUMNS, mask_frame
from lib.access.principal import Principal
from lib.ui import table_page, url_state
from lib.ui.customer_contact import FORM_KEYS, RESULT, UNMASKING, label
from lib.ui.customer_detail import customer_detail
from lib.ui.source_listing import SourceQuery
from lib.ui.table_filters import DateRange, MultiChoice, Search, Sort
from lib.ui.table_page import Row, TablePage

FORM_STATE = (UNMASKING, RESULT, *FORM_KEYS)  # the contact panel's keys (customers_…)
SEGMENTS = ("vip", "regular", "dormant", "new")
STATUSES = ("active", "inactive", "blocked")
SORTS = {
    "signup_date": "Signed up",
    "id": "Customer id",
    "name": "Name",
    "segment": "Segment",
    "status": "Status",
}
DEFAULT_SORT = ("signup_date", "desc")
P_ID = "id"  # the URL's parameter for the customer shown in detail

LIST_CONFIG = {
    "id": st.column_config.NumberColumn("Id", format="%d", width="small"),
    "name": st.column_config.TextColumn("Name", help="Masked"),
    "email": st.column_config.TextColumn("E-mail", help="Masked"),
    "phone": st.column_config.TextColumn("Phone", help="Masked"),
    "address": st.column_config.TextColumn("Address", help="Masked"),
    "segment": st.column_config.TextColumn("Segment"),
    "status": st.column_config.TextColumn("Status"),
    "signup_date": st.column_config.DateColumn("Signed up", format="YYYY-MM-DD"),
}


def refuse(search: pii_search.Search) -> str | None:
    """Why a search may not run: too short or partial, or text that is no id, e-mail,
    phone or name (which would only ever match nothing)."""
    return search.problem or (pii_search.NOT_SEARCHABLE if search.matches_nothing else None)


def list_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The filters' parameters as customers_page.sql binds them: signup dates as dates (an
    empty choice of segments or statuses leaves its line out)."""
    out = dict(params)
    for name in ("date_from", "date_to"):
        out[name] = date.fromisoformat(out[name]) if out.get(name) else None
    return out


def list_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table as people see it: every personal-data column masked, whatever grants the
    viewer holds (a grant shows one customer's fields in the detail, not in lists)."""
    return mask_frame(df[list(LIST_CONFIG)], PII_COLUMNS["customers"])


def records(df: pd.DataFrame) -> list[Row]:
    return [{"id": int(i)} for i in df["id"]]


# --- the customer in detail: held in the URL, selected whenever its row is shown -------------


def open_id() -> int | None:
    """The customer shown in detail: the URL's `id` when the page is entered (its session
    key is forgotten on entry), so a link opens a customer that is not on the list's page;
    then what `follow` and Close make of it."""
    return url_state.entered(
        SELECTED,
        PAGE.key("sort_by"),  # like the filters: lib.ui.table_page.entered
        lambda: url_state.parse_int(st.query_params.get(P_ID), minimum=1),
    )


def follow(rows: list[Row]) -> None:
    """Before the table is drawn: a click on a row (or clearing it) since the last draw
    changes which customer is open; otherwise the open customer stays selected wherever
    its row now is, and no row is selected when it is not on this page."""
    state = st.session_state
    before = state.get(PAGE.key("shown"))  # rows as last drawn; None/[] when no table
    now = table_page.selected_positions(PAGE)
    if before and now != state.get(PICKED, []):
        chosen = [before[i]["id"] for i in now if 0 <= i < len(before)]
        state[SELECTED] = chosen[0] if chosen else None
    ids = [r["id"] for r in rows]
    current = open_id()
    wanted = [ids.index(current)] if current in ids else []
    if wanted != now:
        state[PAGE.key("table")] = {"selection": {"rows": wanted, "columns": [], "cells": []}}
    state[PICKED] = wanted


def close_detail() -> None:
    state = st.session_state
    state[SELECTED] = None
    state[PICKED] = []
    state[PAGE.key("table")] = {"selection": {"rows": [], "columns": [], "cells": []}}


def panel(principal: Principal, selected: list[Row]) -> None:
    """The open customer (`follow` has turned the selection into SELECTED); in the
    fragment, so a click on a row also writes `id` to the URL."""
    customer_id = open_id()
    url_state.write({P_ID: customer_id})
    if customer_id:
        customer_detail(principal, int(customer_id), on_close=close_detail)


# --- the declaration -------------------------------------------------------------------------

# Name, e-mail, phone or id, by lib.access.pii_search's rules (customers_page.sql's :q_*).
SEARCH = Search(
    placeholder="Name, e-mail, phone or customer id",
    pii_target="customer",
    bind=lambda s: s.key_params(),
    refuse=refuse,
)

PAGE = TablePage(
    name="customers",
    title="Customers",
    listing=SourceQuery("customers_page", prepare=list_params),
    filters=(
        SEARCH,
        MultiChoice(
            "segment", "Segment", SEGMENTS, query="segment", placeholder="Any segment", format=label
        ),
        MultiChoice(
            "status", "Status", STATUSES, query="status", placeholder="Any status", format=label
        ),
        DateRange(label_from="Signed up from", label_to="to (inclusive)", query="date"),
    ),
    sort=Sort(SORTS, DEFAULT_SORT),
    columns=LIST_CONFIG,
    records=records,
    display=list_frame,
    selection="single-row",
    sources=("support",),  # the tickets; the list, the customer and orders are read live
    sources_hold="Support tickets",
    empty="No customers match these filters.",
    caption="Select a row to open the customer. Personal data is masked.",
    page_size=20,
    panel=panel,
    follow=follow,
    extra_url=lambda: {P_ID: open_id()},
    # What a last visit left and this one must not find: the open customer (read from the
    # URL again), the unmask dialog, the last result and what was typed in the contact form.
    forget_on_entry=("id", "picked", *(k.removeprefix("customers_") for k in FORM_STATE)),
)
SELECTED = PAGE.key("id")  # the customer shown in detail (URL: id)
PICKED = PAGE.key("picked")  # the table's selection (positions) as last drawn


def render(principal: Principal) -> None:
    """The whole page for a principal that may open it."""
    table_page.render(PAGE, principal)
