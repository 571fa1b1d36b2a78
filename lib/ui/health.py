"""The back-end health panel: every source and service, up or down, how fast, since when it
fails. `panel()` is the full table on /integrations; `compact()` is one line of badges on
Home for staff. Both read the process's one background checker (lib.health.checker) and
refresh themselves in place (session_guard.fragment(run_every=...): a tab logged out
elsewhere meanwhile goes back to the sign-in form): a back end that goes down turns red
without a reload. Nothing here checks a back end on page load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from lib.access import policy
from lib.access.principal import Principal
from lib.config import runtime
from lib.errors import one_line
from lib.health.checker import HealthChecker, TargetHealth, for_process
from lib.ui import session_guard
from lib.ui.navigation import allowed_pages
from lib.ui.widgets import ago, escape_markdown

# Plain characters, coloured by the table's style: emoji need a colour font the browser may
# lack (headless Chromium here showed empty boxes); the words alone read at any width.
UP, DOWN, UNCHECKED = "● up", "● down", "○ not checked yet"
STATUS_COLOURS = {UP: "#15803d", DOWN: "#b91c1c", UNCHECKED: "#6b7280"}
MAX_REFRESH_S = 5.0  # the panel redraws at least this often: a down back end shows soon


def _checker() -> HealthChecker:
    return for_process(runtime.settings())


def _refresh_every(checker: HealthChecker) -> timedelta:
    """How often a panel redraws: the check interval, capped so the page follows closely."""
    return timedelta(seconds=max(0.5, min(checker.interval_s, MAX_REFRESH_S)))


def status_of(target: TargetHealth) -> str:
    if target.ok is None:
        return UNCHECKED
    return UP if target.ok else DOWN


ERROR_CHARS = 160  # an error in the table: the checker's lines are at most 200


def _ms(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _last_error(target: TargetHealth) -> str:
    """Why it is down; for one up again, the latest failure still in memory and when."""
    if target.ok is False:
        return one_line(target.error, ERROR_CHARS) or "down"
    if target.last_error:
        return f"{one_line(target.last_error, ERROR_CHARS)} ({ago(target.last_error_at)})"
    return ""


# Most telling first: on a narrow screen the table scrolls sideways from the right.
TABLE_COLUMNS = [
    "status",
    "back end",
    "last ms",
    "p95 1 h ms",
    "latency",
    "version",
    "down since",
    "last error",
    "kind",
    "where",
    "checked",
]


def table(targets: Sequence[TargetHealth]) -> pd.DataFrame:
    """One row per back end, in the checker's order (the config's)."""
    return pd.DataFrame(
        [
            {
                "status": status_of(t),
                "back end": t.name,
                "last ms": _ms(t.latency_ms),
                "p95 1 h ms": _ms(t.p95_ms),
                "latency": [round(v, 1) for v in t.latencies],
                "version": t.version or "",
                "down since": ago(t.down_since) if t.ok is False and t.down_since else "",
                "last error": _last_error(t),
                "kind": t.kind,
                "where": t.where,
                "checked": ago(t.last_checked) if t.last_checked else "not yet",
            }
            for t in targets
        ],
        columns=TABLE_COLUMNS,
    )


def _styled(frame: pd.DataFrame) -> Styler:
    """The status words in green, red or grey."""
    return frame.style.map(
        lambda v: f"color: {STATUS_COLOURS.get(v, 'inherit')}; font-weight: 600",
        subset=["status"],
    )


def summary(targets: Sequence[TargetHealth]) -> str:
    """'7 of 8 back ends up' (and how many wait for their first check)."""
    waiting = sum(t.ok is None for t in targets)
    if targets and waiting == len(targets):
        return f"Checking {len(targets)} back ends…"
    line = f"{sum(t.ok is True for t in targets)} of {len(targets)} back ends up"
    return f"{line} ({waiting} not checked yet)" if waiting else line


COLUMNS = {
    "status": st.column_config.TextColumn("status", pinned=True, width=76),
    "back end": st.column_config.TextColumn("back end", pinned=True),
    "last ms": st.column_config.NumberColumn("last ms", format="%.0f", width="small"),
    "p95 1 h ms": st.column_config.NumberColumn(
        "p95 1 h ms", format="%.0f", width="small", help="95th percentile over the last hour"
    ),
    "latency": st.column_config.LineChartColumn(
        "latency", y_min=0, width="small", help="Latency of the checks over the last hour"
    ),
    # Medium: the columns after it still show at 1280 px; the whole error is in an alert.
    "last error": st.column_config.TextColumn("last error", width="medium"),
}


def _panel_body() -> None:
    checker = _checker()
    targets = checker.snapshot()
    head, button = st.columns([4, 1], vertical_alignment="center")
    down = [t for t in targets if t.ok is False]
    with head.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{summary(targets)}**")
        if down:
            st.badge(f"{len(down)} down", icon=":material/error:", color="red")
    if button.button("Check now", key="health_check_now", icon=":material/refresh:"):
        with st.spinner("Checking every back end…"):  # a hung one takes its timeout
            targets = checker.check_now()
        down = [t for t in targets if t.ok is False]
    st.dataframe(_styled(table(targets)), hide_index=True, width="stretch", column_config=COLUMNS)
    # The failing ones again below the table, whole: on a phone the error column is far right.
    for t in down:
        since = f" (down since {ago(t.down_since)})" if t.down_since else ""
        st.error(
            escape_markdown(f"{t.name}: {one_line(t.error, ERROR_CHARS) or 'down'}{since}"),
            icon=":material/cloud_off:",
        )
    checked = [t.last_checked for t in targets if t.last_checked]
    st.caption(
        f"Checked in the background every {checker.interval_s:g} s; "
        f"last check {ago(max(checked)) if checked else 'not yet'}."
    )


def panel() -> None:
    """The full health panel (the caller gives it a heading), redrawn in place every few
    seconds."""
    refresh = _refresh_every(_checker())
    session_guard.fragment(run_every=refresh, key="health_panel")(_panel_body)()


def _badge(target: TargetHealth) -> None:
    name = escape_markdown(target.name)
    if target.ok is None:
        st.badge(f"{name} …", icon=":material/hourglass_empty:", color="gray")
    elif target.ok:
        ms = f" {target.latency_ms:.0f} ms" if target.latency_ms is not None else ""
        st.badge(f"{name} up{ms}", icon=":material/check_circle:", color="green")
    else:
        st.badge(
            f"{name} down",
            icon=":material/error:",
            color="red",
            help=escape_markdown(one_line(target.error, ERROR_CHARS) or "down"),
        )


def _compact_body(link: str | None) -> None:
    targets = _checker().snapshot()
    with st.container(horizontal=True, gap="small"):
        for t in targets:
            _badge(t)
    for t in (t for t in targets if t.ok is False):
        since = f" — down since {ago(t.down_since)}" if t.down_since else ""
        st.caption(escape_markdown(f"{t.name}: {one_line(t.error, 120) or 'down'}{since}"))
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(summary(targets))
        if link:
            st.page_link(link, label="Back-end health", icon=":material/monitor_heart:")


def compact(principal: Principal) -> None:
    """Home's one line of back-end badges, for staff only: sellers see nothing of the back
    ends. A link to the full panel for those who may open /integrations."""
    if not policy.sees_sources(principal):
        return
    link = next((p.file for p in allowed_pages(principal) if p.url_path == "integrations"), None)
    st.subheader("Back ends")
    refresh = _refresh_every(_checker())
    session_guard.fragment(run_every=refresh, key="health_compact")(_compact_body)(link)
