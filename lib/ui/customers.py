"""The Customers page: search and filter customers, see one in detail, unmask, edit contact.

- Filters (search, segment, status, signup dates, sort), the page of the table and the
  selected customer are mirrored in the URL
  (`/customers?q=김&segment=vip&status=active&from=2024-01-01&sort=name&page=2&id=1502`)
  and restored from it.
- The table is filtered, sorted and paged in DuckDB (queries/customers_list.sql,
  customers_count.sql): the browser gets one page. Its personal data is always masked.
- The search box: all digits matches the customer id exactly (and, from 7 digits on, a
  phone number); other text matches the name or e-mail (case-insensitive substring, any
  script) and, when it looks like a phone number ("010-1234", "5678-"), the phone's digits.
- Selecting a row (or `?id=`) opens the customer below the table: contact details masked
  except the fields this user holds an unmask grant for (lib.access.unmask), the customer API's
  profile read live, the customer's orders (shop) and support tickets (MongoDB). Each
  source that is down says so in its own section; the others still show.
- "Unmask…" (roles with unmask kinds) asks which fields and why, then runs
  `customer.unmask`; "Edit contact" (roles with `customer.update_contact`) runs that action.

app_pages/customers.py calls `render(principal)`. Nothing here writes a record except
through `lib.actions.run`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access import pii_search, policy, unmask
from lib.access.masking import PII_COLUMNS, mask_contacts, mask_frame
from lib.access.principal import Principal
from lib.actions.base import Result
from lib.actions.context import current as action_context
from lib.actions.customers import MIN_UNMASK_REASON as MIN_REASON  # what customer.unmask takes
from lib.config import runtime
from lib.errors import BackofficeError, SourceUnavailable
from lib.reading.engine import Engine
from lib.reading.sources import rest
from lib.ui import session_guard, url_state
from lib.ui.widgets import escape_markdown, freshness_bar, pager, show_error, show_result

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
DIRECTIONS = {"desc": "Descending", "asc": "Ascending"}
PAGE_SIZE = 20
ORDERS_SHOWN = 20
TICKETS_SHOWN = 50
SOURCES = ("crm", "shop", "support")
API_SOURCE = "customer_api"
PROFILE_TTL = 30.0  # seconds a profile read from the customer API is reused in a session
EMPTY = "No customers match these filters."
FIELD_LABELS = {"name": "Name", "email": "E-mail", "phone": "Phone", "address": "Address"}
CONTACT_FIELDS = ("email", "phone", "address")

# URL parameters.
P_Q, P_SEGMENT, P_STATUS, P_FROM, P_TO, P_PAGE, P_SORT, P_ID = (
    "q",
    "segment",
    "status",
    "from",
    "to",
    "page",
    "sort",
    "id",
)
# Widget keys: prefixed, because other pages use "status", "q", "from" for their own
# filters with other options, and a value left over from one page must not reach another's
# widget. ("page" is the pager's, which uses the URL name as its key.)
K_Q, K_SEGMENT, K_STATUS, K_FROM, K_TO, K_SORT_BY, K_SORT_DIR = (
    "customers_q",
    "customers_segment",
    "customers_status",
    "customers_from",
    "customers_to",
    "customers_sort_by",
    "customers_sort_dir",
)
# Session-state keys of the page's own.
SELECTED = "customers_id"  # the customer shown in detail (URL: id)
TABLE = "customers_table"  # the dataframe's selection
SHOWN = "customers_shown"  # ids of the rows of the last render
PICKED = "customers_picked"  # the selection (positions) of the last render
VIEW = "customers_view"  # the filters of the last run, to go back to page 1 when they change
UNMASKING = "customers_unmasking"  # the unmask dialog is open for this customer id
RESULT = "customers_result"  # the last action's result, shown once after the rerun
PROFILES = "customers_profiles"  # customer id -> (monotonic time, profile | error)
FORM_KEYS = tuple(f"customers_new_{f}" for f in CONTACT_FIELDS)

SEARCHED = "customers_searched"  # the search last counted in the audit log


# --- search and filters ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the table shows: every field is optional, and None / empty means "any"."""

    q: str | None = None
    segments: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    sort: tuple[str, str] = DEFAULT_SORT

    @property
    def search(self) -> pii_search.Search:
        """What the search box matches: lib.access.pii_search's rules for personal data."""
        return pii_search.parse(self.q)

    def params(self) -> dict[str, Any]:
        """The bound parameters of customers_list.sql / customers_count.sql."""
        return {
            "segment_all": not self.segments,
            "segments": list(self.segments),
            "status_all": not self.statuses,
            "statuses": list(self.statuses),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            **self.search.params(),
        }

    def url(self) -> dict[str, object]:
        """The URL's query parameters for these filters (empty ones are left out)."""
        return {
            P_Q: self.search.in_url,  # none for a search on personal data
            P_SEGMENT: list(self.segments),
            P_STATUS: list(self.statuses),
            P_FROM: self.date_from,
            P_TO: self.date_to,
            P_SORT: encode_sort(self.sort),
        }

    def problem(self) -> str | None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            return "The 'Signed up from' date is after the 'to' date."
        search = self.search
        return search.problem or (pii_search.NOT_SEARCHABLE if search.matches_nothing else None)


def parse_sort(raw: str | None) -> tuple[str, str]:
    return url_state.parse_sort(raw, SORTS, DEFAULT_SORT)


def encode_sort(sort: tuple[str, str]) -> str | None:
    return url_state.encode_sort(sort, DEFAULT_SORT)


def _url_choices(name: str, options: Sequence[str]) -> list[str]:
    asked = set((st.query_params.get(name) or "").split(url_state.SEP))
    return [v for v in options if v in asked]  # in the widget's order, unknown values dropped


def _url_date(name: str) -> date | None:
    return url_state.parse_date(st.query_params.get(name))


def _url_id() -> int | None:
    return url_state.parse_int(st.query_params.get(P_ID), minimum=1)


def seed() -> None:
    """Fill the filters from the URL when the page is entered (Streamlit drops a page's
    widget state when another page runs, so a missing widget key means "just entered")."""
    state = st.session_state
    if K_STATUS in state:
        return
    # Nothing selected, pending or paged on a last visit applies; "page" is the pager's
    # plain key, which other pages' pagers share.
    for key in (P_PAGE, VIEW, SHOWN, PICKED, TABLE, UNMASKING, RESULT, SEARCHED, *FORM_KEYS):
        state.pop(key, None)
    qp = st.query_params
    state[K_Q] = qp.get(P_Q, "")
    state[K_SEGMENT] = _url_choices(P_SEGMENT, SEGMENTS)
    state[K_STATUS] = _url_choices(P_STATUS, STATUSES)
    state[K_FROM] = _url_date(P_FROM)
    state[K_TO] = _url_date(P_TO)
    state[K_SORT_BY], state[K_SORT_DIR] = parse_sort(qp.get(P_SORT))
    state[SELECTED] = _url_id()


def _more_filters_set() -> bool:
    state = st.session_state
    return (
        state.get(K_FROM) is not None
        or state.get(K_TO) is not None
        or (state.get(K_SORT_BY), state.get(K_SORT_DIR)) != DEFAULT_SORT
    )


def filter_form() -> Filters:
    """The filter widgets; returns what they say."""
    state = st.session_state
    with st.container(border=True):
        top = st.columns([3, 2, 2])
        top[0].text_input(
            "Search",
            key=K_Q,
            placeholder="Name, e-mail, phone or customer id",
            icon=":material/search:",
        )
        top[1].multiselect(
            "Segment", SEGMENTS, key=K_SEGMENT, format_func=_label, placeholder="Any segment"
        )
        top[2].multiselect(
            "Status", STATUSES, key=K_STATUS, format_func=_label, placeholder="Any status"
        )
        with st.expander("Signup dates and sort", expanded=_more_filters_set()):
            row = st.columns(4)
            row[0].date_input("Signed up from", key=K_FROM, value=None, format="YYYY-MM-DD")
            row[1].date_input("to (inclusive)", key=K_TO, value=None, format="YYYY-MM-DD")
            row[2].selectbox("Sort by", list(SORTS), key=K_SORT_BY, format_func=SORTS.get)
            row[3].selectbox("Order", list(DIRECTIONS), key=K_SORT_DIR, format_func=DIRECTIONS.get)
    q = " ".join((state[K_Q] or "").split())
    return Filters(
        q=q or None,
        segments=tuple(s for s in SEGMENTS if s in state[K_SEGMENT]),
        statuses=tuple(s for s in STATUSES if s in state[K_STATUS]),
        date_from=state[K_FROM],
        date_to=state[K_TO],
        sort=(state[K_SORT_BY], state[K_SORT_DIR]),
    )


def _label(value: str) -> str:
    return "VIP" if value == "vip" else value.replace("_", " ").capitalize()


# --- reading ---------------------------------------------------------------------------------


def count_customers(engine: Engine, filters: Filters) -> int:
    return int(engine.query("customers_count", **filters.params())["total"].iloc[0])


def page_of_customers(engine: Engine, filters: Filters, offset: int) -> pd.DataFrame:
    return engine.query(
        "customers_list", sort=filters.sort, limit=PAGE_SIZE, offset=offset, **filters.params()
    )


LIST_COLUMNS = ["id", "name", "email", "phone", "address", "segment", "status", "signup_date"]
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


def list_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table as people see it: every personal-data column masked, whatever grants the
    viewer holds (a grant shows one customer's fields in the detail, not in lists)."""
    return mask_frame(df[LIST_COLUMNS], PII_COLUMNS["customers"])


# --- the selection ---------------------------------------------------------------------------


def _selection(rows: Sequence[int]) -> dict[str, Any]:
    return {"selection": {"rows": list(rows), "columns": [], "cells": []}}


def _selected_positions() -> list[int]:
    try:
        return [int(i) for i in st.session_state[TABLE]["selection"]["rows"]]
    except (KeyError, TypeError, ValueError):
        return []


def sync_selection(ids: Sequence[int]) -> None:
    """Follow the selected customer through the table.

    A click on a row (or clearing it) changes which customer is open; otherwise the open
    customer (from the URL, or an earlier click) stays selected wherever its row now is,
    and no row is selected when it is not on this page.
    """
    state = st.session_state
    shown = state.get(SHOWN)
    now = _selected_positions()
    if shown is not None and now != state.get(PICKED, []):
        chosen = [shown[i] for i in now if 0 <= i < len(shown)]
        state[SELECTED] = chosen[0] if chosen else None
    wanted = [list(ids).index(state[SELECTED])] if state.get(SELECTED) in ids else []
    if wanted != now:
        state[TABLE] = _selection(wanted)
    state[PICKED] = wanted
    state[SHOWN] = list(ids)


def _forget_table() -> None:
    st.session_state[SHOWN] = []
    st.session_state[PICKED] = []


def _close_detail() -> None:
    state = st.session_state
    state[SELECTED] = None
    state[PICKED] = []
    state[TABLE] = _selection([])


# --- the customer in detail ------------------------------------------------------------------


def md(value: object) -> str:
    """Text shown in markdown as it is: a masked e-mail's '*' must not turn into italics."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return escape_markdown(value)


def _utc(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def grant_expiry(principal: Principal, customer_id: int, kinds: set[str]) -> datetime | None:
    """Until when the fields shown in clear stay so: the latest expiry among this user's
    unmask grants for this customer (read from their audit rows, which hold no values)."""
    if not kinds:
        return None
    rows = action_context().audit.query(
        actor=principal.username,
        action="customer.unmask",
        outcome="ok",
        target_id=str(customer_id),
        limit=50,
    )
    now = unmask.utc_now()
    ends = [
        end
        for row in rows
        if kinds & set(row["detail"].get("fields") or ())
        and (end := _utc(row["detail"].get("expires_at"))) is not None
        and end > now
    ]
    return max(ends, default=None)


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
    last_login = _utc(str(profile.get("last_login_at") or "").replace("Z", "+00:00"))
    lines = {
        "Loyalty tier": str(profile.get("loyalty_tier") or "—").capitalize(),
        "Points": f"{points:,}" if isinstance(points, int) else "—",
        "Marketing opt-in": "yes" if opt_in is True else "no" if opt_in is False else "—",
        "Last login": last_login.strftime("%Y-%m-%d %H:%M UTC") if last_login else "—",
    }
    st.markdown("  \n".join(f"{label}: **{md(value)}**" for label, value in lines.items()))


def _open_unmask(customer_id: int) -> None:
    st.session_state[UNMASKING] = customer_id


def _close_unmask() -> None:
    state = st.session_state
    state[UNMASKING] = None
    for key in ("customers_unmask_fields", "customers_unmask_reason"):
        state.pop(key, None)


def contact_panel(principal: Principal, customer: Mapping[str, Any]) -> None:
    """Contact details, masked but for the fields this user holds a grant for."""
    ctx = action_context()
    customer_id = int(customer["id"])
    shown = unmask.active_fields(ctx, principal, customer_id)
    view = unmask.reveal(customer, principal, ctx)
    st.markdown("**Contact**")
    lines = [f"{FIELD_LABELS[f]}: {md(view[f])}" for f in ("name", "email", "phone", "address")]
    signed_up = pd.Timestamp(customer["signup_date"]).date().isoformat()
    lines.append(
        f"Segment: **{md(_label(customer['segment']))}** · status: "
        f"**{md(_label(customer['status']))}** · signed up {md(signed_up)}"
    )
    st.markdown("  \n".join(lines))
    if shown:
        until = grant_expiry(principal, customer_id, shown)
        fields = ", ".join(FIELD_LABELS[f] for f in FIELD_LABELS if f in shown)
        st.caption(
            f":material/visibility: {fields} shown in clear to you"
            + (f" until {until:%H:%M:%S} UTC" if until else "")
            + "; everything else stays masked."
        )
    kinds = policy.unmask_kinds(principal) & set(unmask.KINDS)
    if kinds and policy.may_run(principal, "customer.unmask"):
        st.button(
            "Unmask…",
            key="customers_unmask",
            icon=":material/visibility:",
            on_click=_open_unmask,
            args=(customer_id,),
            help="Show chosen fields of this customer to you for a while, with a reason.",
        )


@session_guard.dialog("Unmask personal data", on_dismiss=_close_unmask)
def unmask_dialog(principal: Principal) -> None:
    customer_id = st.session_state.get(UNMASKING)
    if not customer_id:
        st.rerun()
    kinds = [k for k in FIELD_LABELS if k in policy.unmask_kinds(principal)]
    minutes = action_context().unmask_minutes
    st.markdown(
        f"Customer **#{customer_id}**: the fields you choose are shown to you only, on this "
        f"customer only, for {minutes} minutes."
    )
    st.caption("Your reason is kept in the audit log; the values you see are not.")
    fields = st.multiselect(
        "Fields",
        kinds,
        key="customers_unmask_fields",
        format_func=FIELD_LABELS.get,
        placeholder="Choose fields",
    )
    reason = st.text_area(
        "Reason",
        key="customers_unmask_reason",
        max_chars=300,
        height=80,
        placeholder="e.g. ticket T001234: the customer asks to confirm the delivery address",
    )
    with st.container(horizontal=True):
        submit = st.button("Unmask", key="customers_unmask_submit", type="primary")
        cancel = st.button("Cancel", key="customers_unmask_cancel")
    if cancel:
        _close_unmask()
        st.rerun()
    if submit:
        reason = (reason or "").strip()
        if not fields:
            st.error("Choose at least one field.")
            return
        if len(reason) < MIN_REASON:
            st.error(f"Give a reason (at least {MIN_REASON} characters).")
            return
        result = actions.run(
            "customer.unmask",
            session_guard.actor(principal),
            customer_id=int(customer_id),
            fields=list(fields),
            reason=reason,
        )
        if not result.ok:
            st.error(escape_markdown(result.message), icon=":material/error:")
            return
        st.session_state[RESULT] = result
        _close_unmask()
        st.rerun()


def contact_form(principal: Principal, customer: Mapping[str, Any]) -> None:
    """New e-mail, phone or address: only what is filled in is changed."""
    customer_id = int(customer["id"])
    st.caption("Fill in only what changes; empty fields are kept. The change is audited.")
    with st.form(f"customers_contact_{customer_id}", border=False):
        for field, key in zip(CONTACT_FIELDS, FORM_KEYS, strict=True):
            st.text_input(f"New {FIELD_LABELS[field].lower()}", key=key, max_chars=200)
        submitted = st.form_submit_button(
            "Save contact", key="customers_save_contact", type="primary", icon=":material/save:"
        )
    if not submitted:
        return
    changes = {
        field: value.strip()
        for field, key in zip(CONTACT_FIELDS, FORM_KEYS, strict=True)
        if (value := st.session_state.get(key) or "").strip()
    }
    if not changes:
        st.warning("Fill in at least one field to change.")
        return
    with st.spinner("Saving…"):
        result = actions.run(
            "customer.update_contact",
            session_guard.actor(principal),
            customer_id=customer_id,
            **changes,
        )
    if not result.ok:
        show_result(result)  # the typed values stay, to be corrected
        return
    st.session_state[RESULT] = result
    for key in FORM_KEYS:
        st.session_state.pop(key, None)
    st.rerun()


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


def _related(
    engine: Engine, name: str, customer_id: int, limit: int
) -> pd.DataFrame | BackofficeError:
    try:
        return engine.query(name, customer_id=customer_id, limit=limit)
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


def customer_detail(principal: Principal, customer_id: int) -> None:
    """One customer: contact (masked), API profile, orders, tickets, and what may be done."""
    engine = runtime.engine()
    head = st.columns([5, 1], vertical_alignment="center")
    head[0].subheader(f"Customer #{customer_id}")
    head[1].button(
        "Close",
        key="customers_close",
        on_click=_close_detail,
        icon=":material/close:",
        type="tertiary",
    )
    pending = st.session_state.pop(RESULT, None)
    if isinstance(pending, Result):
        show_result(pending)

    customer: dict[str, Any] | None = None
    crm_error: BackofficeError | None = None
    try:
        found = engine.query("customers_one", customer_id=customer_id)
        if not found.empty:
            customer = found.iloc[0].to_dict()
    except BackofficeError as exc:
        crm_error = exc
    if customer is None and crm_error is None:
        st.warning(f"No customer #{customer_id}.", icon=":material/person_off:")
        return

    left, right = st.columns([3, 2])
    with left.container(border=True):
        if crm_error is not None:
            st.markdown("**Contact**")
            show_error(crm_error)
        else:
            contact_panel(principal, customer)
    with right.container(border=True):
        profile_panel(customer_id)

    with st.spinner("Loading orders and tickets…"):
        orders = _related(engine, "customers_orders", customer_id, ORDERS_SHOWN)
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
    if may_edit:
        with tabs[2]:
            contact_form(principal, customer)

    if st.session_state.get(UNMASKING) == customer_id:
        unmask_dialog(principal)


# --- the page --------------------------------------------------------------------------------


@session_guard.fragment
def customers_grid(principal: Principal, filters: Filters) -> None:
    """The table, its pager and the customer in detail: one fragment, so selecting a row,
    turning a page or unmasking reruns only this part of the page."""
    engine = runtime.engine()
    state = st.session_state
    try:
        with st.spinner("Loading customers…"):
            total = count_customers(engine, filters)
    except BackofficeError as exc:
        show_error(exc)
        total = None
        _forget_table()
    if total == 0:
        st.info(EMPTY, icon=":material/search_off:")
        _forget_table()
    elif total:
        table = st.container()
        offset = pager(total, PAGE_SIZE, P_PAGE)  # drawn below the table, read before it
        try:
            with st.spinner("Loading customers…"):
                df = page_of_customers(engine, filters, offset)
        except BackofficeError as exc:
            with table:
                show_error(exc)
            _forget_table()
        else:
            sync_selection([int(i) for i in df["id"]])
            with table:
                st.caption("Select a row to open the customer. Personal data is masked.")
                st.dataframe(
                    list_frame(df),
                    key=TABLE,
                    on_select="rerun",
                    selection_mode="single-row",
                    hide_index=True,
                    width="stretch",
                    height=35 * (len(df) + 1) + 3,  # every row, no empty one below
                    column_config=LIST_CONFIG,
                )
    url_state.write({P_ID: state.get(SELECTED)})
    if state.get(SELECTED):
        customer_detail(principal, int(state[SELECTED]))


def count_search(principal: Principal, filters: Filters) -> str | None:
    """A new search on personal data gets its audit row (the term masked) and a note that
    the link leaves it out; rerunning the same search is not a new one. Returns why the
    search may not run (too many of them), or None."""
    search = filters.search
    audit = action_context().audit
    refused = pii_search.record_once(
        st.session_state, SEARCHED, audit, principal, search, "customer"
    )
    if search.kind is not None and not refused:
        st.caption(pii_search.NOTE)
    return refused


def render(principal: Principal) -> None:
    """The whole page for a principal that may open it."""
    engine = runtime.engine()
    st.title("Customers")
    freshness = st.container()  # filled last, once the sources have been read
    seed()
    filters = filter_form()
    state = st.session_state
    if state.get(VIEW) is not None and state[VIEW] != filters:
        state[P_PAGE] = 1  # new filters or sort: back to the first page
    state[VIEW] = filters
    url_state.write(filters.url())
    problem = filters.problem()
    if problem:
        st.warning(problem, icon=":material/filter_alt_off:")
    elif refused := count_search(principal, filters):
        st.warning(refused, icon=":material/hourglass:")
    else:
        customers_grid(principal, filters)
    with freshness:
        freshness_bar(engine, SOURCES, "customers")
