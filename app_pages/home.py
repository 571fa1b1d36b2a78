"""Home: the sources behind the app — reachable or not, rows, last refresh — and the pages."""

import pandas as pd
import streamlit as st

from lib import runtime
from lib.pages import allowed_pages, require
from lib.ui import ago

principal = require("")
engine = runtime.engine()

st.title("Backoffice")
st.write(f"Signed in as **{principal.name}** ({', '.join(principal.roles)}).")

links = [p for p in allowed_pages(principal) if p.url_path]
if links:
    st.subheader("Pages")
    cols = st.columns(min(len(links), 4))
    for i, page in enumerate(links):
        cols[i % len(cols)].page_link(page.file, label=page.title, icon=page.icon)

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
        st.warning(s.error or f"{s.name} is unavailable", icon=":material/cloud_off:")
