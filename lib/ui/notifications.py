"""The Notifications page (admins): the messages in the outboxes, the scheduled reports, and
in the demo what its sinks received.

    Messages           lib.notify.listing.recent, filtered by status (?status= in the URL);
                       Retry a failed one (notification.retry), Deliver now (one delivery
                       round in this request, as the background thread does every poll_s:
                       notification.deliver_now)
    Scheduled reports  each active schedule, its last period and that send's status; Send
                       now (the scheduler's round here: report.send_now), Retry build for a
                       period that could not be built (report.retry), Stop (report.unschedule)
    Demo inbox         (settings.demo) the demo sinks' GET /mail and GET /messages
"""

from __future__ import annotations

import streamlit as st

from lib.access.principal import Principal
from lib.config import runtime
from lib.jobs import worker
from lib.ui import notifications_demo, notifications_messages, notifications_reports


def render(principal: Principal) -> None:
    st.title("Notifications")
    settings = runtime.settings()
    jobs = worker.for_process(settings, runtime.engine())
    st.caption(
        "Messages are written with the change that caused them and delivered by each app "
        f"process every {jobs.poll_s:g} s, with retries; scheduled reports are looked for "
        f"every {jobs.report_every_s:g} s."
    )
    names = ["Messages", "Scheduled reports"] + (["Demo inbox"] if settings.demo else [])
    tabs = st.tabs(names)
    with tabs[0]:
        notifications_messages.render(principal, jobs)
    with tabs[1]:
        notifications_reports.render(principal, jobs)
    if settings.demo:
        with tabs[2]:
            notifications_demo.render(settings)
