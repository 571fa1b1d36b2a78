"""The dashboard view as report files (XLSX, PDF; lib.reports), built only when a download
button is clicked, and, for those who may schedule reports, "Schedule this view"."""

from __future__ import annotations

import streamlit as st

from lib.access.principal import Principal
from lib.dashboard.model import DashboardData
from lib.reports import files
from lib.reports.pdf import dashboard_pdf
from lib.reports.xlsx import dashboard_xlsx
from lib.ui import export, report_schedule


def report_buttons(principal: Principal, data: DashboardData) -> None:
    """Download XLSX / Download PDF (the bytes are made on the click, so an ordinary rerun
    renders no PDF), then Schedule this view for admins."""
    stem = files.dashboard_stem(data)
    with st.container(horizontal=True, vertical_alignment="center"):
        builders = {"xlsx": lambda: dashboard_xlsx(data), "pdf": lambda: dashboard_pdf(data)}
        export.file_buttons(stem, builders, label="Download {EXT}", key="dashboard_{ext}")
        report_schedule.schedule_button(principal, data.filters)  # for those who may
