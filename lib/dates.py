"""Calendar months and elapsed times, worked out one way for every caller (the dashboard's
default range and its links to Orders, the seller statement's month, the demo data, the
backlog's "oldest waiting" wording). No Streamlit here."""

from __future__ import annotations

from datetime import date, timedelta


def month_start(d: date, back: int = 0) -> date:
    """The first day of `d`'s month, or of the month `back` months before it."""
    y, m = divmod(d.year * 12 + d.month - 1 - back, 12)
    return date(y, m + 1, 1)


def next_month(d: date) -> date:
    """The first day of the month after `d`'s."""
    return month_start(d, back=-1)


def month_end(d: date) -> date:
    """The last day of `d`'s month."""
    return next_month(d) - timedelta(days=1)


def age_text(age: timedelta) -> str:
    """How long something has waited, to the minute: '3 d 4 h', '5 h 12 min', '7 min'
    (a negative age, from clocks a little apart, reads '0 min')."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"
