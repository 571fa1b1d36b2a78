"""'Schedule this view': the dashboard's current view e-mailed as a report, daily, weekly or
monthly (the report.schedule action; lib.reports.schedules sends it).

The button only marks the dialog pending and the dialog opens on every run while it is
(a click inside a dialog opened straight from a button is lost in AppTest); Cancel, a
dismiss and a schedule kept clear it. A refusal is said in the dialog, which stays open with
what was typed; a schedule kept closes it and is said in a toast.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.actions.reports import MAX_NAME, MAX_RECIPIENTS
from lib.dashboard.model import Filters
from lib.reports.schedules_store import FREQUENCIES
from lib.ui import session_guard
from lib.ui.widgets import RESULT_ICONS, escape_markdown, submit_or_cancel

PENDING = "report_schedule_pending"  # the view (Filters.url()) the open dialog schedules
DONE = "report_schedule_done"  # the message of the schedule just kept, toasted once
TYPED = ("report_schedule_name", "report_schedule_recipients", "report_schedule_frequency")
ACTION = "report.schedule"
# The view's granularity suggests how often: a daily view daily, and so on.
SUGGESTED = {"day": "daily", "week": "weekly", "month": "monthly"}
PERIODS = {
    "daily": "yesterday",
    "weekly": "last Monday to Sunday",
    "monthly": "last calendar month",
}


def schedule_button(principal: Principal, filters: Filters) -> None:
    """The button, for those the policy lets run report.schedule, and its dialog."""
    if not policy.may_run(principal, ACTION):
        return
    st.button(
        "Schedule this view",
        key="report_schedule_open",
        icon=":material/schedule_send:",
        on_click=_open,
        args=(filters.url(),),
        help="E-mail this view's XLSX and PDF to people, once a day, week or month.",
    )
    done = st.session_state.pop(DONE, None)
    if done:
        st.toast(escape_markdown(done), icon=RESULT_ICONS["ok"])
    pending = st.session_state.get(PENDING)
    if pending is not None:
        _dialog(principal, pending)


def _open(view: dict[str, Any]) -> None:
    _close()
    st.session_state[PENDING] = view


def _close() -> None:
    state = st.session_state
    state.pop(PENDING, None)
    for key in TYPED:
        state.pop(key, None)


def _in_words(view: dict[str, Any]) -> str:
    shown = [f"{k} {v}" for k, v in view.items() if k not in ("from", "to") and v is not None]
    return ", ".join(shown) or "all"


@session_guard.dialog("Schedule this view", on_dismiss=_close)
def _dialog(principal: Principal, view: dict[str, Any]) -> None:
    st.caption(
        f"View: {escape_markdown(_in_words(view))}. Each report covers the latest finished "
        "period (the dates shown now are not kept) and comes as XLSX and PDF attachments."
    )
    name = st.text_input("Report name", key=TYPED[0], max_chars=MAX_NAME)
    recipients = st.text_area(
        "Recipients",
        key=TYPED[1],
        height=80,
        placeholder="ana@example.com, ops@example.com",
        help=f"E-mail addresses separated by commas or spaces, {MAX_RECIPIENTS} at most.",
    )
    suggested = SUGGESTED.get(str(view.get("granularity")), "monthly")
    frequency = st.radio(
        "How often",
        FREQUENCIES,
        key=TYPED[2],
        index=FREQUENCIES.index(suggested),
        horizontal=True,
        format_func=lambda f: f"{f.capitalize()} ({PERIODS[f]})",
    )
    if submit_or_cancel("Schedule", "report_schedule", _close, icon=":material/send:"):
        result = actions.run(
            ACTION,
            session_guard.actor(principal),
            name=name,
            recipients=recipients,
            frequency=frequency,
            view=view,
        )
        if not result.ok:  # stays open with what was typed, to be put right
            st.error(escape_markdown(result.message), icon=RESULT_ICONS.get(result.outcome))
            return
        _close()
        st.session_state[DONE] = result.message
        st.rerun()
