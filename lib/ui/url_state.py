"""Filters mirrored in the URL's query parameters, so a copied link restores the view.

A page reads its filters from the URL when it is entered (`entered`), gives them to its
widgets as defaults, then writes every filter back on each run (`write`). A fresh browser
session, a teammate's copied URL, or a deep link opened before signing in all start from
the URL. Sorts from a URL are parsed here; whole numbers and dates in lib.url_values (the
workflows parse their run parameters with it too), re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import TypeVar

import streamlit as st

# Parsed in lib (one way for pages and workflows); re-exported for the pages.
from lib.url_values import MAX_DATE, MAX_INT, MIN_DATE, parse_date, parse_int, quoted

__all__ = [
    "MAX_DATE",
    "MAX_INT",
    "MIN_DATE",
    "encode",
    "encode_sort",
    "entered",
    "parse_date",
    "parse_int",
    "parse_sort",
    "quoted",
    "write",
]

T = TypeVar("T")
SEP = ","


def entered(seeds_key: str, widget_key: str, read: Callable[[], T]) -> T:
    """What a page's filters start from: `read()` (the URL) when the page is entered, kept
    for the visit. Streamlit drops a page's widget state when another page runs, so a
    missing `widget_key` means "just entered"."""
    state = st.session_state
    if seeds_key not in state or widget_key not in state:
        state[seeds_key] = read()
    return state[seeds_key]


def encode(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return SEP.join(str(v) for v in value)
    return "" if value is None else str(value)


def write(values: Mapping[str, object]) -> None:
    """Write the filters to the URL; empty values are removed rather than written blank."""
    for name, value in values.items():
        text = encode(value)
        if text:
            if st.query_params.get(name) != text:
                st.query_params[name] = text
        elif name in st.query_params:
            del st.query_params[name]


def parse_sort(
    raw: str | None, sortable: Collection[str], default: tuple[str, str]
) -> tuple[str, str]:
    """A sort from the URL: `-amount` -> (amount, desc), `amount` -> (amount, asc); a column
    that is not sortable gives the default."""
    raw = (raw or "").strip()
    column, direction = (raw[1:], "desc") if raw.startswith("-") else (raw, "asc")
    return (column, direction) if column in sortable else default


def encode_sort(sort: tuple[str, str], default: tuple[str, str]) -> str | None:
    """The URL form of a sort; None for the default, which the URL leaves out."""
    if tuple(sort) == tuple(default):
        return None
    column, direction = sort
    return f"-{column}" if direction == "desc" else column
