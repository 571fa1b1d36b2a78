"""Small pieces every page renders the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import streamlit as st

from lib.engine import Engine
from lib.errors import BackofficeError


def show_error(exc: BackofficeError) -> None:
    """The one-line message of an error the user can act on."""
    st.error(str(exc), icon=":material/error:")


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def freshness_bar(engine: Engine, sources: Sequence[str], key: str) -> None:
    """When this page's data was refreshed, and a button to refresh it now."""
    left, right = st.columns([5, 1], vertical_alignment="center")
    when = engine.refreshed_at(sources)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "not yet loaded"
    left.caption(f"Data from {', '.join(sources)} — refreshed {stamp} ({ago(when)})")
    if right.button("Refresh", key=f"refresh_{key}", icon=":material/refresh:"):
        for name in sources:
            try:
                engine.refresh(name)
            except BackofficeError as exc:
                show_error(exc)
                return
        st.rerun()
