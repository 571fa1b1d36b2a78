"""A table page, declared once and drawn by one renderer, as Django admin declares a
ModelAdmin (`list_filter`, `search_fields`, `ordering`, `actions`).

A page declares its list query, filters (lib.ui.table_filters), sort, columns, selection
and row actions; `render` draws the filter form mirrored in the URL, then one fragment with
the last action's results, the buttons the role may use, the paged and sorted table and the
page's own panel. An action runs once per selected row through `lib.actions.run`, each with
its own result (lib.ui.table_actions). See docs/adding-a-table-page.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import pandas as pd
import streamlit as st

from lib.access.principal import Principal
from lib.config import runtime
from lib.errors import BackofficeError
from lib.reading.source_query import Count
from lib.ui import session_guard, table_actions, table_paging, url_state
from lib.ui.table_filters import Filter, Search, Sort
from lib.ui.widgets import escape_markdown, freshness_bar, results_panel, show_error

Row = dict[str, Any]
ROW_HEIGHT = 35  # px: Streamlit's grid rows and header, so a page of rows has no empty row


class Listing(Protocol):
    """Where a table's rows come from: one page of them and the list's count (an int, or a
    Count that may be capped: "10,000+"). A listing that also has `fetch_page` (keyset:
    lib.ui.source_listing.SourceQuery) is paged from the rows shown (lib.ui.table_paging)."""

    def fetch(
        self, params: Mapping[str, Any], sort: tuple[str, str], limit: int, offset: int
    ) -> tuple[pd.DataFrame, int | Count]: ...


@dataclass(frozen=True)
class NamedQuery:
    """queries/<name>.sql through the DuckDB engine (lib.reading.engine.Engine.page)."""

    name: str

    def fetch(
        self, params: Mapping[str, Any], sort: tuple[str, str], limit: int, offset: int
    ) -> tuple[pd.DataFrame, int]:
        return runtime.engine().page(self.name, sort=sort, limit=limit, offset=offset, **params)


@dataclass(frozen=True)
class RowAction:
    """A button acting on the selected rows: `action` (lib.actions name, and the policy's
    permission) runs once per row that `applies`, with `params(row)`. With a `dialog`, the
    button opens it instead; the dialog collects what the action needs and calls
    `lib.ui.table_actions.run_action`."""

    action: str
    label: str
    params: Callable[[Row], dict[str, Any]]
    applies: Callable[[Row], bool] = lambda row: True
    dialog: Callable[[Principal, Sequence[Row]], None] | None = None
    single: bool = False  # acts on one selected row only
    hidden_unless_applicable: bool = False
    primary: bool = False
    icon: str | None = None
    help: str | None = None


Scope = Callable[[Principal], dict[str, Any] | None]


@dataclass(frozen=True)
class TablePage:
    name: str  # the page's name: its session keys, widget keys and URL path
    title: str
    listing: Listing
    sort: Sort
    columns: Mapping[str, Any]  # shown column -> st.column_config
    records: Callable[[pd.DataFrame], list[Row]]  # plain values of what actions need; has "id"
    filters: tuple[Filter, ...] = ()
    display: Callable[[pd.DataFrame], pd.DataFrame] = lambda df: df
    selection: Literal["multi-row", "single-row"] | None = "multi-row"
    actions: tuple[RowAction, ...] = ()
    sources: tuple[str, ...] = ()  # for the freshness bar; none for a page not read by DuckDB
    sources_hold: str = "Data"  # what the freshness bar says comes from them ("Tickets")
    empty: str = "Nothing matches these filters."
    caption: str | None = None  # above the table
    page_size: int = 20
    # The page's own parts: bound parameters that are not filters (a seller's tenant; None
    # stops the page), the table drawn another way (an editable grid, returning the
    # selected rows), the panel below the table, and what to do after an action's results.
    scope: Scope | None = None
    grid: Callable[[Principal, pd.DataFrame, list[Row]], list[Row]] | None = None
    panel: Callable[[Principal, list[Row]], None] | None = None
    after_action: Callable[[str, Sequence[Row]], None] | None = None
    extra_url: Callable[[], dict[str, object]] | None = None
    # The page's own session keys that a new visit starts without, as key parts
    # (`key(part)`): an open detail, a dialog of its own, unsaved edits.
    forget_on_entry: tuple[str, ...] = field(default=())
    # The buttons below the table rather than above it: for a grid whose own widgets (drawn
    # last) choose the rows the buttons act on.
    toolbar_below: bool = False
    # A page that holds its selection itself (a detail opened from the URL, selected
    # whenever its row is shown): called with the rows before the table is drawn, instead
    # of follow_selection.
    follow: Callable[[list[Row]], None] | None = None
    embedded: bool = False  # drawn within another page (a section): its title a subheader

    def key(self, part: str) -> str:
        return f"{self.name}_{part}"

    @property
    def search(self) -> Search | None:
        return next((f for f in self.filters if isinstance(f, Search)), None)


@dataclass(frozen=True)
class View:
    """What the table shows now: each filter's value (by position), the sort, the scope."""

    values: tuple[Any, ...]
    sort: tuple[str, str]
    scope: tuple[tuple[str, Any], ...] = ()

    def params(self, page: TablePage) -> dict[str, Any]:
        """The query's bound parameters. The scope is bound server side (a seller's tenant):
        a filter that binds one of its names is a mistake in the declaration, refused
        rather than allowed to widen what the page shows."""
        out: dict[str, Any] = {}
        for f, value in zip(page.filters, self.values, strict=True):
            out.update(f.query_params(value))
        clash = out.keys() & dict(self.scope).keys()
        if clash:
            raise TypeError(f"page '{page.name}': filters bind the scope's {sorted(clash)}")
        return out | dict(self.scope)


def search_value(page: TablePage, view: View) -> Any:
    search = page.search
    return None if search is None else view.values[page.filters.index(search)]


def current_view(page: TablePage) -> View | None:
    """What the page's table shows in this run (for a panel that exports it)."""
    return st.session_state.get(page.key("view"))


# --- filters mirrored in the URL -------------------------------------------------------------


def _options(page: TablePage) -> list[Mapping[Any, str]]:
    out = []
    for f in page.filters:
        opts = getattr(f, "options", {})
        out.append(opts() if callable(opts) else opts if isinstance(opts, Mapping) else {})
    return out


def entered(page: TablePage, options: Sequence[Mapping[Any, str]]) -> View:
    """The view the URL asks for, read when the page is entered (lib.ui.url_state.entered);
    nothing selected, paged or open on a last visit applies."""
    return url_state.entered(page.key("seeds"), page.key("sort_by"), lambda: _read(page, options))


def _read(page: TablePage, options: Sequence[Mapping[Any, str]]) -> View:
    state = st.session_state
    for part in ("page", "view", "shown", "table", "dialog", "searched", "results", "cursor",
                 "bounds"):  # fmt: skip
        state.pop(page.key(part), None)
    for part in page.forget_on_entry:
        state.pop(page.key(part), None)
    query = st.query_params
    values, notes = [], []
    for f, opts in zip(page.filters, options, strict=True):
        value, said = f.from_url(query, opts)
        values.append(value)
        notes.extend(said)
    state[page.key("page")] = url_state.parse_int(query.get("page"), minimum=1) or 1
    state[page.key("notes")] = notes
    return View(tuple(values), page.sort.from_url(query))


def filter_form(page: TablePage, start: View, options: Sequence[Mapping[Any, str]]) -> View:
    """The filter widgets, starting from `start`; returns what they say now. The search and
    the plain choices stand on top; ranges and the sort in "More filters"."""
    values: list[Any] = list(start.values)
    top = [i for i, f in enumerate(page.filters) if not f.advanced]
    more = [i for i, f in enumerate(page.filters) if f.advanced]
    # Open when the view differs from the page's own default (a link asked for more).
    opened = start.sort != page.sort.default or any(
        start.values[i] != page.filters[i].from_url({}, options[i])[0] for i in more
    )
    with st.container(border=True):
        if top:
            widths = [3 if isinstance(page.filters[i], Search) else 2 for i in top]
            for col, i in zip(st.columns(widths), top, strict=True):
                with col:
                    f = page.filters[i]
                    values[i] = f.widget(page.key(""), start.values[i], options[i])
        with st.expander("More filters and sort", expanded=opened):
            cols = st.columns(2) if more else [st.container()]
            for n, i in enumerate(more):
                with cols[n % 2]:
                    f = page.filters[i]
                    values[i] = f.widget(page.key(""), start.values[i], options[i])
            sort = page.sort.widget(page.key(""), start.sort)
    return View(tuple(values), sort)


def _write_url(page: TablePage, view: View) -> None:
    out: dict[str, object] = {}
    for f, value in zip(page.filters, view.values, strict=True):
        out.update(f.url(value))
    out.update(page.sort.url(view.sort))
    if page.extra_url:
        out.update(page.extra_url())
    url_state.write(out)


# --- the table -------------------------------------------------------------------------------


def follow_selection(page: TablePage, rows: Sequence[Row]) -> None:
    """Keep the same rows selected when the rows shown change (an approved order left the
    pending filter, another page, another sort): a selection is positions in the table,
    and a button must never act on whatever row slid into a selected position."""
    state = st.session_state
    before = state.get(page.key("shown"))
    ids = [r["id"] for r in rows]
    if before is None or [r["id"] for r in before] == ids:
        return
    picked = selected_positions(page)
    chosen = {before[i]["id"] for i in picked if 0 <= i < len(before)}
    state[page.key("table")] = {
        "selection": {"rows": [i for i, x in enumerate(ids) if x in chosen], "columns": []}
    }


def selected_positions(page: TablePage) -> list[int]:
    table = st.session_state.get(page.key("table"))
    try:
        return list(table["selection"]["rows"])  # type: ignore[index]
    except (KeyError, TypeError):
        return []


def table(page: TablePage, df: pd.DataFrame, rows: list[Row]) -> list[Row]:
    """The read-only grid; returns the selected rows."""
    event = st.dataframe(
        page.display(df),
        key=page.key("table"),
        on_select="rerun" if page.selection else "ignore",
        selection_mode=page.selection or "multi-row",
        hide_index=True,
        width="stretch",
        height=ROW_HEIGHT * (len(df) + 1) + 3,
        column_config=dict(page.columns),
        column_order=list(page.columns),
    )
    if not page.selection:
        return []
    return [rows[i] for i in event.selection.rows if 0 <= i < len(rows)]


# --- the page --------------------------------------------------------------------------------


@session_guard.fragment
def grid(page: TablePage, principal: Principal, view: View) -> None:
    """Results, buttons, the table, its pager and the page's panel: one fragment, so a
    selection, a page turn or an action reruns only this part."""
    state = st.session_state
    results_panel(page.key("results"))
    try:
        shown = table_paging.fetch(page, view)
        df = shown.rows
        rows = page.records(df)
    except BackofficeError as exc:
        show_error(exc)
        state[page.key("shown")] = None
        if page.panel:  # a detail opened from a link does not depend on the list
            page.panel(principal, [])
        return
    if df.empty:
        st.info(page.empty, icon=":material/search_off:")
        state[page.key("shown")] = []
        selected: list[Row] = []
    else:
        if page.follow:
            page.follow(rows)
        else:
            follow_selection(page, rows)
        bar = st.container()
        if page.caption:
            st.caption(page.caption)
        selected = page.grid(principal, df, rows) if page.grid else table(page, df, rows)
        if page.toolbar_below:
            bar = st.container()
        table_paging.pager(page, shown)
        state[page.key("shown")] = rows
        with bar:
            table_actions.toolbar(page, principal, selected)
        table_actions.draw_dialog(page, principal)
    if page.panel:
        page.panel(principal, selected)


def render(page: TablePage, principal: Principal) -> None:
    """The whole page for a principal that may open it."""
    (st.subheader if page.embedded else st.title)(page.title)
    freshness = st.container()  # filled last, once the sources have been read
    state = st.session_state
    options = _options(page)
    start = entered(page, options)
    for note in state.pop(page.key("notes"), []):
        st.caption(escape_markdown(note))  # it quotes the URL
    scope = page.scope(principal) if page.scope else {}
    if scope is None:
        return
    view = filter_form(page, start, options)
    view = View(view.values, view.sort, tuple(sorted(scope.items())))
    if state.get(page.key("view")) not in (None, view):
        state[page.key("page")] = 1  # new filters, sort or scope: back to the first page
    state[page.key("view")] = view
    _write_url(page, view)
    problem = next(
        (p for f, v in zip(page.filters, view.values, strict=True) if (p := f.problem(v))),
        None,
    )
    search = page.search
    if problem:
        st.warning(problem, icon=":material/filter_alt_off:")
    elif search and (refused := search.record(search_value(page, view), principal, page)):
        st.warning(refused, icon=":material/hourglass:")
    else:
        grid(page, principal, view)
    if page.sources:
        with freshness:
            freshness_bar(runtime.engine(), page.sources, page.name, what=page.sources_hold)
