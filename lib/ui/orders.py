"""The Orders & payments page: what it filters, shows and does.

- Filters (status, date range, amount range, seller, search, sort) are mirrored in the URL
  (`/orders?status=pending&q=4321&sort=-amount&page=2`) and restored from it; a search
  on a customer's name or e-mail follows lib.access.pii_search's rules and stays out of the URL.
- The table is paged and sorted in DuckDB (queries/orders_list.sql, orders_count.sql): the
  browser gets one page, never the whole table. Customer names are masked.
- Approve / Reject / Refund act on the selected rows, one action per row, each with its own
  result (a toast, and a line that stays until the next action). The table and its buttons
  are one fragment, so an approval reruns only that part of the page.
- The selected order's payment is shown as the gateway holds it (balance, cancels).

app_pages/orders.py calls `render(principal)`; nothing here writes SQL or changes a record
except through `lib.actions.run`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access import pii_search, policy
from lib.access.masking import mask, mask_frame
from lib.access.principal import Principal
from lib.actions.base import Result
from lib.actions.context import current as action_context
from lib.actions.orders import (  # the limits the actions enforce, and what they accept
    MAX_REFUND_REASON,
    MAX_REJECT_REASON,
    MIN_REASON,
    REFUNDABLE,
    awaiting_reconcile,
)
from lib.config import runtime
from lib.errors import BackofficeError, ValidationFailed
from lib.payments.gateway import Payment
from lib.payments.refund_account import (
    BANKS,
    MAX_ACCOUNT_NUMBER,
    MAX_HOLDER_NAME,
    WHY,
    is_virtual_account,
    may_need_account,
)
from lib.payments.refund_account import parse as parse_refund_account
from lib.reading.engine import Engine
from lib.ui import session_guard, url_state
from lib.ui.widgets import (
    escape_markdown,
    freshness_bar,
    keep_results,
    pager,
    results_panel,
    show_error,
)

STATUSES = ("pending", "approved", "rejected", "refunded", "partially_refunded")
SORTS = {
    "ordered_at": "Ordered at",
    "id": "Order id",
    "amount": "Amount",
    "balance": "Balance",
    "status": "Status",
    "method": "Method",
    "seller": "Seller",
}
DEFAULT_SORT = ("ordered_at", "desc")
DIRECTIONS = {"desc": "Descending", "asc": "Ascending"}
PAGE_SIZE = 20
SOURCES = ("shop", "crm")
EMPTY = "No orders match these filters."
ANY_SELLER = 0  # the seller filter's "any" (a selectbox's None would read "Choose an option")

# URL parameters (and the widget keys that hold them).
P_STATUS, P_FROM, P_TO, P_MIN, P_MAX, P_SELLER, P_Q, P_PAGE, P_SORT = (
    "status",
    "from",
    "to",
    "min",
    "max",
    "seller",
    "q",
    "page",
    "sort",
)
# Session-state keys of the page's own.
SORT_BY, SORT_DIR = "orders_sort_by", "orders_sort_dir"
TABLE = "orders_table"  # the dataframe's selection
SHOWN = "orders_shown"  # the rows of the last render: what the user saw and selected
VIEW = "orders_view"  # the filters of the last run, to go back to page 1 when they change
RESULTS = "orders_results"  # the last action's results
REJECTING = "orders_rejecting"  # the reject dialog is open for these order ids
REFUNDING = "orders_refunding"  # the refund dialog is open for this order id
PAYMENTS = "orders_payments"  # payment_key -> Payment, or the lookup's error text
NOTES = "orders_notes"  # what was ignored in the URL, said once
SEEDS = "orders_seeds"  # the filters the URL asked for when the page was entered
SEARCHED = "orders_searched"  # the search on personal data last counted in the audit log

DISPLAY_COLUMNS = [
    "id",
    "ordered_at",
    "status",
    "amount",
    "balance",
    "method",
    "seller",
    "customer",
    "payment_key",
]


# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the table shows: every field is optional, and None / empty means "any"."""

    statuses: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    min_amount: int | None = None
    max_amount: int | None = None
    seller_id: int | None = None
    q: str | None = None
    sort: tuple[str, str] = DEFAULT_SORT

    def params(self) -> dict[str, Any]:
        """The bound parameters of orders_list.sql / orders_count.sql."""
        return {
            "status_all": not self.statuses,
            "statuses": list(self.statuses),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "min_amount": self.min_amount,
            "max_amount": self.max_amount,
            "seller_id": self.seller_id,
            "q": self.q,  # an order id or the beginning of a payment key
            # A customer's name by its beginning, an e-mail whole (lib.access.pii_search's rules).
            "q_name": self.search.name,
            "q_email": self.search.email,
        }

    def url(self) -> dict[str, object]:
        """The URL's query parameters for these filters (empty ones are left out)."""
        return {
            P_STATUS: list(self.statuses),
            P_FROM: self.date_from,
            P_TO: self.date_to,
            P_MIN: self.min_amount,
            P_MAX: self.max_amount,
            P_SELLER: self.seller_id,
            P_Q: self.search.in_url,  # none for a search on personal data
            P_SORT: encode_sort(self.sort),
        }

    def problem(self) -> str | None:
        """Why these filters cannot match anything, if they are contradictory."""
        if self.date_from and self.date_to and self.date_from > self.date_to:
            return "The 'From' date is after the 'To' date."
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            return "The minimum amount is above the maximum."
        if self.search.problem in (pii_search.SHORT_NAME, pii_search.NO_PHONE_SEARCH):
            return self.search.problem
        return None

    @property
    def search(self) -> pii_search.Search:
        # orders_list.sql reaches a customer's name and e-mail, not the phone: a number is an id.
        return pii_search.parse(self.q, kinds=("email", "name"))


def parse_sort(raw: str | None) -> tuple[str, str]:
    return url_state.parse_sort(raw, SORTS, DEFAULT_SORT)


def encode_sort(sort: tuple[str, str]) -> str | None:
    return url_state.encode_sort(sort, DEFAULT_SORT)


def from_url(query: Mapping[str, str], sellers: Mapping[int, str]) -> tuple[Filters, list[str]]:
    """The filters a URL's query parameters ask for, and a note for each value not understood
    (it is left out: an old or mistyped link still opens, on a wider view)."""
    notes = []
    raw = query.get(P_STATUS) or ""
    asked = [v for v in raw.split(url_state.SEP) if v]
    unknown = [v for v in asked if v not in STATUSES]
    if unknown:
        asked_for = url_state.quoted(", ".join(unknown))
        notes.append(f"Ignored status '{asked_for}' from the link: not a known value.")
    seller = url_state.parse_int(query.get(P_SELLER), minimum=1)
    if seller is not None and sellers and seller not in sellers:
        notes.append(f"Ignored seller '{seller}' from the link: no such seller.")
        seller = None
    q = (query.get(P_Q) or "").strip()
    filters = Filters(
        statuses=tuple(s for s in STATUSES if s in asked),
        date_from=url_state.parse_date(query.get(P_FROM)),
        date_to=url_state.parse_date(query.get(P_TO)),
        min_amount=url_state.parse_int(query.get(P_MIN), minimum=0),
        max_amount=url_state.parse_int(query.get(P_MAX), minimum=0),
        seller_id=seller,
        q=q or None,
        sort=parse_sort(query.get(P_SORT)),
    )
    return filters, notes


def seed(sellers: Mapping[int, str]) -> Filters:
    """What the filter widgets start from: the URL, read when the page is entered.

    The widgets get these as their defaults rather than through session state: a value set
    in session state reaches the browser only with the first render of its widget, and a
    rerun that overtakes that render (the sign-in's cookie check does) left the browser
    showing an empty filter while the table was filtered.
    """
    state = st.session_state
    if P_STATUS not in state or SEEDS not in state:
        # Entering the page (Streamlit dropped its widgets' state on the way out): nothing
        # selected or pending on the last visit applies, and the URL says which page of
        # the table to show ("page" is the pager's plain key, which other pages share).
        for key in (P_PAGE, VIEW, SHOWN, TABLE, REJECTING, REFUNDING, SEEDS, SEARCHED):
            state.pop(key, None)
        state[SEEDS], state[NOTES] = from_url(st.query_params, sellers)
    return state[SEEDS]


def filter_form(sellers: Mapping[int, str], start: Filters) -> Filters:
    """The filter widgets, starting from `start`; returns what they say now."""
    state = st.session_state
    seller_options = [ANY_SELLER, *sellers]
    start_seller = start.seller_id or ANY_SELLER
    if start_seller not in seller_options:  # the sellers could not be loaded
        seller_options.append(start_seller)
    sort_by, sort_dir = start.sort
    more = (start.date_from, start.date_to, start.min_amount, start.max_amount) != (None,) * 4
    more = more or start.sort != DEFAULT_SORT

    with st.container(border=True):
        top = st.columns([3, 2, 2])
        top[0].text_input(
            "Search",
            value=start.q or "",
            key=P_Q,
            placeholder="Order id, payment key, customer name or e-mail",
            icon=":material/search:",
        )
        top[1].multiselect(
            "Status",
            STATUSES,
            default=list(start.statuses),
            key=P_STATUS,
            format_func=lambda s: s.replace("_", " "),
            placeholder="Any status",
        )
        top[2].selectbox(
            "Seller",
            seller_options,
            index=seller_options.index(start_seller),
            key=P_SELLER,
            format_func=lambda s: "Any seller" if s == ANY_SELLER else sellers.get(s, f"#{s}"),
        )
        with st.expander("Dates, amounts and sort", expanded=more):
            row = st.columns(4)
            row[0].date_input("From", value=start.date_from, key=P_FROM, format="YYYY-MM-DD")
            row[1].date_input("To (inclusive)", value=start.date_to, key=P_TO, format="YYYY-MM-DD")
            row[2].number_input(
                "Min amount (₩)", value=start.min_amount, key=P_MIN, min_value=0, step=10_000
            )
            row[3].number_input(
                "Max amount (₩)", value=start.max_amount, key=P_MAX, min_value=0, step=10_000
            )
            row = st.columns(4)
            row[0].selectbox(
                "Sort by",
                list(SORTS),
                index=list(SORTS).index(sort_by),
                key=SORT_BY,
                format_func=SORTS.get,
            )
            row[1].selectbox(
                "Order",
                list(DIRECTIONS),
                index=list(DIRECTIONS).index(sort_dir),
                key=SORT_DIR,
                format_func=DIRECTIONS.get,
            )

    q = (state[P_Q] or "").strip()
    return Filters(
        statuses=tuple(s for s in STATUSES if s in state[P_STATUS]),
        date_from=state[P_FROM],
        date_to=state[P_TO],
        min_amount=None if state[P_MIN] is None else int(state[P_MIN]),
        max_amount=None if state[P_MAX] is None else int(state[P_MAX]),
        seller_id=state[P_SELLER] or None,
        q=q or None,
        sort=(state[SORT_BY], state[SORT_DIR]),
    )


# --- reading ---------------------------------------------------------------------------------


def load_sellers(engine: Engine) -> dict[int, str]:
    """Seller id -> name, for the seller filter; empty if the shop cannot be read."""
    try:
        df = engine.query("orders_sellers")
    except BackofficeError:
        return {}  # the table below says what is wrong with the source
    return {int(i): str(n) for i, n in zip(df["id"], df["name"], strict=True)}


def count_orders(engine: Engine, filters: Filters) -> int:
    return int(engine.query("orders_count", **filters.params())["total"].iloc[0])


def page_of_orders(engine: Engine, filters: Filters, offset: int) -> pd.DataFrame:
    return engine.query(
        "orders_list", sort=filters.sort, limit=PAGE_SIZE, offset=offset, **filters.params()
    )


def display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The columns people see, customer names masked (nobody unmasks on this page)."""
    out = mask_frame(df[DISPLAY_COLUMNS], {"customer": "name"})
    out["status"] = out["status"].str.replace("_", " ")
    out["method"] = out["method"].str.replace("_", " ")
    return out


COLUMN_CONFIG = {
    "id": st.column_config.NumberColumn("Order", format="%d", width=70),
    "ordered_at": st.column_config.DatetimeColumn(
        "Ordered at", format="YYYY-MM-DD HH:mm", width=135
    ),
    "status": st.column_config.TextColumn("Status", width=130),
    "amount": st.column_config.NumberColumn("Amount", format="₩%,d", width=95),
    "balance": st.column_config.NumberColumn(
        "Balance", format="₩%,d", width=95, help="What is left to refund"
    ),
    "method": st.column_config.TextColumn("Method", width=110),
    "seller": st.column_config.TextColumn("Seller", width=150),
    "customer": st.column_config.TextColumn("Customer", width=85, help="Masked"),
    "payment_key": st.column_config.TextColumn("Payment key", width=210),
}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python values of what a row's buttons need."""
    out = []
    for row in df[["id", "status", "amount", "balance", "payment_key"]].itertuples(index=False):
        out.append(
            {
                "id": int(row.id),
                "status": str(row.status),
                "amount": int(row.amount),
                "balance": None if pd.isna(row.balance) else int(row.balance),
                "payment_key": None if pd.isna(row.payment_key) else str(row.payment_key),
            }
        )
    return out


# --- the selection ---------------------------------------------------------------------------


def _selection(rows: Sequence[int]) -> dict[str, Any]:
    return {"selection": {"rows": list(rows), "columns": [], "cells": []}}


def _selected_positions() -> list[int]:
    state = st.session_state.get(TABLE)
    try:
        return [int(i) for i in state["selection"]["rows"]]
    except (KeyError, TypeError, ValueError):
        return []


def follow_selection(rows: Sequence[Mapping[str, Any]]) -> None:
    """Keep the same orders selected when the rows shown change (an approved order left the
    pending filter, another page, another sort): a selection is positions in the table, and
    a button must never act on whatever order slid into a selected position."""
    before = st.session_state.get(SHOWN)
    if before is None:
        return
    before_ids = [r["id"] for r in before]
    ids = [r["id"] for r in rows]
    if before_ids == ids:
        return
    chosen = {before_ids[i] for i in _selected_positions() if 0 <= i < len(before_ids)}
    st.session_state[TABLE] = _selection([i for i, x in enumerate(ids) if x in chosen])


# --- actions and their results ---------------------------------------------------------------


def _record(title: str, results: Sequence[Result], payment_keys: Iterable[str | None]) -> None:
    """Keep an action's results for the page to show (toasts once, lines until the next),
    and forget what the gateway said about the payments it touched."""
    keep_results(RESULTS, title, results)
    cache = st.session_state.get(PAYMENTS, {})
    for key in payment_keys:
        cache.pop(key, None)


def _payment_keys(order_ids: Iterable[int]) -> list[str | None]:
    shown = {r["id"]: r["payment_key"] for r in st.session_state.get(SHOWN) or []}
    return [shown.get(i) for i in order_ids]


def approve(principal: Principal, order_ids: Sequence[int]) -> None:
    """Approve each order on its own: one order.approve each, one result each."""
    actor = session_guard.actor(principal)
    results = [actions.run("order.approve", actor, order_id=i) for i in order_ids]
    _record("Approve", results, _payment_keys(order_ids))


def reject(
    principal: Principal,
    order_ids: Sequence[int],
    reason: str,
    refund_account: Mapping[str, str] | None = None,
) -> None:
    """Reject each order on its own (order.reject also cancels its payment; a paid-in
    virtual-account payment is refunded to `refund_account`, for a single order)."""
    extra = {} if refund_account is None else {"refund_account": dict(refund_account)}
    actor = session_guard.actor(principal)
    results = [
        actions.run("order.reject", actor, order_id=i, reason=reason, **extra) for i in order_ids
    ]
    _record("Reject", results, _payment_keys(order_ids))


def refund(
    principal: Principal,
    order_id: int,
    payment_key: str | None,
    amount: int,
    reason: str,
    refund_account: Mapping[str, str] | None = None,
) -> Result:
    """Refund `amount` of one order's payment (all or part of its balance); a paid-in
    virtual-account payment to `refund_account` {bank, account_number, holder_name}."""
    extra = {} if refund_account is None else {"refund_account": dict(refund_account)}
    result = actions.run(
        "order.refund",
        session_guard.actor(principal),
        order_id=order_id,
        amount=amount,
        reason=reason,
        **extra,
    )
    _record("Refund", [result], [payment_key])
    return result


def reconcile(principal: Principal, order_ids: Sequence[int]) -> None:
    """Ask the gateway what became of each order's undecided refunds (order.reconcile)."""
    actor = session_guard.actor(principal)
    results = [actions.run("order.reconcile", actor, order_id=i) for i in order_ids]
    _record("Reconcile", results, _payment_keys(order_ids))


def show_results() -> None:
    results_panel(RESULTS)


def _open_reject(order_ids: Sequence[int]) -> None:
    st.session_state[REJECTING] = tuple(order_ids)


def _open_refund(order_id: int) -> None:
    st.session_state[REFUNDING] = order_id


def _close_dialogs() -> None:
    state = st.session_state
    state[REJECTING] = None
    state[REFUNDING] = None
    # What was typed is for that one dialog: the next one starts empty.
    typed = (
        "orders_reject_reason",
        "orders_refund_reason",
        "orders_refund_amount_",
        "orders_refund_bank",
        "orders_refund_account_number",
        "orders_refund_holder",
    )
    for key in [k for k in state if str(k).startswith(typed)]:
        del state[key]


def toolbar(principal: Principal, selected: Sequence[Mapping[str, Any]]) -> None:
    """The buttons the role may use, enabled for what the selection allows."""
    may = {
        a: policy.may_run(principal, f"order.{a}")
        for a in ("approve", "reject", "refund", "reconcile")
    }
    pending = [r["id"] for r in selected if r["status"] == "pending"]
    one = selected[0] if len(selected) == 1 else None
    refundable = one is not None and one["status"] in REFUNDABLE and (one["balance"] or 0) > 0
    if not any(may.values()):
        return
    if not selected:
        st.caption("Select rows to act on them.")
    else:
        skipped = len(selected) - len(pending)
        st.caption(
            f"{len(selected)} selected"
            + (f" · {len(pending)} pending" if may["approve"] or may["reject"] else "")
            + (f" · {skipped} not pending" if skipped and pending else "")
        )
    with st.container(horizontal=True):
        if may["approve"]:
            st.button(
                f"Approve {len(pending)}" if len(pending) > 1 else "Approve",
                key="orders_approve",
                type="primary",
                icon=":material/check:",
                disabled=not pending,
                on_click=approve,
                args=(principal, tuple(pending)),
                help="Approve every selected pending order, each on its own.",
            )
        if may["reject"]:
            st.button(
                "Reject…",
                key="orders_reject",
                icon=":material/block:",
                disabled=not pending,
                on_click=_open_reject,
                args=(tuple(pending),),
                help="Reject the selected pending orders and cancel their payments.",
            )
        if may["refund"]:
            st.button(
                "Refund…",
                key="orders_refund",
                icon=":material/currency_exchange:",
                disabled=not refundable,
                on_click=_open_refund,
                args=(one["id"] if one else 0,),
                help="Refund all or part of one selected order's balance.",
            )
    if may["reconcile"] and selected:
        undecided = sorted(awaiting_reconcile([r["id"] for r in selected]))
        if undecided:
            listed = ", ".join(f"#{i}" for i in undecided)
            st.warning(
                f"The gateway has not said what became of a refund of {listed}: "
                "Reconcile asks it again. Do not refund these orders again meanwhile.",
                icon=":material/sync_problem:",
            )
            st.button(
                "Reconcile",
                key="orders_reconcile",
                icon=":material/sync:",
                on_click=reconcile,
                args=(principal, tuple(undecided)),
                help="Ask the gateway whether each undecided refund happened, under its "
                "own idempotency key, and record the answer.",
            )


@session_guard.dialog("Reject orders", on_dismiss=_close_dialogs)
def reject_dialog(principal: Principal) -> None:
    order_ids = st.session_state.get(REJECTING)
    if not order_ids:
        st.rerun()
    listed = ", ".join(f"#{i}" for i in order_ids[:10]) + (" …" if len(order_ids) > 10 else "")
    noun = "order" if len(order_ids) == 1 else f"{len(order_ids)} orders"
    st.markdown(f"Reject {noun}: {listed}")
    st.caption("Each payment is canceled in full through the gateway.")
    reason = st.text_area(
        "Reason", key="orders_reject_reason", max_chars=MAX_REJECT_REASON, height=80
    )
    account = None
    if len(order_ids) == 1 and _needs_refund_account(order_ids[0]):
        account = refund_account_form()
    elif len(order_ids) > 1:
        st.caption(
            "A virtual-account payment that was paid in needs the customer's bank account: "
            "reject such an order on its own."
        )
    with st.container(horizontal=True):
        submit = st.button("Reject", key="orders_reject_submit", type="primary")
        cancel = st.button("Cancel", key="orders_reject_cancel")
    if cancel:
        _close_dialogs()
        st.rerun()
    if submit:
        reason = (reason or "").strip()
        if len(reason) < MIN_REASON:
            st.error(f"Give a reason (at least {MIN_REASON} characters).")
            return
        if account is not None and not _account_typed(account):
            return
        with st.spinner("Rejecting…"):
            reject(principal, order_ids, reason, account)
        _close_dialogs()
        st.rerun()


@session_guard.dialog("Refund", on_dismiss=_close_dialogs)
def refund_dialog(principal: Principal) -> None:
    order_id = st.session_state.get(REFUNDING)
    if not order_id:
        st.rerun()
    try:
        found = runtime.engine().query("orders_one", order_id=int(order_id))
    except BackofficeError as exc:
        show_error(exc)
        return
    if found.empty:
        st.error(f"No order {order_id}.")
        return
    order = _records(found)[0]
    customer = escape_markdown(mask("name", found["customer"].iloc[0]))
    balance = order["balance"] or 0
    st.markdown(
        f"Order **#{order['id']}** · {customer} · {order['status'].replace('_', ' ')}  \n"
        f"Paid ₩{order['amount']:,} · balance **₩{balance:,}**"
    )
    if order["status"] not in REFUNDABLE or balance <= 0:
        st.warning("Nothing on this order can be refunded.")
        return
    amount = st.number_input(
        "Amount (₩)",
        key=f"orders_refund_amount_{order['id']}",
        min_value=1,
        max_value=balance,
        value=balance,
        step=1_000,
        help="Partial refunds are allowed, up to the balance.",
    )
    reason = st.text_input("Reason", key="orders_refund_reason", max_chars=MAX_REFUND_REASON)
    account = None
    if _asks_refund_account(found["method"].iloc[0], order["payment_key"]):
        account = refund_account_form()
    with st.container(horizontal=True):
        submit = st.button(
            f"Refund ₩{int(amount or 0):,}", key="orders_refund_submit", type="primary"
        )
        cancel = st.button("Cancel", key="orders_refund_cancel")
    if cancel:
        _close_dialogs()
        st.rerun()
    if submit:
        reason = (reason or "").strip()
        if not amount or not 1 <= int(amount) <= balance:
            st.error(f"Refund between ₩1 and the balance, ₩{balance:,}.")
            return
        if len(reason) < MIN_REASON:
            st.error(f"Give a reason (at least {MIN_REASON} characters).")
            return
        if account is not None and not _account_typed(account):
            return
        with st.spinner("Refunding through the gateway…"):
            refund(principal, order["id"], order["payment_key"], int(amount), reason, account)
        _close_dialogs()
        st.rerun()


def _needs_refund_account(order_id: int) -> bool:
    """Whether to ask for the customer's bank account for this order's payment (see
    _asks_refund_account); False if the shop cannot say (the action decides then)."""
    try:
        found = runtime.engine().query("orders_one", order_id=int(order_id))
    except BackofficeError:
        return False
    if found.empty:
        return False
    key = found["payment_key"].iloc[0]
    return _asks_refund_account(found["method"].iloc[0], None if pd.isna(key) else str(key))


def _asks_refund_account(method: Any, payment_key: str | None) -> bool:
    """Whether a cancel of this payment may need the customer's bank account: a
    virtual-account payment that the gateway does not say is still waiting for its deposit.
    The shop's copy of the status is not asked: it can be behind (the customer paid in since),
    and then the account would never be asked for."""
    if not is_virtual_account(method):
        return False  # nothing to ask the gateway
    looked_up = lookup_payment(payment_key) if payment_key else None
    status = looked_up.status if isinstance(looked_up, Payment) else None
    return may_need_account(method, status)


def _account_typed(account: Mapping[str, str]) -> bool:
    """Check the typed account by the action's own rule, so the dialog stays open with what
    was typed; says what is missing or wrong."""
    if not all(account.values()):
        st.error("Give the customer's bank, account number and account holder.")
        return False
    try:
        parse_refund_account(account)
    except ValidationFailed as exc:
        st.error(str(exc))
        return False
    return True


def refund_account_form() -> dict[str, str]:
    """The customer's bank account a paid-in virtual-account payment is refunded to, as typed
    (the action validates it; it is sent to the gateway and audited masked, never stored)."""
    st.info(WHY + " Ask the customer for it.", icon=":material/account_balance:")
    bank = st.selectbox(
        "Bank",
        list(BANKS),
        index=None,
        key="orders_refund_bank",
        format_func=lambda code: BANKS.get(code, code),
        placeholder="The customer's bank",
    )
    number = st.text_input(
        "Account number",
        key="orders_refund_account_number",
        max_chars=MAX_ACCOUNT_NUMBER,
        help=f"Digits only, up to {MAX_ACCOUNT_NUMBER}.",
    )
    holder = st.text_input("Account holder", key="orders_refund_holder", max_chars=MAX_HOLDER_NAME)
    return {
        "bank": bank or "",
        "account_number": (number or "").strip(),
        "holder_name": (holder or "").strip(),
    }


# --- the payment as the gateway holds it -----------------------------------------------------


def lookup_payment(payment_key: str) -> Payment | str:
    """The gateway's Payment, or a one-line reason it could not be read; kept per session
    until an action touches that payment or the user asks again."""
    cache: dict[str, Payment | str] = st.session_state.setdefault(PAYMENTS, {})
    if payment_key not in cache:
        try:
            client = action_context().payments
            if client is None:
                cache[payment_key] = "No payment gateway is configured."
            else:
                with st.spinner("Asking the payment gateway…"):
                    cache[payment_key] = client.get(payment_key)
        except BackofficeError as exc:
            cache[payment_key] = str(exc)
    return cache[payment_key]


def _forget_payment(payment_key: str) -> None:
    st.session_state.get(PAYMENTS, {}).pop(payment_key, None)


def payment_panel(selected: Sequence[Mapping[str, Any]]) -> None:
    st.subheader("Payment", divider="gray")
    if len(selected) != 1:
        st.caption("Select one order to see its payment as the gateway holds it.")
        return
    row = selected[0]
    key = row["payment_key"]
    if not key:
        st.info(f"Order #{row['id']} has no payment.")
        return
    payment = lookup_payment(key)
    if isinstance(payment, str):
        st.error(escape_markdown(payment), icon=":material/error:")
        st.button(
            "Ask the gateway again",
            key="orders_payment_retry",
            on_click=_forget_payment,
            args=(key,),
            icon=":material/refresh:",
        )
        return
    status = payment.status.replace("_", " ").capitalize()
    st.caption(
        f"Order #{row['id']} · payment {escape_markdown(payment.payment_key)} · "
        f"{escape_markdown(payment.method.replace('_', ' '))} · as the gateway holds it: "
        f"**{escape_markdown(status)}**"
    )
    m = st.columns(3)
    m[0].metric("Paid", f"₩{payment.total_amount:,}")
    m[1].metric("Refunded", f"₩{payment.total_amount - payment.balance_amount:,}")
    m[2].metric("Balance", f"₩{payment.balance_amount:,}")
    if row["balance"] is not None and row["balance"] != payment.balance_amount:
        st.warning(
            f"The shop records a balance of ₩{row['balance']:,}; the gateway says "
            f"₩{payment.balance_amount:,}. The gateway's figure is the one that counts.",
            icon=":material/sync_problem:",
        )
    if payment.cancels:
        st.markdown("**Cancels**")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "canceled_at": pd.to_datetime(c.canceled_at, utc=True, errors="coerce"),
                        "amount": c.amount,
                        "reason": c.reason,
                        "transaction_key": c.transaction_key,
                    }
                    for c in payment.cancels
                ]
            ),
            hide_index=True,
            width="stretch",
            column_config={
                "canceled_at": st.column_config.DatetimeColumn(
                    "Canceled at (UTC)", format="YYYY-MM-DD HH:mm:ss"
                ),
                "amount": st.column_config.NumberColumn("Amount", format="₩%,d"),
                "reason": st.column_config.TextColumn("Reason"),
                "transaction_key": st.column_config.TextColumn("Transaction key"),
            },
        )
    else:
        st.caption("No cancels on this payment.")
    st.button(
        "Ask the gateway again",
        key="orders_payment_refresh",
        on_click=_forget_payment,
        args=(key,),
        icon=":material/refresh:",
        type="tertiary",
    )


# --- the page --------------------------------------------------------------------------------


@session_guard.fragment
def orders_grid(principal: Principal, filters: Filters) -> None:
    """Results, buttons, the table, its pager and the selected payment: one fragment, so a
    selection, a page turn or an approval reruns only this part."""
    engine = runtime.engine()
    show_results()
    try:
        with st.spinner("Loading orders…"):
            total = count_orders(engine, filters)
    except BackofficeError as exc:
        show_error(exc)
        return
    if total == 0:
        st.info(EMPTY, icon=":material/search_off:")
        st.session_state[SHOWN] = []
        return
    bar = st.container()
    table = st.container()
    offset = pager(total, PAGE_SIZE, P_PAGE)  # drawn below the table, read before it
    try:
        with st.spinner("Loading orders…"):
            df = page_of_orders(engine, filters, offset)
    except BackofficeError as exc:
        show_error(exc)
        return
    rows = _records(df)
    follow_selection(rows)
    with table:
        event = st.dataframe(
            display_frame(df),
            key=TABLE,
            on_select="rerun",
            selection_mode="multi-row",
            hide_index=True,
            width="stretch",
            height=36 * (len(df) + 1) + 2,
            column_config=COLUMN_CONFIG,
        )
    st.session_state[SHOWN] = rows
    selected = [rows[i] for i in event.selection.rows if 0 <= i < len(rows)]
    with bar:
        toolbar(principal, selected)
    if st.session_state.get(REJECTING):
        reject_dialog(principal)
    elif st.session_state.get(REFUNDING):
        refund_dialog(principal)
    payment_panel(selected)


def render(principal: Principal) -> None:
    """The whole page for a principal that may open it."""
    engine = runtime.engine()
    st.title("Orders & payments")
    freshness = st.container()  # filled last, once the sources have been read
    sellers = load_sellers(engine)
    start = seed(sellers)
    for note in st.session_state.pop(NOTES, []):
        st.caption(escape_markdown(note))  # it quotes the URL
    filters = filter_form(sellers, start)
    state = st.session_state
    if state.get(VIEW) is not None and state[VIEW] != filters:
        state[P_PAGE] = 1  # new filters or sort: back to the first page
    state[VIEW] = filters
    url_state.write(filters.url())
    problem = filters.problem()
    if problem:
        st.warning(problem, icon=":material/filter_alt_off:")
    elif refused := pii_search.record_once(
        state, SEARCHED, action_context().audit, principal, filters.search, "order"
    ):
        st.warning(refused, icon=":material/hourglass:")
    else:
        if filters.search.kind is not None:
            st.caption(pii_search.NOTE)
        orders_grid(principal, filters)
    with freshness:
        freshness_bar(engine, SOURCES, "orders")
