"""Filters mirrored in the URL's query parameters, so a copied link restores the view.

A page reads its filters from the URL when it is entered (`entered`), gives them to its
widgets as defaults, then writes every filter back on each run (`write`). A fresh browser
session, a teammate's copied URL, or a deep link opened before signing in all start from
the URL. Whole numbers, dates and sorts from a URL are parsed here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import TypeVar

import streamlit as st

T = TypeVar("T")
SEP = ","
# What a URL may ask for. Anything else is read as "not given" (the page's default), so a
# mistyped, stale or hostile link opens the page on a wider view instead of failing.
MAX_INT = 2**53 - 1  # the largest whole number a browser holds exactly; fits a BIGINT
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)  # date pickers add years to these
_INT = re.compile(r"-?[0-9]{1,16}")  # ASCII only: not "²", "١٢", "1_000" that int() reads
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_int(raw: str | None, minimum: int | None = None, maximum: int = MAX_INT) -> int | None:
    """A whole number from the URL (ASCII digits, an optional leading minus) between
    `minimum` and `maximum`; None for anything else."""
    text = (raw or "").strip()
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    if (minimum is not None and value < minimum) or value > maximum:
        return None
    return value


def parse_date(raw: str | None) -> date | None:
    """A YYYY-MM-DD date from the URL between MIN_DATE and MAX_DATE; None for anything else."""
    text = (raw or "").strip()
    if not _DATE.fullmatch(text):
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


def entered(seeds_key: str, widget_key: str, read: Callable[[], T]) -> T:
    """What a page's filters start from: `read()` (the URL) when the page is entered, kept
    for the visit. Streamlit drops a page's widget state when another page runs, so a
    missing `widget_key` means "just entered"."""
    state = st.session_state
    if seeds_key not in state or widget_key not in state:
        state[seeds_key] = read()
    return state[seeds_key]


def quoted(value: str, limit: int = 40) -> str:
    """A value from the URL shortened to quote back in a note ("Ignored status 'xyz…'")."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


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
