"""The Notifications page's messages: every outbox's newest rows, by status (in the URL),
Retry for a failed one and Deliver now."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lib import actions
from lib.access import policy
from lib.access.masking import masked_line
from lib.access.principal import Principal
from lib.notify import listing
from lib.notify.outbox import STATUSES
from lib.ui import session_guard, url_state
from lib.ui.widgets import escape_markdown, keep_results, results_panel

KEY = "notifications_messages"
STATUS_KEY = "notifications_status"
RESULTS = "notifications_results"
ALL = "all"
LIMIT = 200
RETRY = "notification.retry"
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
    selected = _table(frame)
    with st.container(horizontal=True):
        if policy.may_run(principal, RETRY):
            usable = selected is not None and selected["status"] == "failed"
            st.button(
                "Retry",
                key="notifications_retry",
                icon=":material/replay:",
                disabled=not usable,
                on_click=_retry,
                args=(principal, selected),
                help="Send the selected failed message again (its attempts start from zero).",
            )
        st.button(
            "Deliver now",
            key="notifications_deliver",
            icon=":material/send:",
            on_click=_deliver,
            args=(principal, jobs),
            help="Send what is due now, in this request, instead of waiting for the next poll.",
        )
    if frame.empty:
        shown = "" if status == ALL else f" {status}"
        st.info(f"No{shown} messages.", icon=":material/inbox:")


def _table(frame: pd.DataFrame) -> dict[str, Any] | None:
    """The messages; the selected row (for Retry), or None."""
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
        },
    )
    rows = event.selection.rows if event else []
    if not rows or rows[0] >= len(frame):
        st.caption("Select a failed message to send it again.")
        return None
    row = frame.iloc[rows[0]]
    return {"where": str(row["where"]), "id": int(row["id"]), "status": str(row["status"])}


def _retry(principal: Principal, selected: dict[str, Any] | None) -> None:
    if selected is None:
        return
    result = actions.run(
        RETRY,
        session_guard.actor(principal),
        outbox=selected["where"],
        message_id=selected["id"],
    )
    keep_results(RESULTS, "Retry", [result])
    st.session_state.pop(KEY, None)  # the row moves: do not keep a stale selection


def _deliver(principal: Principal, jobs: Any) -> None:
    """One round of the process's deliverer, as its thread runs every poll_s: not an action
    (it changes nobody's data, only sends what is due), but still only for a session that
    holds."""
    if session_guard.actor(principal) is None:
        return
    sent = jobs.deliverer.tick()
    noun = "message" if sent == 1 else "messages"
    st.toast(f"Delivered {sent} {noun} now.", icon=":material/send:")
