"""The Dashboard page: revenue kept, orders and marketing spend over a date range, by
customer segment. The range is in the URL through the same filter the table pages use
(lib.ui.table_filters.DateRange)."""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from lib.access.principal import Principal
from lib.config import runtime
from lib.errors import BackofficeError
from lib.ui import export, url_state
from lib.ui.table_filters import DateRange
from lib.ui.widgets import freshness_bar, krw_short, show_error

SOURCES = ("crm", "shop", "sheets")
DEFAULT_TO = date(2026, 11, 1)
RANGE = DateRange(
    label_to="To (exclusive)",
    default=lambda: (DEFAULT_TO - timedelta(days=365), DEFAULT_TO),
)
KEY = "dashboard_"  # its widgets: dashboard_from, dashboard_to


def date_range() -> tuple[date | None, date | None]:
    """The range the URL asks for when the page is entered, then what the widgets say."""
    start = url_state.entered(
        "dashboard_seeds", f"{KEY}from", lambda: RANGE.from_url(st.query_params, {})[0]
    )
    value = RANGE.widget(KEY, start, {})
    url_state.write(RANGE.url(value))
    return value


def render(principal: Principal) -> None:
    engine = runtime.engine()
    st.title("Dashboard")
    date_from, date_to = date_range()
    if date_from is None or date_to is None or date_from >= date_to:
        st.warning("Pick a 'From' date before the 'To' date.")
        return
    try:
        with st.spinner("Loading…"):
            df = engine.query(
                "dashboard_revenue_vs_spend",
                date_from=date_from.isoformat(),
                date_to=date_to.isoformat(),
            )
    except BackofficeError as exc:
        show_error(exc)
        return
    freshness_bar(engine, SOURCES, "dashboard")
    if df.empty:
        st.info("No orders in this date range.")
        return
    charts(df, date_from, date_to)


def charts(df: pd.DataFrame, date_from: date, date_to: date) -> None:
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
