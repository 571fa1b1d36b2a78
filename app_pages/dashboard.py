"""Dashboard: revenue kept, orders and marketing spend over a date range, by customer segment."""

from datetime import date, timedelta

import altair as alt
import streamlit as st

from lib.config import runtime
from lib.errors import BackofficeError
from lib.ui import export
from lib.ui.navigation import require
from lib.ui.url_state import get_date, set_params
from lib.ui.widgets import freshness_bar, krw_short, show_error

require("dashboard")
engine = runtime.engine()
SOURCES = ("crm", "shop", "sheets")

st.title("Dashboard")
default_to = date(2026, 11, 1)
left, right = st.columns(2)
date_from = left.date_input("From", get_date("from", default_to - timedelta(days=365)))
date_to = right.date_input("To (exclusive)", get_date("to", default_to))
set_params(**{"from": date_from, "to": date_to})

if date_from >= date_to:
    st.warning("Pick a 'From' date before the 'To' date.")
    st.stop()

try:
    with st.spinner("Loading…"):
        df = engine.query(
            "monthly_revenue_vs_spend", date_from=date_from.isoformat(), date_to=date_to.isoformat()
        )
except BackofficeError as exc:
    show_error(exc)
    st.stop()
freshness_bar(engine, SOURCES, "dashboard")

if df.empty:
    st.info("No orders in this date range.")
    st.stop()

monthly = df.groupby("month", as_index=False).agg(
    revenue_krw=("revenue_krw", "sum"), orders=("orders", "sum"), spend_krw=("spend_krw", "max")
)
revenue, orders, spend = (
    int(monthly.revenue_krw.sum()),
    int(monthly.orders.sum()),
    int(monthly.spend_krw.fillna(0).sum()),
)
k1, k2, k3, k4 = st.columns(4)
k1.metric("Revenue kept", krw_short(revenue), help=f"₩{revenue:,}")
k2.metric("Orders", f"{orders:,}")
k3.metric("Marketing spend", krw_short(spend), help=f"₩{spend:,}")
k4.metric("Revenue / spend", f"{revenue / spend:.1f}×" if spend else "—")

bar = (
    alt.Chart(df)
    .mark_bar()
    .encode(
        x=alt.X("yearmonth(month):T", title="Month"),
        y=alt.Y("sum(revenue_krw):Q", title="Revenue (KRW)"),
        color=alt.Color("segment:N", title="Segment"),
        tooltip=["yearmonth(month):T", "segment:N", "sum(revenue_krw):Q", "sum(orders):Q"],
    )
)
st.subheader("Revenue by month and segment")
st.altair_chart(bar, width="stretch")

c1, c2 = st.columns([2, 1])
long = monthly.melt("month", ["revenue_krw", "spend_krw"], var_name="series", value_name="krw")
line = (
    alt.Chart(long)
    .mark_line(point=True)
    .encode(
        x=alt.X("yearmonth(month):T", title="Month"),
        y=alt.Y("krw:Q", title="KRW"),
        color=alt.Color("series:N", title=None),
    )
)
c1.subheader("Revenue vs marketing spend")
c1.altair_chart(line, width="stretch")
share = df.groupby("segment", as_index=False).revenue_krw.sum()
pie = (
    alt.Chart(share)
    .mark_arc(innerRadius=40)
    .encode(
        theta="revenue_krw:Q",
        color=alt.Color("segment:N", title="Segment"),
        tooltip=["segment", "revenue_krw"],
    )
)
c2.subheader("Share by segment")
c2.altair_chart(pie, width="stretch")

st.download_button(
    "Download report (CSV)",
    export.to_csv(df),
    file_name=f"revenue_{date_from}_{date_to}.csv",
    mime=export.CSV_MIME,
)
