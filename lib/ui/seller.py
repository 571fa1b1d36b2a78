"""The Seller portal (/seller): one seller's catalogue and the edits a seller may make to it,
declared as a table page (lib.ui.table_page).

- Whose catalogue (`scope`): decided here, server side, from the signed-in principal. A
  seller always reads its own tenant, whatever the URL says (`?tenant=2` is ignored, with a
  note, and dropped from the URL); only staff who see every tenant
  (policy.sees_all_tenants) pick a seller, from a selectbox that starts from the URL's
  `tenant` when the page is entered (lib.ui.url_state.entered) and is written back to it.
  The list query binds `seller_id` from the scope: there is no unfiltered product read.
- Filters (product name search, category, on sale / off sale / all, sort) and the page
  number are mirrored in the URL (`/seller?q=linen&category=fashion&status=active&sort=price`)
  and restored from it. One query (queries/seller_products.sql) reads one page and the total.
- The table is the editable grid of lib.ui.seller_grid; the New product form and the
  confirmation before taking products off sale are in lib.ui.seller_dialogs.

Every write goes through `lib.actions.run`, which checks the role and the tenant again.
app_pages/seller.py calls `render(principal)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from lib.access import policy
from lib.access.principal import Principal
from lib.actions.products import CATEGORIES, MAXIMUM, PRICE_MIN, STOCK_MIN
from lib.config import runtime
from lib.errors import BackofficeError
from lib.ui import seller_dialogs, seller_grid, seller_statement, table_page, url_state
from lib.ui.seller_dialogs import CHOSEN, CREATING
from lib.ui.table_filters import Choice, Search, Sort
from lib.ui.table_page import NamedQuery, Row, RowAction, TablePage
from lib.ui.widgets import escape_markdown, show_error

P_TENANT = "tenant"  # the URL's parameter for staff's chosen seller
OWN_CATALOGUE = "This link named a seller; the seller portal shows your own catalogue."
ACTIVE = {None: None, "active": True, "inactive": False}  # status -> bound `active`


# --- whose catalogue -------------------------------------------------------------------------


def tenant_for(
    principal: Principal, requested: int | None, sellers: Sequence[int] = ()
) -> int | None:
    """The seller id whose products this run reads and changes.

    A seller: always its own tenant; `requested` (from the URL or a widget) is ignored.
    Staff who see every tenant: `requested` if it names a known seller, else the first one.
    Anyone else: None (nothing is read)."""
    if policy.sees_all_tenants(principal):
        if requested is not None and requested in sellers:
            return requested
        return sellers[0] if sellers else None
    return principal.tenant


def load_sellers(principal: Principal) -> dict[int, str]:
    """Seller id -> name: a seller's own entry only, or every seller for staff."""
    if policy.sees_all_tenants(principal):
        seller_id = None
    elif principal.tenant is None:
        return {}
    else:
        seller_id = int(principal.tenant)
    df = runtime.source_queries().run("seller_sellers", seller_id=seller_id)
    return {int(i): str(n) for i, n in zip(df["id"], df["name"], strict=True)}


def asked_tenant() -> str | None:
    """The URL's `tenant` as the page was entered (lib.ui.url_state.entered), like the
    filters: read again only while staff's picker holds no choice (a new visit, a seller
    that is gone, or a seller's page, which has no picker)."""
    return url_state.entered(ASKED, TENANT, lambda: st.query_params.get(P_TENANT))


def picker(principal: Principal, sellers: Mapping[int, str]) -> int | None:
    """Staff: a selectbox of every seller, starting from the URL's `tenant` (its default,
    not session state, like the filters: lib.ui.table_filters)."""
    options = list(sellers)
    if not options:
        return None
    state = st.session_state
    if state.get(TENANT) is not None and state[TENANT] not in options:
        del state[TENANT]  # a seller that is gone: start again from the URL
    asked = url_state.parse_int(asked_tenant(), minimum=1)
    start = tenant_for(principal, asked, options)
    chosen = st.selectbox(
        "Seller",
        options,
        index=options.index(start),
        key=TENANT,
        format_func=lambda i: f"{sellers.get(i, 'Seller')} (#{i})",
        help="Staff may open any seller's catalogue.",
    )
    return tenant_for(principal, chosen, options)


def header(principal: Principal, tenant: int, sellers: Mapping[int, str]) -> str:
    """The seller's name and id, and the New product button; returns the name."""
    name = sellers.get(tenant, f"Seller #{tenant}")
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.subheader(escape_markdown(name), anchor=False)
    if policy.sees_all_tenants(principal):
        left.caption(f"Seller #{tenant} · you are viewing this catalogue as staff")
    else:
        left.caption(f"Seller #{tenant} · your catalogue")
    if policy.may_run(principal, "product.create"):
        right.button(
            "New product",
            key=PAGE.key("new"),
            type="primary",
            icon=":material/add:",
            on_click=seller_dialogs.open_create,
            args=(PAGE,),
            width="stretch",
        )
    return name


def scope(principal: Principal) -> dict[str, Any] | None:
    """The seller whose catalogue the page shows, bound as `seller_id`; None stops the page.
    Draws the staff's picker and the seller's header, and opens New product."""
    state = st.session_state
    try:
        sellers, problem = load_sellers(principal), None
    except BackofficeError as exc:  # a seller still gets its header; the table says why
        sellers, problem = {}, exc
    if policy.sees_all_tenants(principal):
        tenant = picker(principal, sellers)
    else:
        state.pop(TENANT, None)  # only staff's picker writes `tenant` to the URL
        if asked_tenant():
            st.caption(OWN_CATALOGUE)
        tenant = tenant_for(principal, None)
    if tenant is None:
        if problem is not None:
            show_error(problem)
        else:
            st.error("No seller catalogue to show for this account.", icon=":material/error:")
        url_state.write({P_TENANT: None})
        return None
    seller = header(principal, tenant, sellers)
    if state.get(PAGE.key(CREATING)):
        seller_dialogs.new_product(PAGE, principal, tenant, seller)
    return {"seller_id": int(tenant)}


def extra_url() -> dict[str, object]:
    """The staff's chosen seller; for a seller any tenant in the URL is removed."""
    return {P_TENANT: st.session_state.get(TENANT)}


# --- the table -------------------------------------------------------------------------------


def records(df: pd.DataFrame) -> list[Row]:
    """Plain Python values of each shown row: what saving and deactivating need."""
    return [
        {
            "id": int(r.id),
            "name": str(r.name),
            "price": int(r.price),
            "stock": int(r.stock),
            "active": bool(r.active),
            "version": str(r.version),
            "seller_id": int(r.seller_id),
        }
        for r in df.itertuples(index=False)
    ]


# The editable columns come right after the name, so they are on screen on a phone too.
COLUMNS = {
    "id": st.column_config.NumberColumn("ID", format="%d", width="small"),
    "name": st.column_config.TextColumn("Name", width="medium"),
    "price": st.column_config.NumberColumn(
        "Price",
        format="₩%,d",
        min_value=PRICE_MIN,
        max_value=MAXIMUM,
        step=1,
        required=True,
        help="Editable",
    ),
    "stock": st.column_config.NumberColumn(
        "Stock",
        format="%,d",
        min_value=STOCK_MIN,
        max_value=MAXIMUM,
        step=1,
        required=True,
        help="Editable",
    ),
    "category": st.column_config.TextColumn("Category", width="small"),
    "active": st.column_config.CheckboxColumn("On sale", width="small"),
    "updated_at": st.column_config.DatetimeColumn("Updated", format="YYYY-MM-DD HH:mm"),
}

PAGE = TablePage(
    name="seller",
    title="Seller portal",
    listing=NamedQuery("seller_products"),
    filters=(
        # A product name: not personal data, so it stays in the URL and is not audited.
        Search(label="Search", placeholder="Product name", pii_target=None),
        Choice(
            "category",
            "Category",
            {c: c.capitalize() for c in CATEGORIES},
            query="category",
            any_label="Any category",
        ),
        Choice(
            "status",
            "Status",
            {"active": "On sale", "inactive": "Off sale"},
            query="active",
            any_label="All products",
            bind=lambda status: {"active": ACTIVE.get(status)},
        ),
    ),
    sort=Sort(
        {
            "id": "Date added",
            "name": "Name",
            "price": "Price",
            "stock": "Stock",
            "category": "Category",
            "updated_at": "Last updated",
        },
        default=("id", "desc"),
    ),
    columns=COLUMNS,
    records=records,
    selection=None,  # the grid chooses the products to take off sale itself
    actions=(
        RowAction(
            "product.deactivate",
            "Deactivate…",
            params=lambda row: {"product_id": row["id"]},
            applies=lambda row: bool(row["active"]),
            dialog=lambda principal, rows: seller_dialogs.deactivate(PAGE, principal, rows),
            icon=":material/block:",
        ),
    ),
    sources=("shop",),
    empty="No products match these filters.",
    scope=scope,
    grid=lambda principal, df, rows: seller_grid.grid(PAGE, principal, df, rows),
    extra_url=extra_url,
    toolbar_below=True,
    # What a last visit left and this one must not find: unsaved edits (seller_grid's
    # editor), the products chosen to take off sale, an open New product form.
    forget_on_entry=("editor", CHOSEN, CREATING),
)
TENANT = PAGE.key("tenant")  # staff's seller picker (a widget), mirrored in the URL as `tenant`
ASKED = PAGE.key("tenant_asked")  # the URL's `tenant` as the page was entered


def render(principal: Principal) -> None:
    """The whole page for a principal that may open it: the catalogue, then the monthly
    statement of the same seller (the picker's for staff, its own for a seller)."""
    table_page.render(PAGE, principal)
    if policy.sees_all_tenants(principal):
        tenant = st.session_state.get(TENANT)  # the picker's seller, checked in `picker`
    else:
        tenant = principal.tenant
    if tenant is not None:
        seller_statement.statement_section(principal, int(tenant))
