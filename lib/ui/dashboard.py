"""The Dashboard page (/dashboard): the KPIs a commerce team reads every morning, with the
change against the previous period, and the charts behind them, for one view (dates,
granularity, seller, segment, payment method) that the URL holds.

The figures come from lib.dashboard.data over the sources' snapshots; a seller sees its
own tenant's dashboard (bound server side) without the company-wide spend figures. Parts:
lib.ui.dashboard_filters (the filter row and the URL), dashboard_kpis (the cards),
dashboard_charts (charts, their data, the click to Orders), dashboard_reports (XLSX, PDF,
scheduling).
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib.access.policy import sees_sources
from lib.access.principal import Principal
from lib.config import runtime
from lib.dashboard import data as dashboard_data
from lib.errors import BackofficeError
from lib.reading.engine import Engine
from lib.reading.snapshots import SnapshotBuilding
from lib.ui.dashboard_charts import chart_grid
from lib.ui.dashboard_filters import Choices, filter_row, notes, start_view
from lib.ui.dashboard_kpis import kpi_cards
from lib.ui.dashboard_reports import report_buttons
from lib.ui.widgets import ago, freshness_bar, show_error

EMPTY = "No orders in this date range."
EMPTY_FILTERED = "No orders in this date range with these filters."


def options(engine: Engine) -> dashboard_data.Options | None:
    """What the filter boxes offer; None when the data cannot be read (the error shows below)."""
    try:
        return dashboard_data.options(engine)
    except BackofficeError:
        return None


def latest(engine: Engine) -> date | None:
    try:
        return dashboard_data.latest_day(engine)
    except BackofficeError:
        return None


def freshness(principal: Principal, engine: Engine, data: dashboard_data.DashboardData) -> None:
    """Staff see the sources and may refresh them; a seller sees only how old the figures are."""
    if sees_sources(principal):
        freshness_bar(engine, data.sources or dashboard_data.SOURCES, "dashboard")
        return
    when = data.refreshed_at
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when else "not yet loaded"
    st.caption(f"Figures as of {stamp} ({ago(when)})")


def render(principal: Principal) -> None:
    engine = runtime.engine()
    st.title("Dashboard")
    start, problems = start_view(latest(engine))
    found = options(engine)
    choices = Choices()
    if found is not None:  # a seller, segment or method the data does not know is dropped
        start, unknown = dashboard_data.checked(start, found, principal)
        problems = [*problems, *unknown]
        choices = Choices(found.sellers, found.segments, found.methods)
    view = filter_row(principal, start, choices)
    notes(problems)
    if view is None:
        return
    try:
        with st.spinner("Loading…"):
            data = dashboard_data.load(engine, principal, view)
    except SnapshotBuilding as exc:  # the first copy of a big table: no error, just not yet
        st.info(str(exc), icon=":material/hourglass_top:")
        return
    except BackofficeError as exc:
        show_error(exc)
        if sees_sources(principal):
            freshness_bar(engine, dashboard_data.SOURCES, "dashboard")
        return
    freshness(principal, engine, data)
    orders = next((k.value for k in data.kpis if k.key == "orders"), None)
    if not orders:
        filtered = view.segment or view.method or (view.seller_id and principal.tenant is None)
        st.info(EMPTY_FILTERED if filtered else EMPTY)
        return
    kpi_cards(data.kpis, data.filters)
    report_buttons(principal, data)
    chart_grid(principal, data)
