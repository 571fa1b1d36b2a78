"""The dashboard's charts on the page: each in its own box with its title and a "Data"
button that shows the chart's figures as a table with a CSV download.

A click on a bar of "revenue by period and segment" opens the Orders page for that period
and the view's seller (lib.dashboard.links); the data table has the same link per period.
Only for users who may open the Orders page (not sellers, not analysts without it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from lib.access.policy import may_open
from lib.access.principal import Principal
from lib.dashboard import charts, links
from lib.dashboard.model import CHARTS, DashboardData, Filters
from lib.ui import export
from lib.url_values import parse_date

ORDERS_PAGE = "app_pages/orders.py"
CLICKABLE = "revenue_by_segment"
KRW = "₩%,d"
# Which charts share a row (side by side on a wide screen, stacked on a narrow one).
LAYOUT: tuple[tuple[str, ...], ...] = (
    ("revenue_by_segment",),
    ("revenue_vs_spend",),
    ("share_by_segment", "share_by_method"),
    ("refunds_by_reason",),
)
COLUMNS: dict[str, Any] = {
    "period": st.column_config.DateColumn("Period starts", format="YYYY-MM-DD"),
    "month": st.column_config.DateColumn("Month", format="YYYY-MM"),
    "segment": st.column_config.TextColumn("Segment"),
    "method": st.column_config.TextColumn("Payment method"),
    "category": st.column_config.TextColumn("Reason"),
    "orders": st.column_config.NumberColumn("Orders", format="%,d"),
    "refunds": st.column_config.NumberColumn("Refunds", format="%,d"),
    "revenue_krw": st.column_config.NumberColumn("Revenue kept", format=KRW),
    "spend_krw": st.column_config.NumberColumn("Marketing spend", format=KRW),
    "refunded_krw": st.column_config.NumberColumn("Refunded", format=KRW),
    "share": st.column_config.NumberColumn("Share", format="percent"),
    "orders_link": st.column_config.LinkColumn(
        "Orders", display_text="Open orders", help="The Orders page for this period"
    ),
}


def chart_key(key: str) -> str:
    return f"dashboard_chart_{key}"


def clickable(principal: Principal) -> bool:
    """Whether bars and table rows lead to the Orders page for this user."""
    return may_open(principal, "orders")


def table_of(key: str, frame: pd.DataFrame, filters: Filters, links_on: bool) -> pd.DataFrame:
    """The chart's data as its table shows it; revenue by period gets a link per period."""
    out = frame.copy()
    for name in ("period", "month"):
        if name in out and len(out):
            out[name] = pd.to_datetime(out[name]).dt.date
    if key == CLICKABLE and links_on and len(out):
        out["orders_link"] = [links.orders_url(filters, d) for d in out["period"]]
    return out


def data_button(key: str, frame: pd.DataFrame, filters: Filters, links_on: bool) -> None:
    """The chart's figures one click away: a table and its CSV (made on the click)."""
    table = table_of(key, frame, filters, links_on)
    with st.popover("Data", icon=":material/table:", key=f"dashboard_data_{key}"):
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={c: COLUMNS[c] for c in table.columns if c in COLUMNS},
        )
        st.download_button(
            "Download CSV",
            lambda: export.to_csv(table.drop(columns=["orders_link"], errors="ignore")),
            file_name=f"{key}_{filters.date_from}_{filters.date_to}.csv",
            mime=export.CSV_MIME,
            key=f"dashboard_csv_{key}",
            icon=":material/download:",
            on_click="ignore",
        )


def selected_period(event: Any) -> date | None:
    """The period start of the clicked bar, if any (st.altair_chart's selection state)."""
    try:
        points = event["selection"][charts.SELECTION]
    except (KeyError, TypeError):
        return None
    if isinstance(points, Mapping):  # {"period": [...]} in some Vega-Lite versions
        values = points.get("period")
        points = [{"period": v} for v in values] if isinstance(values, list) else [points]
    for point in points or ():
        if isinstance(point, Mapping) and (day := parse_date(str(point.get("period", "")))):
            return day
    return None


def open_orders(filters: Filters, period: date) -> None:
    """Go to the Orders page for `period`, forgetting the click first so that coming back
    shows the dashboard, not another jump."""
    st.session_state.pop(chart_key(CLICKABLE), None)
    st.switch_page(ORDERS_PAGE, query_params=links.orders_params(filters, period))


def chart_box(principal: Principal, key: str, data: DashboardData) -> None:
    frame = data.charts[key]
    filters = data.filters
    links_on = key == CLICKABLE and clickable(principal)
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown(f"**{CHARTS[key]}**")
            data_button(key, frame, filters, links_on)
        if frame.empty:
            st.caption("Nothing to show for this view.")
            return
        chart = charts.build(key, frame, filters.granularity, selectable=links_on)
        if not links_on:
            st.altair_chart(chart, width="stretch", key=chart_key(key))
            return
        event = st.altair_chart(
            chart,
            width="stretch",
            key=chart_key(key),
            on_select="rerun",
            selection_mode=[charts.SELECTION],
        )
        st.caption("Click a bar to open that period's orders.")
        period = selected_period(event)
        if period is not None:
            open_orders(filters, period)


def chart_grid(principal: Principal, data: DashboardData) -> None:
    """Every chart the view has (a seller's has no spend chart), in LAYOUT's rows."""
    for row in LAYOUT:
        keys = [k for k in row if k in data.charts]
        if not keys:
            continue
        if len(keys) == 1:
            chart_box(principal, keys[0], data)
            continue
        for col, key in zip(st.columns(len(keys)), keys, strict=True):
            with col:
                chart_box(principal, key, data)
