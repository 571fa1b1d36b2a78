"""A table page's paging (lib.ui.table_page): which rows the page shows and its pager.

A listing that reads by keyset (lib.ui.source_listing.SourceQuery: `fetch_page`) is asked
for the page after the last row shown (Next) or before the first (Previous): one index
range read however deep the page. A page number opened from the URL (`?page=40`) is read
by OFFSET once. Other listings (`fetch`: the DuckDB NamedQuery, the audit log) are read by
OFFSET. A count may be inexact ("10,000+", lib.reading.source_query.Count): the pager then
gives no last page, and Next stays on while rows follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from lib.reading.source_query import Count
from lib.ui import url_state

if TYPE_CHECKING:
    from lib.ui.table_page import TablePage, View


@dataclass(frozen=True)
class Shown:
    """The rows the table shows, the list's count, the page number, whether more follow."""

    rows: pd.DataFrame
    count: Count
    number: int
    has_next: bool


def _count(total: int | Count) -> Count:
    return total if isinstance(total, Count) else Count(int(total))


def _last_page(count: Count, size: int) -> int:
    return max(1, -(-count.value // size))


def _by_keyset(page: TablePage, view: View, params: dict[str, Any], number: int) -> Shown:
    state = st.session_state
    size = page.page_size
    cursor = state.get(page.key("cursor"))
    after = before = None
    if cursor is not None and cursor[0] == view and cursor[1] == number:
        after, before = (cursor[3], None) if cursor[2] == "after" else (None, cursor[3])
    listing: Any = page.listing
    got = listing.fetch_page(params, view.sort, size, (number - 1) * size, after, before)
    if got.rows.empty and number > 1:
        # Past the end (the list shrank, or a link's page number is too far): an exact
        # count names the last page; an inexact one, one page back at most, within what
        # the count vouches for.
        count = got.count or Count(0)
        last = _last_page(count, size)
        number = last if count.exact else max(1, min(number - 1, last))
        state.pop(page.key("cursor"), None)
        got = listing.fetch_page(params, view.sort, size, (number - 1) * size)
    state[page.key("bounds")] = (view, number, got.first_key, got.last_key)
    return Shown(got.rows, _count(got.count or 0), number, got.has_next)


def _by_offset(page: TablePage, params: dict[str, Any], sort: Any, number: int) -> Shown:
    size = page.page_size
    df, total = page.listing.fetch(params, sort, size, (number - 1) * size)
    count = _count(total)
    if df.empty and number > 1:
        last = _last_page(count, size)
        number = last if count.exact else max(1, min(number - 1, last))
        df, total = page.listing.fetch(params, sort, size, (number - 1) * size)
        count = _count(total)
    more = number * size < count.value or (not count.exact and len(df) == size)
    return Shown(df, count, number, more)


def fetch(page: TablePage, view: View) -> Shown:
    """The current page's rows (moved back when the list shrank below it)."""
    state = st.session_state
    number = max(1, int(state.get(page.key("page")) or 1))
    params = view.params(page)
    with st.spinner("Loading…"):
        if hasattr(page.listing, "fetch_page"):
            shown = _by_keyset(page, view, params, number)
        else:
            shown = _by_offset(page, params, view.sort, number)
    state[page.key("page")] = shown.number
    return shown


def turn(page: TablePage, step: int) -> None:
    """Previous (-1) or Next (+1): from the page shown, by its first or last row's key."""
    state = st.session_state
    number = int(state.get(page.key("page")) or 1)
    target = max(1, number + step)
    state[page.key("page")] = target
    bounds = state.get(page.key("bounds"))
    if target > 1 and bounds is not None and bounds[1] == number:
        view, _, first, last = bounds
        key = last if step > 0 else first
        if key is not None:
            state[page.key("cursor")] = (view, target, "after" if step > 0 else "before", key)
            return
    state.pop(page.key("cursor"), None)


def pager(page: TablePage, shown: Shown) -> None:
    """Previous / Next and "Rows 1–20 of 1,234 · page 1 of 62" (or "of 10,000+ · page 1")."""
    number, count = shown.number, shown.count
    left, middle, right = st.columns([1, 3, 1], vertical_alignment="center")
    left.button(
        "Previous",
        key=page.key("page_prev"),
        disabled=number <= 1,
        icon=":material/chevron_left:",
        on_click=turn,
        args=(page, -1),
    )
    right.button(
        "Next",
        key=page.key("page_next"),
        disabled=not shown.has_next,
        icon=":material/chevron_right:",
        on_click=turn,
        args=(page, 1),
    )
    first = (number - 1) * page.page_size + 1
    last = first + len(shown.rows) - 1
    where = f"page {number}"
    if count.exact:
        where += f" of {_last_page(count, page.page_size)}"
    middle.caption(f"Rows {first:,}–{last:,} of {count.text()} · {where}")
    url_state.write({"page": number if number > 1 else None})
