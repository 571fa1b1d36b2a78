"""The Orders & payments page, declared as a table page (lib.ui.table_page).

- Filters (search, status, seller, dates, amounts, sort) are mirrored in the URL
  (`/orders?status=pending&q=4321&sort=-amount&page=2`) and restored from it; a search on
  a customer's name or e-mail follows lib.access.pii_search's rules and stays out of the URL.
- The list runs in the shop's own database (queries/orders_page.sql, a source query:
  lib.reading.source_query), one index range read per page however large the shop: the
  count stops at 10,000 ("10,000+"), Next and Previous read by keyset. Customer names come
  from the crm by the page's ids (customers_names.sql) and are masked; a search on a name or
  an e-mail finds the customers' ids first (customers_matching.sql, at most 5,000) and then
  their orders. Status is read live on every run.
- Sorts are the ones an index serves: ordered at, order id, amount, status (within a status
  by time). Balance, method and seller are not offered: each would sort the whole filtered
  table on every page.
- Approve / Reject / Refund / Reconcile act on the selected rows, one action per row, each
  with its own result (lib.ui.orders_dialogs holds the reject and refund dialogs).
- The panel below the table is the selected order's payment as the gateway holds it
  (lib.ui.payment_panel).

app_pages/orders.py calls `render(principal)`; nothing here writes SQL or changes a record
except through `lib.actions.run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from lib.access import pii_search
from lib.access.masking import mask_frame
from lib.access.principal import Principal
from lib.actions.orders import REFUNDABLE
from lib.config import runtime
from lib.errors import BackofficeError
from lib.ui import orders_dialogs, table_page, url_state
from lib.ui.orders_dialogs import CUSTOMER_NAME
from lib.ui.payment_panel import forget_payments, payment_panel, undecided
from lib.ui.source_listing import SourceQuery, TooManyMatches
from lib.ui.table_filters import Choice, DateRange, MultiChoice, NumberRange, Search, Sort
from lib.ui.table_page import Row, RowAction, TablePage

STATUSES = ("pending", "approved", "rejected", "refunded", "partially_refunded")
# An index's order each (queries/orders_page.sql `-- sortable:`).
SORTS = {"ordered_at": "Ordered at", "id": "Order id", "amount": "Amount", "status": "Status"}
MAX_CUSTOMERS = 5_000  # a name search filters by at most this many customers' ids
PAGE_SIZE = 20
PAYMENT_KEY_PREFIX = "tpk_"  # the gateway's payment keys: searched by their beginning
EMPTY = "No orders match these filters."

COLUMNS = {
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


def load_sellers() -> dict[int, str]:
    """Seller id -> name, for the seller filter; empty if the shop cannot be read (the table
    below says what is wrong with the source)."""
    try:
        df = runtime.source_queries().run("orders_sellers")
    except BackofficeError:
        return {}
    return {int(i): str(n) for i, n in zip(df["id"], df["name"], strict=True)}


def display(df: pd.DataFrame) -> pd.DataFrame:
    """The columns people see, customer names masked (nobody unmasks on this page)."""
    out = mask_frame(df[list(COLUMNS)], {"customer": "name"})
    out["status"] = out["status"].str.replace("_", " ")
    out["method"] = out["method"].str.replace("_", " ")
    return out


def records(df: pd.DataFrame) -> list[Row]:
    """Plain values of what the buttons need."""
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


def _search_params(search: pii_search.Search) -> dict[str, Any]:
    return {"search": search}  # turned into the query's parameters by query_params


def _customer_ids(search: pii_search.Search) -> list[int]:
    """The ids of the customers a name or e-mail search names (lib.access.pii_search's
    rules); more than MAX_CUSTOMERS is refused rather than cut short."""
    found = runtime.source_queries().run("customers_matching", **search.key_params())
    if len(found) > MAX_CUSTOMERS:
        raise TooManyMatches(
            f"More than {MAX_CUSTOMERS:,} customers' names start with "
            f"'{search.masked_term()}': type more of the name."
        )
    return [int(i) for i in found["id"]]


def _day_start(iso: str | None, days: int = 0) -> datetime | None:
    return None if not iso else datetime.combine(date.fromisoformat(iso), time()) + timedelta(days)


def query_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The filters' values as orders_page.sql's parameters. The search: an order id exactly;
    a customer's name by its beginning or an e-mail whole, as those customers' ids; other
    text (tpk_…) as the beginning of a payment key."""
    out: dict[str, Any] = {
        "statuses": list(params.get("statuses") or []),
        "seller_id": params.get("seller_id"),
        "min_amount": params.get("min_amount"),
        "max_amount": params.get("max_amount"),
        "ordered_from": _day_start(params.get("date_from")),
        "ordered_before": _day_start(params.get("date_to"), days=1),  # the whole last day
    }
    search: pii_search.Search = params.get("search") or pii_search.Search()
    text = search.text or ""
    if search.id is not None:
        out["q_id"] = search.id
    elif text.lower().startswith(PAYMENT_KEY_PREFIX) or (text and search.kind is None):
        out["key_lo"], out["key_hi"], out["key_like"] = pii_search.name_range(text)
    elif search.kind is not None:
        ids = _customer_ids(search)
        out["customer_ids"] = ids
        out["match_nothing"] = True if not ids else None
    return out


def _pending(row: Row) -> bool:
    return row["status"] == "pending"


def _refundable(row: Row) -> bool:
    return row["status"] in REFUNDABLE and (row["balance"] or 0) > 0


def _order(row: Row) -> dict[str, Any]:
    return {"order_id": row["id"]}


def _forget_touched(action: str, rows: Sequence[Row]) -> None:
    """What the gateway said about the payments an action touched is stale now."""
    forget_payments(r.get("payment_key") for r in rows)


PAGE = TablePage(
    name="orders",
    title="Orders & payments",
    listing=SourceQuery("orders_page", prepare=query_params, lookups=(CUSTOMER_NAME,)),
    filters=(
        # The search reaches a customer's name and e-mail, not the phone: a number is an id.
        Search(
            placeholder="Order id, payment key, customer name or e-mail",
            pii_target="order",
            kinds=("email", "name"),
            bind=_search_params,
        ),
        MultiChoice("status", "Status", STATUSES, query="status", placeholder="Any status"),
        Choice(
            "seller",
            "Seller",
            options=load_sellers,
            query="seller_id",
            any_label="Any seller",
            parse=lambda raw: url_state.parse_int(raw, minimum=1),
        ),
        DateRange(),
        NumberRange("Min amount (₩)", "Max amount (₩)", query="amount", step=10_000),
    ),
    sort=Sort(SORTS, ("ordered_at", "desc")),
    columns=COLUMNS,
    records=records,
    display=display,
    actions=(
        RowAction(
            "order.approve",
            "Approve",
            _order,
            applies=_pending,
            primary=True,
            icon=":material/check:",
            help="Approve every selected pending order, each on its own.",
        ),
        RowAction(
            "order.reject",
            "Reject…",
            _order,
            applies=_pending,
            dialog=orders_dialogs.reject_dialog,
            icon=":material/block:",
            help="Reject the selected pending orders and cancel their payments.",
        ),
        RowAction(
            "order.refund",
            "Refund…",
            _order,
            applies=_refundable,
            dialog=orders_dialogs.refund_dialog,
            single=True,
            icon=":material/currency_exchange:",
            help="Refund all or part of one selected order's balance.",
        ),
        RowAction(
            "order.reconcile",
            "Reconcile",
            _order,
            applies=lambda row: row["id"] in undecided([row["id"]]),
            hidden_unless_applicable=True,
            icon=":material/sync:",
            help="Ask the gateway whether each undecided refund happened, under its own "
            "idempotency key, and record the answer.",
        ),
    ),
    sources=(),  # read live from the shop and the crm on every run: no snapshot to date
    empty=EMPTY,
    page_size=PAGE_SIZE,
    panel=payment_panel,
    after_action=_forget_touched,
)


def render(principal: Principal) -> None:
    """The whole page for a principal that may open it."""
    table_page.render(PAGE, principal)
