"""The Notifications page's scheduled reports: each active schedule with its recipients
(masked), the last period sent and how that send went; Send now (report.send_now), Retry
build for a period that could not be built (report.retry) and Stop (report.unschedule)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lib.access import policy
from lib.access.masking import masked_line
from lib.access.principal import Principal
from lib.reports import schedules_store
from lib.ui.selection import run_action, selected_row
from lib.ui.widgets import escape_markdown, results_panel

KEY = "notifications_schedules"
RESULTS = "notifications_schedule_results"
STOP = "report.unschedule"
RETRY = "report.retry"
SEND_NOW = "report.send_now"
ORDER = (
    "name",
    "frequency",
    "last_period",
    "last_status",
    "attempts",
    "last_error",
    "recipients",
    "to",
    "created_by",
    "created_at",
    "id",
)
COLUMNS = {
    "name": st.column_config.TextColumn("Report"),
    "frequency": st.column_config.TextColumn("Every"),
    "last_period": st.column_config.TextColumn("Last period"),
    "last_status": st.column_config.TextColumn(
        "Status",
        help="The last period's e-mail: pending, sending, sent or failed (delivery); "
        "failed with no e-mail: its report could not be built (see Could not be built); "
        "retry: it is built again at the next round",
    ),
    "attempts": st.column_config.NumberColumn("Builds", format="%d"),
    "last_error": st.column_config.TextColumn("Last error", width="large"),
    "recipients": st.column_config.NumberColumn("Recipients", format="%d"),
    "to": st.column_config.TextColumn("To (masked)", width="large"),
    "created_by": st.column_config.TextColumn("Made by"),
    "created_at": st.column_config.TextColumn("Made at (UTC)"),
    "id": st.column_config.NumberColumn("Id", format="%d"),
}
FAILURES_KEY = "notifications_build_failures"
FAILURE_ORDER = ("name", "period", "status", "builds", "last_error", "at")
FAILURE_COLUMNS = {
    "name": st.column_config.TextColumn("Report"),
    "period": st.column_config.TextColumn("Period"),
    "status": st.column_config.TextColumn(
        "Status", help="failed: it could not be built; retry: it is built at the next round"
    ),
    "builds": st.column_config.NumberColumn("Builds", format="%d"),
    "last_error": st.column_config.TextColumn("Error", width="large"),
    "at": st.column_config.TextColumn("Last build (UTC)"),
}


def render(principal: Principal, jobs: Any) -> None:
    results_panel(RESULTS)
    db = jobs.outboxes["audit"]
    try:
        frame = schedules_store.overview(db)
        failed = schedules_store.failures(db)
    except SQLAlchemyError as exc:
        st.error(
            f"The schedules cannot be read: {escape_markdown(masked_line(type(exc).__name__))}"
        )
        return
    if frame.empty:
        st.info(
            "No scheduled reports. Schedule one from the Dashboard: Schedule this view.",
            icon=":material/schedule_send:",
        )
    selected = selected_row(
        frame, KEY, order=ORDER, config=COLUMNS, hint="Select a schedule to stop it."
    )
    with st.container(horizontal=True):
        if policy.may_run(principal, SEND_NOW):
            st.button(
                "Send now",
                key="notifications_send_now",
                icon=":material/outgoing_mail:",
                on_click=run_action,
                args=(RESULTS, "Send now", SEND_NOW, principal),
                kwargs={"forget": FAILURES_KEY},
                disabled=frame.empty,
                help="Build and queue every report whose latest period was not sent yet, and "
                "those asked to be built again.",
            )
        if policy.may_run(principal, STOP):
            chosen = {} if selected is None else {"schedule_id": int(selected["id"])}
            st.button(
                "Stop",
                key="notifications_stop",
                icon=":material/cancel_schedule_send:",
                disabled=selected is None,
                on_click=run_action,
                args=(RESULTS, "Stop", STOP, principal),
                kwargs={"forget": KEY, **chosen},
                help="Stop the selected schedule: nothing more is sent for it.",
            )
    _failures(principal, failed)


def _failures(principal: Principal, failed: pd.DataFrame) -> None:
    """The periods that could not be built, each with its error; Retry build for one."""
    if failed.empty:
        return
    st.subheader("Could not be built", divider="red")
    n = int((failed["status"] == schedules_store.FAILED).sum())
    if n:
        noun = "period" if n == 1 else "periods"
        st.warning(
            f"{n} report {noun} could not be built: the reason is in Error. Once it is "
            "fixed, select one and Retry build.",
            icon=":material/warning:",
        )
    selected = selected_row(
        failed,
        FAILURES_KEY,
        order=FAILURE_ORDER,
        config=FAILURE_COLUMNS,
        hint="Select a period to build it again.",
    )
    usable = selected is not None and selected["status"] == schedules_store.FAILED
    if usable and selected is not None:
        st.error(_failure(selected), icon=":material/error:")
    target = (
        {"schedule_id": int(selected["schedule_id"]), "period": str(selected["period"])}
        if usable and selected is not None
        else {}
    )
    if policy.may_run(principal, RETRY):
        st.button(
            "Retry build",
            key="notifications_retry_build",
            icon=":material/replay:",
            disabled=not usable,
            on_click=run_action,
            args=(RESULTS, "Retry build", RETRY, principal),
            kwargs={"forget": FAILURES_KEY, **target},
            help="Build the selected period again at the next round (or Send now), with its "
            "builds counted from zero.",
        )


def _failure(row: dict[str, Any]) -> str:
    """A failed period and its error, as one line."""
    builds = int(row["builds"] or 0)
    return escape_markdown(
        f"'{row['name']}' for {row['period']} could not be built "
        f"({builds} build{'s' if builds != 1 else ''}): {row['last_error'] or 'no error kept'}"
    )
