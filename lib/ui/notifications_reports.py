"""The Notifications page's scheduled reports: each active schedule with its recipients
(masked), the last period sent and how that send went; Send now and Stop."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lib import actions
from lib.access import policy
from lib.access.masking import masked_line
from lib.access.principal import Principal
from lib.reports import schedules_store
from lib.ui import session_guard
from lib.ui.widgets import escape_markdown, keep_results, results_panel

KEY = "notifications_schedules"
RESULTS = "notifications_schedule_results"
STOP = "report.unschedule"
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


def render(principal: Principal, jobs: Any) -> None:
    results_panel(RESULTS)
    try:
        frame = schedules_store.overview(jobs.outboxes["audit"])
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
    selected = _table(frame)
    with st.container(horizontal=True):
        st.button(
            "Send now",
            key="notifications_send_now",
            icon=":material/outgoing_mail:",
            on_click=_send_now,
            args=(principal, jobs),
            disabled=frame.empty,
            help="Build and queue every report whose latest period was not sent yet.",
        )
        if policy.may_run(principal, STOP):
            st.button(
                "Stop",
                key="notifications_stop",
                icon=":material/cancel_schedule_send:",
                disabled=selected is None,
                on_click=_stop,
                args=(principal, selected),
                help="Stop the selected schedule: nothing more is sent for it.",
            )


def _table(frame: pd.DataFrame) -> dict[str, Any] | None:
    if frame.empty:
        return None
    event = st.dataframe(
        frame,
        key=KEY,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_order=ORDER,
        column_config={
            "name": st.column_config.TextColumn("Report"),
            "frequency": st.column_config.TextColumn("Every"),
            "last_period": st.column_config.TextColumn("Last period"),
            "last_status": st.column_config.TextColumn(
                "Status",
                help="The last period's e-mail: pending, sending, sent or failed (delivery); "
                "failed with no e-mail: its report could not be built (see Last error)",
            ),
            "attempts": st.column_config.NumberColumn("Builds", format="%d"),
            "last_error": st.column_config.TextColumn("Last error", width="large"),
            "recipients": st.column_config.NumberColumn("Recipients", format="%d"),
            "to": st.column_config.TextColumn("To (masked)", width="large"),
            "created_by": st.column_config.TextColumn("Made by"),
            "created_at": st.column_config.TextColumn("Made at (UTC)"),
            "id": st.column_config.NumberColumn("Id", format="%d"),
        },
    )
    rows = event.selection.rows if event else []
    if not rows or rows[0] >= len(frame):
        st.caption("Select a schedule to stop it.")
        return None
    row = frame.iloc[rows[0]]
    return {"id": int(row["id"]), "name": str(row["name"])}


def _send_now(principal: Principal, jobs: Any) -> None:
    """The scheduler's round now, in this request (it runs every tick_s anyway): each report
    whose latest finished period has no send yet is built and queued, once across processes."""
    if session_guard.actor(principal) is None:
        return
    try:
        queued = jobs.send_reports()
    except Exception as exc:  # a database down: say so, the page stays
        st.toast(f"Could not send now: {escape_markdown(masked_line(exc, 200))}")
        return
    if queued:
        noun = "report" if queued == 1 else "reports"
        st.toast(f"Queued {queued} {noun} for e-mail.", icon=":material/outgoing_mail:")
    else:
        st.toast("Nothing due: every schedule's latest period is sent or failing (see Status).")


def _stop(principal: Principal, selected: dict[str, Any] | None) -> None:
    if selected is None:
        return
    result = actions.run(STOP, session_guard.actor(principal), schedule_id=selected["id"])
    keep_results(RESULTS, "Stop", [result])
    st.session_state.pop(KEY, None)
