"""Filters mirrored in the URL's query parameters, so a copied link restores the view."""

from __future__ import annotations

from datetime import date

import streamlit as st


def get_date(name: str, default: date) -> date:
    raw = st.query_params.get(name)
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


def set_params(**values: object) -> None:
    """Write the filters to the URL; empty values are removed rather than written blank."""
    for name, value in values.items():
        text = value.isoformat() if isinstance(value, date) else str(value or "")
        if text:
            if st.query_params.get(name) != text:
                st.query_params[name] = text
        elif name in st.query_params:
            del st.query_params[name]
