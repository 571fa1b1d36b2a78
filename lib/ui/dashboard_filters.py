"""The dashboard's filter row, mirrored in the URL (lib.ui.url_state): from / to (inclusive
dates), granularity, seller, segment and payment method.

The URL is read when the page is entered (a pasted link shows that exact view), the widgets
start from it, and every run writes what they say back. A seller's view is bound to its own
tenant server side (lib.dashboard.data.scoped): no seller filter, and no `seller` in its URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import streamlit as st

from lib.access.principal import Principal
from lib.dashboard import filters as dashboard_filters
from lib.dashboard.model import GRANULARITIES, Filters
from lib.ui import url_state
from lib.ui.widgets import escape_markdown

KEY = "dashboard_"  # widgets: dashboard_from, dashboard_to, dashboard_granularity, ...
SEEDS = "dashboard_seeds"
DATE_FORMAT = "YYYY-MM-DD"


@dataclass(frozen=True)
class Choices:
    """What the seller, segment and method boxes offer (empty when the data is unreachable:
    the boxes then offer what the URL asked for)."""

    sellers: Mapping[int, str] = field(default_factory=dict)
    segments: Sequence[str] = ()
    methods: Sequence[str] = ()


def start_view(latest: date | None) -> tuple[Filters, list[str]]:
    """The view the URL asks for when the page is entered (kept for the visit), with a
    one-line note for each value of the link that was ignored."""
    return url_state.entered(
        SEEDS,
        f"{KEY}from",
        lambda: dashboard_filters.from_url(dict(st.query_params), latest),
    )


def _box(
    label: str, name: str, values: Sequence[Any], start: Any, any_label: str, names: Mapping
) -> Any:
    options: list[Any] = [None, *values]
    if start is not None and start not in options:  # from the URL, not (yet) known here
        options.append(start)
    return st.selectbox(
        label,
        options,
        index=options.index(start),
        key=f"{KEY}{name}",
        format_func=lambda v: any_label if v is None else str(names.get(v, v)),
    )


def filter_row(principal: Principal, start: Filters, choices: Choices) -> Filters | None:
    """The filter widgets starting from `start`; the view they describe, written to the URL
    (None, with a warning, when From is after To)."""
    own_tenant = principal.tenant is not None
    with st.container(border=True):
        cols = [*st.columns(3), *st.columns(3)]  # two rows: dates and granularity, slicers
        date_from = cols[0].date_input(
            "From", value=start.date_from, key=f"{KEY}from", format=DATE_FORMAT
        )
        date_to = cols[1].date_input(
            "To (inclusive)", value=start.date_to, key=f"{KEY}to", format=DATE_FORMAT
        )
        granularity = cols[2].selectbox(
            "Granularity",
            GRANULARITIES,
            index=GRANULARITIES.index(start.granularity),
            key=f"{KEY}granularity",
            format_func=str.capitalize,
        )
        rest = cols[3:]
        seller_id = None
        if not own_tenant:
            sellers = {int(k): f"{v} (#{k})" for k, v in choices.sellers.items()}
            with rest[0]:
                seller_id = _box(
                    "Seller", "seller", list(sellers), start.seller_id, "All sellers", sellers
                )
            rest = rest[1:]
        with rest[0]:
            segment = _box("Segment", "segment", choices.segments, start.segment, "All", {})
        with rest[1]:
            methods = {m: m.replace("_", " ") for m in choices.methods}
            method = _box("Payment method", "method", choices.methods, start.method, "All", methods)
    if not isinstance(date_from, date) or not isinstance(date_to, date):
        st.warning("Pick both a 'From' and a 'To' date.")
        return None
    view = Filters(date_from, date_to, granularity, seller_id, segment, method)
    url = view.url()
    if own_tenant:
        url["seller"] = None  # bound server side; a seller's link never names one
    url_state.write(url)
    if date_from > date_to:
        st.warning("The 'From' date is after the 'To' date.")
        return None
    return view


def notes(problems: Sequence[str]) -> None:
    """What the link asked for that could not be used."""
    for line in problems:
        st.caption(escape_markdown(line))
