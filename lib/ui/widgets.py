"""Small pieces every page renders the same way."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import streamlit as st

from lib.actions.base import Result
from lib.errors import BackofficeError
from lib.reading.engine import Engine

# Characters with a meaning in Streamlit's markdown wherever they stand: emphasis, code,
# links and images, HTML and entities, headings, tables, strike-through, LaTeX.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>#|~$&]")
_UNDERSCORES = re.compile(r"_+")
_BLOCK_START = re.compile(r"^(\s*)([-+=]|[0-9]+[.)])")  # a list item or heading line
# Bare URLs become links after markdown is parsed, escapes or not: a word joiner (U+2060,
# invisible) between "http" and "://" or "www" and "." keeps them text.
_BARE_URL = re.compile(r"(?i)(?<=https)(?=://)|(?<=http)(?=://)|(?<=www)(?=\.)")
# Streamlit turns ":material/name:", emoji shortcodes (":smile:", ":+1:", ":100:") and
# directives (":red[…]", ":small") into icons, emoji and styles. It rewrites ":material/"
# in the source before markdown is read, so a backslash does not stop an icon: a word
# joiner after the colon stops all three (checked in Chromium with Streamlit 1.67).
# Times (10:00) and "note: text" are left alone.
_SHORTCODE_COLON = re.compile(r"(?<=:)(?=[A-Za-z_+-]|[0-9][A-Za-z0-9_+-]*:)")


def escape_markdown(text: object) -> str:
    """`text` shown as it is where Streamlit renders markdown (st.markdown, st.caption,
    alerts, toasts, subheaders, widget labels): for text that users, sources or URLs
    control, such as product names, reasons, URL parameters and error messages.

    "**bold** [x](http://evil)" shows those very characters, not bold text and a link, and
    ":material/home: :smile:" those characters, not an icon and an emoji.
    Line breaks become spaces: the text is one line within its element."""
    flat = " ".join(str(text).splitlines())
    out = _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(), flat)
    out = _UNDERSCORES.sub(_escape_underscores, out)
    out = _BLOCK_START.sub(lambda m: f"{m.group(1)}{m.group(2)[:-1]}\\{m.group(2)[-1]}", out)
    out = _SHORTCODE_COLON.sub("\u2060", out)
    return _BARE_URL.sub("\u2060", out)


def _escape_underscores(run: re.Match[str]) -> str:
    """Underscores between letters or digits (customer_api) never emphasise (CommonMark),
    so they stay as they are; any other run may, and is escaped."""
    text, start, end = run.string, run.start(), run.end()
    inside_word = start > 0 and end < len(text) and text[start - 1].isalnum()
    if inside_word and text[end].isalnum():
        return run.group()
    return "\\_" * (end - start)


def show_error(exc: BackofficeError) -> None:
    """The one-line message of an error the user can act on."""
    st.error(escape_markdown(exc), icon=":material/error:")


def krw_short(amount: float) -> str:
    """₩1.2B / ₩518.2M / ₩12,300: a metric that fits its card."""
    for size, unit in ((1e9, "B"), (1e6, "M")):
        if abs(amount) >= size:
            return f"₩{amount / size:,.1f}{unit}"
    return f"₩{amount:,.0f}"


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def freshness_bar(engine: Engine, sources: Sequence[str], key: str, what: str = "Data") -> None:
    """When this page's data (`what` of it) was refreshed, and a button to refresh it now."""
    left, right = st.columns([5, 1], vertical_alignment="center")
    when = engine.refreshed_at(sources)
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "not yet loaded"
    left.caption(f"{what} from {', '.join(sources)} — refreshed {stamp} ({ago(when)})")
    if right.button("Refresh", key=f"refresh_{key}", icon=":material/refresh:"):
        for name in sources:
            try:
                engine.refresh(name)
            except BackofficeError as exc:
                show_error(exc)
                return
        st.rerun()


def submit_or_cancel(
    label: str, key: str, close: Callable[[], None], icon: str | None = None
) -> bool:
    """A dialog's primary button (with an optional icon) and Cancel (keys `<key>_submit`,
    `<key>_cancel`); Cancel closes the dialog through `close` and reruns. Returns whether
    the button was clicked."""
    with st.container(horizontal=True):
        submit = st.button(label, key=f"{key}_submit", type="primary", icon=icon)
        cancel = st.button("Cancel", key=f"{key}_cancel")
    if cancel:
        close()
        st.rerun()
    return submit


RESULT_ICONS = {
    "ok": ":material/check_circle:",
    "denied": ":material/block:",
    "conflict": ":material/group:",
    "invalid": ":material/edit_off:",
    "failed": ":material/error:",
    "unknown": ":material/help:",
}


def show_result(result: Result) -> None:
    """A toast per action result; refusals also stay on the page as a message."""
    message = escape_markdown(result.message)
    st.toast(message, icon=RESULT_ICONS.get(result.outcome))
    if result.outcome == "conflict":
        st.warning(message, icon=RESULT_ICONS["conflict"])
    elif not result.ok:
        st.error(message, icon=RESULT_ICONS.get(result.outcome))


def keep_results(state_key: str, title: str, results: Sequence[Result]) -> None:
    """Keep a batch of action results for `results_panel` (toasts once, lines until the next)."""
    st.session_state[state_key] = {"title": title, "results": list(results), "fresh": True}


def results_panel(state_key: str) -> None:
    """The last batch's results: a toast per result once, then one line per result until
    the next batch or Clear; a conflict (someone got there first) is a warning."""
    batch = st.session_state.get(state_key)
    if not batch:
        return
    results: list[Result] = batch["results"]
    if batch.get("fresh"):
        batch["fresh"] = False
        for r in results:
            st.toast(escape_markdown(r.message), icon=RESULT_ICONS.get(r.outcome))
    done = sum(r.ok for r in results)
    with st.container(border=True):
        head, close = st.columns([5, 1], vertical_alignment="center")
        head.markdown(f"**{escape_markdown(batch['title'])}**: {done} of {len(results)} done")
        close.button(
            "Clear",
            key=f"{state_key}_clear",
            on_click=lambda: st.session_state.pop(state_key, None),
            icon=":material/close:",
            type="tertiary",
        )
        for r in results:
            icon, message = RESULT_ICONS.get(r.outcome), escape_markdown(r.message)
            if r.ok:
                st.success(message, icon=icon)
            elif r.outcome == "conflict":
                st.warning(message, icon=icon)
            else:
                st.error(message, icon=icon)
