"""The dashboard's KPI cards: each value with its change against the previous period of the
same length (the backlog, a level now, shows its note instead)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from lib.dashboard.model import Filters, Kpi
from lib.ui.widgets import escape_markdown, krw_short

PER_ROW = 4
# A rise that is bad news, or neither good nor bad.
DELTA_COLORS = {"refund_rate": "inverse", "marketing_spend": "off"}
EMPTY = "—"
CHIP = 40  # characters of a note shown on a card
UNAVAILABLE = "unavailable:"  # a KPI whose source could not be read (lib.dashboard.data)


def value_text(kpi: Kpi) -> str:
    """The card's figure: ₩1.2B, 12,345, 4.2%, 3.21×, 5.5 h."""
    v = kpi.value
    if v is None:
        return EMPTY
    if kpi.unit == "krw":
        return krw_short(v)
    if kpi.unit == "count":
        return f"{v:,.0f}"
    if kpi.unit == "percent":
        return f"{v:.1%}"
    if kpi.unit == "ratio":
        return f"{v:,.2f}×"
    if kpi.unit == "hours":
        return f"{v:,.1f} h"
    return f"{v:,}"


def exact_text(kpi: Kpi) -> str | None:
    """The card's help: the exact figure behind a short one, what a ratio means, and the
    KPI's note when the card shows a change instead."""
    lines = []
    if kpi.unit == "krw" and kpi.value is not None:
        lines.append(f"₩{kpi.value:,.0f}")
    if kpi.unit == "ratio":
        lines.append("Won of revenue kept per won of marketing spend")
    if kpi.note and (kpi.previous is not None or chip(kpi.note) != kpi.note):
        lines.append(escape_markdown(kpi.note))
    return "  \n".join(lines) or None


def delta_text(kpi: Kpi) -> str | None:
    """+12.3% / -4.0% against the previous period; None when there is nothing to compare."""
    change = kpi.change
    return None if change is None else f"{change:+.1%}"


def period_text(filters: Filters) -> str:
    before = filters.previous()
    return f"{before.date_from.isoformat()} – {before.date_to.isoformat()}"


def rows_of(kpis: Sequence[Kpi]) -> list[Sequence[Kpi]]:
    """Cards in rows of at most PER_ROW, evened out (9 -> 3 + 3 + 3, 7 -> 4 + 3)."""
    if not kpis:
        return []
    count = -(-len(kpis) // PER_ROW)
    size = -(-len(kpis) // count)
    return [kpis[i : i + size] for i in range(0, len(kpis), size)]


def chip(note: str) -> str:
    """A note short enough for the card (the whole of it is in the card's help)."""
    first = note.split(":", 1)[0] if note.startswith(UNAVAILABLE) else note
    return first if len(first) <= CHIP else first[: CHIP - 1] + "…"


def card(kpi: Kpi) -> None:
    if kpi.previous is None and kpi.note:
        st.metric(
            kpi.label,
            value_text(kpi),
            delta=escape_markdown(chip(kpi.note)),
            delta_color="off",
            delta_arrow="off",
            help=exact_text(kpi),
            border=True,
        )
        return
    st.metric(
        kpi.label,
        value_text(kpi),
        delta=delta_text(kpi),
        delta_color=DELTA_COLORS.get(kpi.key, "normal"),  # type: ignore[arg-type]
        help=exact_text(kpi),
        border=True,
    )


def kpi_cards(kpis: Sequence[Kpi], filters: Filters) -> None:
    """The cards, then which period the changes compare with. A KPI whose source could not
    be read says so above the cards (the others stand)."""
    for kpi in kpis:
        if kpi.value is None and kpi.note.startswith(UNAVAILABLE):
            reason = kpi.note.removeprefix(UNAVAILABLE).strip()
            st.warning(
                escape_markdown(f"{kpi.label} is unavailable: {reason}"), icon=":material/error:"
            )
    rows = rows_of(list(kpis))
    for row in rows:  # the same width in every row, the last one may be shorter
        for col, kpi in zip(st.columns(len(rows[0])), row, strict=False):
            with col:
                card(kpi)
    st.caption(f"Changes compared with the previous {filters.days:,} days: {period_text(filters)}")
