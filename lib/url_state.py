"""Filters mirrored in the URL's query parameters, so a copied link restores the view.

A page seeds each filter widget's session state from the URL once (`seed_*`), renders the
widget with that key, then writes every filter back (`write`). A fresh browser session,
a teammate's copied URL, or a deep link opened before signing in all start from the URL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

import streamlit as st

SEP = ","


def _seed(key: str, value: object) -> None:
    if key not in st.session_state:
        st.session_state[key] = value


def seed_text(key: str, default: str = "") -> None:
    _seed(key, st.query_params.get(key, default))


def seed_choice(key: str, options: Sequence[str], default: str) -> None:
    raw = st.query_params.get(key)
    _seed(key, raw if raw in options else default)


def seed_multi(key: str, options: Collection[str], default: Sequence[str] = ()) -> None:
    raw = st.query_params.get(key)
    values = [v for v in raw.split(SEP) if v in options] if raw else list(default)
    _seed(key, values)


def seed_date(key: str, default: date | None) -> None:
    raw = st.query_params.get(key)
    try:
        value = date.fromisoformat(raw) if raw else default
    except ValueError:
        value = default
    _seed(key, value)


def seed_int(key: str, default: int | None, minimum: int | None = None) -> None:
    raw = st.query_params.get(key)
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        value = default
    if value is not None and minimum is not None and value < minimum:
        value = default
    _seed(key, value)


def get_date(name: str, default: date) -> date:
    raw = st.query_params.get(name)
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


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


def set_params(**values: object) -> None:
    write(values)
