"""The Notifications page's demo inbox: what the demo's sinks (lib.demo.services.sinks, `make
run`) received: the e-mails (GET /mail) and the chat webhook calls (GET /messages).

Where the sinks are is read from the configuration, not from a constant: the demo's chat
channels post to the webhook sink (`.../hooks/<name>`), so the sinks' base URL is that of
the first webhook channel whose URL has that shape (the same port serves GET /mail). A test
or a moved demo that points the channel elsewhere moves this listing with it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests
import streamlit as st

from lib.access.masking import mask, mask_contacts
from lib.config.settings import Settings
from lib.notify.config import NotifyConfig
from lib.ui.widgets import escape_markdown

TIMEOUT_S = 2.0
SHOWN = 50  # of each list
TIME = "YYYY-MM-DD HH:mm:ss"  # as the Messages tab shows times
# Labels like the Messages tab's (lib.ui.notifications_messages); widths (px) that show the
# time, subject, recipients and attachments within the page's width at 1280 px (the text,
# a preview, comes last), and rows tall enough that a cell's text wraps (Streamlit wraps
# from 4 rem): two report files' names and sizes read whole.
MAIL_ROW_HEIGHT = 72
RECEIVED = st.column_config.DatetimeColumn("Received (UTC)", format=TIME, width=150)
MAIL_COLUMNS: dict[str, Any] = {
    "received": RECEIVED,
    "subject": st.column_config.TextColumn("Subject", width=180),
    "to": st.column_config.TextColumn("To", help="The addresses, masked", width=110),
    "attachments": st.column_config.TextColumn(
        "Attachments", help="File names and sizes", width=290
    ),
    "text": st.column_config.TextColumn("Text", help="The start of the message", width=300),
}
HOOK_COLUMNS: dict[str, Any] = {
    "received": RECEIVED,
    "hook": st.column_config.TextColumn("Webhook", width=110),
    "text": st.column_config.TextColumn("Text", width="large"),
}


def sinks_url(settings: Settings) -> str | None:
    """The demo sinks' base URL, from the first webhook channel posting to `/hooks/<name>`."""
    config = NotifyConfig.of(settings.notifications)
    for channel in config.channels.values():
        if channel.kind != "webhook" or not channel.url:
            continue
        parts = urlsplit(channel.url)
        if parts.path.startswith("/hooks/"):
            return f"{parts.scheme}://{parts.netloc}"
    return None


def _get(base: str, path: str) -> list[dict[str, Any]]:
    response = requests.get(f"{base}{path}", timeout=TIMEOUT_S)
    response.raise_for_status()
    return list(response.json())[:SHOWN]


def render(settings: Settings) -> None:
    base = sinks_url(settings)
    if base is None:
        st.info("No demo webhook channel is configured, so there is no demo inbox to show.")
        return
    try:
        mail, hooks = _get(base, "/mail"), _get(base, "/messages")
    except (requests.RequestException, ValueError):
        st.info(
            f"The demo sinks are not running at {escape_markdown(base)}: start the demo with "
            "`make run` (it starts them) and what the app sends shows here.",
            icon=":material/inbox:",
        )
        return
    st.button("Refresh", key="notifications_demo_refresh", icon=":material/refresh:")
    st.subheader(f"E-mails ({len(mail)})")
    if mail:
        st.dataframe(
            _mail_frame(mail),
            hide_index=True,
            width="stretch",
            column_config=MAIL_COLUMNS,
            row_height=MAIL_ROW_HEIGHT,
        )
    else:
        st.caption("No e-mail received yet.")
    st.subheader(f"Chat messages ({len(hooks)})")
    if hooks:
        st.dataframe(
            _hooks_frame(hooks), hide_index=True, width="stretch", column_config=HOOK_COLUMNS
        )
    else:
        st.caption("No chat message received yet.")


def _size(size: Any) -> str:
    """A file's size as people read it: 812 B, 47 KB, 1.2 MB."""
    n = int(size or 0)
    if n < 1024:
        return f"{n:,} B"
    if n < 1024 * 1024:
        return f"{n / 1024:,.0f} KB"
    return f"{n / 1024 / 1024:,.1f} MB"


def _received(frame: pd.DataFrame) -> pd.DataFrame:
    frame["received"] = pd.to_datetime(frame["received"], utc=True, errors="coerce")
    return frame


def _mail_frame(mail: list[dict[str, Any]]) -> pd.DataFrame:
    return _received(
        pd.DataFrame(
            [
                {
                    "received": m.get("received_at"),
                    "subject": mask_contacts(m.get("subject") or ""),
                    "to": ", ".join(str(mask("email", a)) for a in m.get("to") or []),
                    "attachments": ", ".join(
                        f"{a.get('filename')} ({_size(a.get('size'))})"
                        for a in m.get("attachments") or []
                    ),
                    "text": mask_contacts((m.get("text") or "")[:500]),
                }
                for m in mail
            ]
        )
    )


def _hooks_frame(hooks: list[dict[str, Any]]) -> pd.DataFrame:
    def text(body: Any) -> str:
        return str(mask_contacts(body.get("text", "") if isinstance(body, dict) else body))

    return _received(
        pd.DataFrame(
            [
                {
                    "received": h.get("received_at"),
                    "hook": h.get("hook"),
                    "text": text(h.get("body")),
                }
                for h in hooks
            ]
        )
    )
