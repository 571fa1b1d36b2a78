"""The Home page: the pages this user may open and, for staff, a line of back-end health
badges and the sources behind the app — reachable or not, rows, last refresh. Sellers are
external: they get a welcome and their portal, nothing about the back ends
(policy.sees_sources)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.access import policy
from lib.access.principal import Principal
from lib.config import runtime
from lib.ui import health
from lib.ui.navigation import allowed_pages
from lib.ui.widgets import ago, escape_markdown


def page_links(principal: Principal) -> None:
    links = [p for p in allowed_pages(principal) if p.url_path]
    if links:
        st.subheader("Pages")
        cols = st.columns(min(len(links), 4))
        for i, page in enumerate(links):
            cols[i % len(cols)].page_link(page.file, label=page.title, icon=page.icon)


def sources_overview() -> None:
    """Every source: reachable or not, its tables and row counts, and a refresh of them all."""
    engine = runtime.engine()
    st.subheader("Sources")
    with st.spinner("Checking sources…"):
        statuses = engine.status()
    if st.button("Refresh all sources", icon=":material/refresh:"):
        with st.spinner("Refreshing…"):
            engine.refresh()
        st.rerun()

    rows = [
        {
            "source": s.name,
            "kind": s.kind,
            "table": table,
            "read as": s.modes.get(table, ""),
            "rows": count,
            "status": "reachable",
            "refreshed": ago(s.refreshed_at),
        }
        for s in statuses
        if s.ok
        for table, count in s.tables.items()
    ] + [
        {
            "source": s.name,
            "kind": s.kind,
            "table": "",
            "read as": "",
            "rows": None,
            "status": "unavailable",
            "refreshed": "",
        }
        for s in statuses
        if not s.ok
    ]
    up = sum(s.ok for s in statuses)
    st.caption(f"{up} of {len(statuses)} sources reachable")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={"rows": st.column_config.NumberColumn(format="localized")},
    )
    for s in statuses:
        if not s.ok:
            message = s.error or f"{s.name} is unavailable"
            st.warning(escape_markdown(message), icon=":material/cloud_off:")


def render(principal: Principal) -> None:
    st.title("Backoffice")
    name, roles = escape_markdown(principal.name), escape_markdown(", ".join(principal.roles))
    if policy.sees_sources(principal):
        st.write(f"Signed in as **{name}** ({roles}).")
        page_links(principal)
        health.compact(principal)
        sources_overview()
    else:
        st.write(f"Welcome, **{name}**.")
        st.caption("Your catalogue, its products, prices and stock are in your portal.")
        page_links(principal)
