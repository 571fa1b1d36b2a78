"""The Notifications page's messages: every outbox's newest rows, by status (in the URL),
Retry for a failed one (notification.retry) and Deliver now (notification.deliver_now)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lib.access import policy
from lib.access.masking import masked_line
from lib.access.principal import Principal
from lib.notify import listing
from lib.notify.outbox import STATUSES
from lib.ui import url_state
from lib.ui.selection import run_action, selected_row
from lib.ui.widgets import escape_markdown, results_panel

KEY = "notifications_messages"
STATUS_KEY = "notifications_status"
RESULTS = "notifications_results"
ALL = "all"
LIMIT = 200
RETRY = "notification.retry"
DELIVER = "notification.deliver_now"
ORDER = (
    "created",
    "status",
    "event",
    "subject",
    "to",
    "attempts",
    "last_error",
    "next_attempt_at",
    "sent_at",
    "channel",
    "where",
    "id",
)
TIME = "YYYY-MM-DD HH:mm:ss"
COLUMNS = {
    "created": st.column_config.DatetimeColumn("Created (UTC)", format=TIME),
    "status": st.column_config.TextColumn("Status"),
    "event": st.column_config.TextColumn("Event"),
    "subject": st.column_config.TextColumn("Subject", width="large"),
    "to": st.column_config.TextColumn("To", help="A channel, or the addresses, masked"),
    "attempts": st.column_config.NumberColumn("Attempts", format="%d"),
    "channel": st.column_config.TextColumn("Channel"),
    "where": st.column_config.TextColumn("Outbox"),
    "id": st.column_config.NumberColumn("Id", format="%d"),
    "next_attempt_at": st.column_config.DatetimeColumn("Next attempt (UTC)", format=TIME),
    "sent_at": st.column_config.DatetimeColumn("Sent (UTC)", format=TIME),
    "last_error": st.column_config.TextColumn("Last error", width="large"),
}


def _status_from_url() -> str:
    raw = (st.query_params.get("status") or "").strip().lower()
    return raw if raw in STATUSES else ALL


def render(principal: Principal, jobs: Any) -> None:
    results_panel(RESULTS)
    seed = url_state.entered("notifications_seed", STATUS_KEY, _status_from_url)
    options = (ALL, *STATUSES)
    status = st.segmented_control(
        "Status", options, key=STATUS_KEY, default=seed, format_func=str.capitalize
    )
    status = status or ALL
    url_state.write({"status": None if status == ALL else status})
    try:
        frame = listing.recent(jobs.outboxes, None if status == ALL else status, limit=LIMIT)
    except SQLAlchemyError as exc:
        st.error(f"The outboxes cannot be read: {escape_markdown(masked_line(type(exc).__name__))}")
        return
    selected = selected_row(
        frame, KEY, order=ORDER, config=COLUMNS, hint="Select a failed message to send it again."
    )
    with st.container(horizontal=True):
        if policy.may_run(principal, RETRY):
            usable = selected is not None and selected["status"] == "failed"
            target = {} if selected is None else _message(selected)
            st.button(
                "Retry",
                key="notifications_retry",
                icon=":material/replay:",
                disabled=not usable,
                on_click=run_action,
                args=(RESULTS, "Retry", RETRY, principal),
                kwargs={"forget": KEY, **target},
                help="Send the selected failed message again (its attempts start from zero).",
            )
        if policy.may_run(principal, DELIVER):
            st.button(
                "Deliver now",
                key="notifications_deliver",
                icon=":material/send:",
                on_click=run_action,
                args=(RESULTS, "Deliver now", DELIVER, principal),
                help="Send what is due now, in this request, instead of waiting for the next poll.",
            )
    if frame.empty:
        shown = "" if status == ALL else f" {status}"
        st.info(f"No{shown} messages.", icon=":material/inbox:")


def _message(row: dict[str, Any]) -> dict[str, Any]:
    """notification.retry's parameters for a listed message."""
    return {"outbox": str(row["where"]), "message_id": int(row["id"])}
