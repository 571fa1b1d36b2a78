"""The Seller portal page: one seller's catalogue, and the edits a seller may make to it.

- Whose catalogue: decided here, server side, from the signed-in principal (`tenant_for`).
  A seller always reads its own tenant, whatever the URL says (`?tenant=2` is ignored and
  dropped from the URL); only staff who see every tenant (policy.sees_all_tenants) pick a
  seller, from a selectbox mirrored in the URL as `tenant`. Every product query binds
  `$seller_id`: there is no unfiltered product read.
- Filters (name search, category, active / inactive / all, sort) and the page number are
  mirrored in the URL (`/seller?q=linen&category=fashion&status=active&sort=price&page=2`)
  and restored from it. The table is paged in DuckDB (queries/products_list.sql,
  products_count.sql): the browser gets one page.
- Price and stock are edited in the table; "Save changes" sends one product.update per
  changed row, each with the row's updated_at as it was shown (a row changed meanwhile
  conflicts instead of being overwritten), and lists each row's result.
- "New product" opens a form in a dialog that runs product.create; the action's own
  validation message is shown in the dialog, which closes once the product is created.
- "Deactivate" takes the chosen products off sale (product.deactivate each), after a
  confirmation: nothing on this page puts a product back on sale.

Every write goes through `lib.actions.run`, which checks the role and the tenant again.
app_pages/seller.py calls `render(principal)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.actions.base import Result
from lib.actions.products import CATEGORIES
from lib.config import runtime
from lib.errors import BackofficeError
from lib.reading.engine import Engine
from lib.ui import session_guard, url_state
from lib.ui.widgets import (
    RESULT_ICONS,
    escape_markdown,
    freshness_bar,
    keep_results,
    pager,
    results_panel,
    show_error,
)

SOURCES = ("shop",)
PAGE_SIZE = 20
EMPTY = "No products match these filters."
EDITABLE = ("price", "stock")

STATUSES = {"all": "All products", "active": "On sale", "inactive": "Off sale"}
DEFAULT_STATUS = "all"
ACTIVE_PARAM = {"all": None, "active": True, "inactive": False}
# URL form of a sort ("-price" = price, highest first) -> its label.
SORTS = {
    "-id": "Newest first",
    "id": "Oldest first",
    "name": "Name (A–Z)",
    "-name": "Name (Z–A)",
    "price": "Price (low to high)",
    "-price": "Price (high to low)",
    "stock": "Stock (low to high)",
    "-stock": "Stock (high to low)",
    "-updated_at": "Recently updated",
}
DEFAULT_SORT = "-id"
ANY_CATEGORY = ""

# URL parameters.
P_Q, P_CATEGORY, P_STATUS, P_SORT, P_PAGE, P_TENANT = (
    "q",
    "category",
    "status",
    "sort",
    "page",
    "tenant",
)
# Widget keys: prefixed, so a filter of another page (customers' "q") never leaks in here.
K_Q, K_CATEGORY, K_STATUS, K_SORT, K_TENANT = (
    "seller_q",
    "seller_category",
    "seller_status",
    "seller_sort",
    "seller_tenant",
)
EDITOR = "products_editor"  # the data editor's edit state
DEACTIVATE = "seller_deactivate_ids"  # the products chosen to deactivate
NEW_NAME, NEW_CATEGORY, NEW_PRICE, NEW_STOCK = (
    "seller_new_name",
    "seller_new_category",
    "seller_new_price",
    "seller_new_stock",
)
# The page's own session state.
SHOWN = "seller_shown"  # the rows of the last render: what the user saw and edited
VIEW = "seller_view"  # tenant and filters of the last run, to go back to page 1 on a change
RESULTS = "seller_results"  # the last save / deactivation's results
CREATING = "seller_creating"  # the New product dialog is open
DEACTIVATING = "seller_deactivating"  # the confirmation dialog is open for these ids
NOTES = "seller_notes"  # said once, above the table

# The editable columns come right after the name, so they are on screen on a phone too.
DISPLAY_COLUMNS = ["id", "name", "price", "stock", "category", "active", "updated_at"]
ROW_HEIGHT = 35  # px, Streamlit's grid rows (and its header)


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


def load_sellers(engine: Engine, principal: Principal) -> dict[int, str]:
    """Seller id -> name: a seller's own entry only, or every seller for staff."""
    if policy.sees_all_tenants(principal):
        seller_id = None
    elif principal.tenant is None:
        return {}
    else:
        seller_id = int(principal.tenant)
    df = engine.query("products_sellers", seller_id=seller_id)
    return {int(i): str(n) for i, n in zip(df["id"], df["name"], strict=True)}


# --- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the table shows; None / the defaults mean "any"."""

    q: str | None = None
    category: str | None = None
    status: str = DEFAULT_STATUS
    sort: str = DEFAULT_SORT

    def params(self) -> dict[str, Any]:
        """The bound filter parameters of products_list.sql / products_count.sql."""
        return {"q": self.q, "category": self.category, "active": ACTIVE_PARAM[self.status]}

    def order(self) -> tuple[str, str]:
        """(column, direction) for Engine.query's `sort`."""
        return (self.sort[1:], "desc") if self.sort.startswith("-") else (self.sort, "asc")

    def url(self) -> dict[str, object]:
        return {
            P_Q: self.q,
            P_CATEGORY: self.category,
            P_STATUS: None if self.status == DEFAULT_STATUS else self.status,
            P_SORT: None if self.sort == DEFAULT_SORT else self.sort,
        }


def seed(principal: Principal) -> None:
    """Fill the filter widgets from the URL when the page is entered.

    Streamlit drops a widget's state on a run that does not draw it, so a missing status
    widget means this run enters the page: the URL says what to show, and nothing kept
    from an earlier visit (page number, pending edits, results) applies."""
    state = st.session_state
    qp = st.query_params
    if K_STATUS not in state:
        # "page" is the pager's plain key, shared with the other pages' pagers.
        for key in (P_PAGE, VIEW, SHOWN, RESULTS, CREATING, DEACTIVATING, EDITOR):
            state.pop(key, None)
        state[K_Q] = qp.get(P_Q, "")
        state[K_CATEGORY] = qp.get(P_CATEGORY) if qp.get(P_CATEGORY) in CATEGORIES else ANY_CATEGORY
        state[K_STATUS] = qp.get(P_STATUS) if qp.get(P_STATUS) in STATUSES else DEFAULT_STATUS
        state[K_SORT] = qp.get(P_SORT) if qp.get(P_SORT) in SORTS else DEFAULT_SORT
        if qp.get(P_TENANT) and not policy.sees_all_tenants(principal):
            state.setdefault(NOTES, []).append(
                "This link named a seller; the seller portal shows your own catalogue."
            )
    if policy.sees_all_tenants(principal) and K_TENANT not in state:
        state[K_TENANT] = url_state.parse_int(qp.get(P_TENANT), minimum=1)


def tenant_picker(principal: Principal, sellers: Mapping[int, str]) -> int | None:
    """Staff: a selectbox of every seller (mirrored in the URL). A seller: its own tenant."""
    if not policy.sees_all_tenants(principal):
        return tenant_for(principal, None)
    state = st.session_state
    options = list(sellers)
    if state.get(K_TENANT) not in options:  # none yet, or not a seller: the first seller
        state[K_TENANT] = tenant_for(principal, state.get(K_TENANT), options)
    if not options:
        return None
    st.selectbox(
        "Seller",
        options,
        key=K_TENANT,
        format_func=lambda i: f"{sellers.get(i, 'Seller')} (#{i})",
        help="Staff may open any seller's catalogue.",
    )
    return tenant_for(principal, state[K_TENANT], options)


def filter_form() -> Filters:
    """The filter widgets; returns what they say."""
    state = st.session_state
    with st.container(border=True):
        top = st.columns([3, 2, 2, 2])
        top[0].text_input("Search", key=K_Q, placeholder="Product name", icon=":material/search:")
        top[1].selectbox(
            "Category",
            [ANY_CATEGORY, *CATEGORIES],
            key=K_CATEGORY,
            format_func=lambda c: c.capitalize() if c else "Any category",
        )
        top[2].selectbox("Show", list(STATUSES), key=K_STATUS, format_func=STATUSES.get)
        top[3].selectbox("Sort", list(SORTS), key=K_SORT, format_func=SORTS.get)
    q = (state[K_Q] or "").strip()
    return Filters(
        q=q or None,
        category=state[K_CATEGORY] or None,
        status=state[K_STATUS],
        sort=state[K_SORT],
    )


# --- reading ---------------------------------------------------------------------------------


def count_products(engine: Engine, tenant: int, filters: Filters) -> int:
    return int(
        engine.query("products_count", seller_id=int(tenant), **filters.params())["total"].iloc[0]
    )


def page_of_products(engine: Engine, tenant: int, filters: Filters, offset: int) -> pd.DataFrame:
    return engine.query(
        "products_list",
        sort=filters.order(),
        seller_id=int(tenant),
        limit=PAGE_SIZE,
        offset=offset,
        **filters.params(),
    )


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
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


COLUMN_CONFIG = {
    "id": st.column_config.NumberColumn("ID", format="%d", width="small"),
    "name": st.column_config.TextColumn("Name", width="medium"),
    "category": st.column_config.TextColumn("Category", width="small"),
    "price": st.column_config.NumberColumn(
        "Price", format="₩%,d", min_value=1, step=1, required=True, help="Editable"
    ),
    "stock": st.column_config.NumberColumn(
        "Stock", format="%,d", min_value=0, step=1, required=True, help="Editable"
    ),
    "active": st.column_config.CheckboxColumn("On sale", width="small"),
    "updated_at": st.column_config.DatetimeColumn("Updated", format="YYYY-MM-DD HH:mm"),
}


# --- edits -----------------------------------------------------------------------------------


def edited_rows() -> dict[int, dict[str, Any]]:
    """The data editor's cell edits: row position -> {column: new value}."""
    raw = st.session_state.get(EDITOR)
    try:
        edited = raw["edited_rows"]
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


def forget_stale_edits(rows: Sequence[Mapping[str, Any]]) -> None:
    """Drop unsaved edits when the rows shown changed under them (another page, sort or
    filter, or another user's new product): an edit is a position in the table and must
    never land on whichever product slid into that position."""
    before = st.session_state.get(SHOWN)
    if before is None or [r["id"] for r in before] == [r["id"] for r in rows]:
        return
    if edited_rows():
        st.session_state.setdefault(NOTES, []).append(
            "Unsaved edits were dropped: the list changed under them."
        )
    st.session_state.pop(EDITOR, None)


def _record(title: str, results: Sequence[Result]) -> None:
    keep_results(RESULTS, title, results)


def save_edits(principal: Principal) -> None:
    """One product.update per changed row, with the updated_at the row was shown with."""
    shown = st.session_state.get(SHOWN) or []
    actor = session_guard.actor(principal)
    results = [
        actions.run(
            "product.update",
            actor,
            product_id=row["id"],
            expected_updated_at=row["version"],
            **params,
        )
        for row, params in changes(shown, edited_rows())
    ]
    st.session_state.pop(EDITOR, None)  # the table re-reads what was saved
    if results:
        _record("Save changes", results)


def discard_edits() -> None:
    st.session_state.pop(EDITOR, None)


def deactivate(principal: Principal, product_ids: Sequence[int]) -> None:
    """product.deactivate for each product, each with its own result."""
    actor = session_guard.actor(principal)
    results = [actions.run("product.deactivate", actor, product_id=i) for i in product_ids]
    _record("Deactivate", results)


def show_results() -> None:
    results_panel(RESULTS)


def _open_deactivate() -> None:
    st.session_state[DEACTIVATING] = tuple(st.session_state.get(DEACTIVATE) or ())


def _close_dialog() -> None:
    st.session_state[DEACTIVATING] = None


@session_guard.dialog("Take products off sale", on_dismiss=_close_dialog)
def deactivate_dialog(principal: Principal) -> None:
    product_ids = st.session_state.get(DEACTIVATING)
    if not product_ids:
        st.rerun()
    names = {r["id"]: r["name"] for r in st.session_state.get(SHOWN) or []}
    for i in product_ids:
        st.markdown(f"- #{i} {escape_markdown(names.get(i, ''))}")
    st.caption("They stay in your catalogue, off sale. This page cannot put them back on sale.")
    with st.container(horizontal=True):
        confirm = st.button(
            "Take off sale",
            key="seller_deactivate_confirm",
            type="primary",
            icon=":material/block:",
        )
        cancel = st.button("Cancel", key="seller_deactivate_cancel")
    if cancel:
        _close_dialog()
        st.rerun()
    if confirm:
        with st.spinner("Deactivating…"):
            deactivate(principal, product_ids)
        st.session_state.pop(DEACTIVATE, None)
        _close_dialog()
        st.rerun()


def deactivate_bar(principal: Principal, rows: Sequence[Mapping[str, Any]]) -> None:
    """Choose products on sale on this page and take them off sale."""
    if not policy.may_run(principal, "product.deactivate"):
        return
    options = [r["id"] for r in rows if r["active"]]
    names = {r["id"]: r["name"] for r in rows}
    state = st.session_state
    state[DEACTIVATE] = [i for i in state.get(DEACTIVATE) or [] if i in options]
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.multiselect(
            "Take off sale",
            options,
            key=DEACTIVATE,
            format_func=lambda i: f"#{i} {names.get(i, '')}",
            placeholder="Products on sale on this page",
            width=420,
        )
        st.button(
            "Deactivate…",
            key="seller_deactivate",
            icon=":material/block:",
            disabled=not state[DEACTIVATE],
            on_click=_open_deactivate,
        )


# --- new product -----------------------------------------------------------------------------


def _open_create() -> None:
    st.session_state[CREATING] = True


def _close_create() -> None:
    st.session_state[CREATING] = False


def create_product(principal: Principal, tenant: int) -> Result:
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
        _record("New product", [replace(result, message=f"{result.message} “{name}” is on sale.")])
    return result


def invalid_message(result: Result) -> str:
    """ "Not created: Price must be at least 1." from the action's "price must be at least 1"."""
    if result.outcome != "invalid":
        return result.message
    return f"Not created: {result.message[:1].upper()}{result.message[1:]}."


@session_guard.dialog("New product", on_dismiss=_close_create)
def new_product_dialog(principal: Principal, tenant: int, seller: str) -> None:
    st.caption(f"Adds an on-sale product to {escape_markdown(seller)}’s catalogue.")
    with st.form("seller_new_product", border=False):
        st.text_input("Name", key=NEW_NAME, max_chars=120)
        st.selectbox(
            "Category",
            CATEGORIES,
            index=None,
            key=NEW_CATEGORY,
            format_func=str.capitalize,
            placeholder="Choose a category",
        )
        left, right = st.columns(2)
        left.number_input("Price (₩)", key=NEW_PRICE, value=None, min_value=0, step=1_000)
        right.number_input("Stock", key=NEW_STOCK, min_value=0, step=1)
        submitted = st.form_submit_button(
            "Create product", key="seller_create", type="primary", icon=":material/add:"
        )
    if submitted:
        with st.spinner("Creating…"):
            result = create_product(principal, tenant)
        if result.ok:
            state = st.session_state
            state[CREATING] = False
            state[P_PAGE] = 1  # newest first: it is at the top of the first page
            st.rerun()
        st.error(escape_markdown(invalid_message(result)), icon=RESULT_ICONS.get(result.outcome))


# --- the page --------------------------------------------------------------------------------


@session_guard.fragment
def products_grid(principal: Principal, tenant: int, filters: Filters) -> None:
    """Results, the editable table, its pager and the deactivate bar: one fragment, so an
    edit, a save or a page turn reruns only this part."""
    engine = runtime.engine()
    state = st.session_state
    show_results()
    try:
        with st.spinner("Loading products…"):
            total = count_products(engine, tenant, filters)
    except BackofficeError as exc:
        show_error(exc)
        return
    if total == 0:
        st.info(EMPTY, icon=":material/search_off:")
        state[SHOWN] = []
        state.pop(EDITOR, None)
        return
    table = st.container()
    offset = pager(total, PAGE_SIZE, P_PAGE)  # drawn below the table, read before it
    try:
        with st.spinner("Loading products…"):
            df = page_of_products(engine, tenant, filters, offset)
    except BackofficeError as exc:
        show_error(exc)
        return
    rows = records(df)
    forget_stale_edits(rows)
    state[SHOWN] = rows
    for note in state.pop(NOTES, []):
        table.caption(note)
    may_edit = policy.may_run(principal, "product.update")
    with table:
        st.data_editor(
            df[[*DISPLAY_COLUMNS, "seller_id"]],
            key=EDITOR,
            num_rows="fixed",
            hide_index=True,
            width="stretch",
            height=ROW_HEIGHT * (len(df) + 1) + 3,  # every row of the page, no inner scroll
            column_order=DISPLAY_COLUMNS,
            column_config=COLUMN_CONFIG,
            disabled=True if not may_edit else [c for c in DISPLAY_COLUMNS if c not in EDITABLE],
        )
        if may_edit:
            pending = changes(rows, edited_rows())
            with st.container(horizontal=True, vertical_alignment="center"):
                st.button(
                    f"Save changes ({len(pending)})" if pending else "Save changes",
                    key="seller_save",
                    type="primary",
                    icon=":material/save:",
                    disabled=not pending,
                    on_click=save_edits,
                    args=(principal,),
                    help="One update per changed row; a row changed meanwhile is not overwritten.",
                )
                st.button(
                    "Discard",
                    key="seller_discard",
                    disabled=not pending,
                    on_click=discard_edits,
                    type="tertiary",
                )
                st.caption("Edit price and stock in the table, then save.")
    deactivate_bar(principal, rows)
    if state.get(DEACTIVATING):
        deactivate_dialog(principal)


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
            key="seller_new",
            type="primary",
            icon=":material/add:",
            on_click=_open_create,
            width="stretch",
        )
    return name


def render(principal: Principal) -> None:
    """The whole page for a principal that may open it."""
    engine = runtime.engine()
    st.title("Seller portal")
    freshness = st.container()
    state = st.session_state
    seed(principal)
    try:
        sellers = load_sellers(engine, principal)
        source_error = None
    except BackofficeError as exc:
        sellers, source_error = {}, exc
    tenant = tenant_picker(principal, sellers)
    if tenant is None:
        if source_error is not None:
            show_error(source_error)
        else:
            st.error("No seller catalogue to show for this account.", icon=":material/error:")
        url_state.write({P_TENANT: None})
        return
    seller = header(principal, tenant, sellers)
    filters = filter_form()
    view = (tenant, filters)
    if state.get(VIEW) is not None and state[VIEW] != view:
        state[P_PAGE] = 1  # another seller, new filters or sort: back to the first page
    state[VIEW] = view
    url_state.write(
        {
            **filters.url(),
            # Only staff choose a tenant; for a seller any tenant in the URL is removed.
            P_TENANT: tenant if policy.sees_all_tenants(principal) else None,
        }
    )
    if source_error is not None:
        show_error(source_error)  # the table would fail the same way; creating still works
    else:
        products_grid(principal, tenant, filters)
    if state.get(CREATING):
        new_product_dialog(principal, tenant, seller)
    with freshness:
        freshness_bar(engine, SOURCES, "seller")
