"""The dashboard's view from its URL: dates, granularity and the slicing filters.

`from` and `to` are inclusive dates (as on the Orders page). Without them the view is the
last 12 full months of the data (`default_range`). A value the link gets wrong is ignored
with a one-line problem each, and its default used; a segment or method the data does not
know is kept here: the data layer checks those against what it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from lib.dashboard.model import GRANULARITIES, Filters
from lib.dates import month_end, month_start
from lib.url_values import parse_date, parse_int, quoted

DEFAULT_GRANULARITY = "month"
MAX_TEXT = 100  # a segment or method longer than this is no value the data holds


def default_range(latest: date) -> tuple[date, date]:
    """The last 12 full months up to `latest` (the latest order's day): `to` is the last day
    of the last full month (`latest`'s month when `latest` is its last day, else the month
    before), `from` the first day of the month 11 months before that one."""
    end = latest if latest == month_end(latest) else month_start(latest) - timedelta(days=1)
    return month_start(end, back=11), end


def _text(query: Mapping[str, str], name: str) -> str:
    return (query.get(name) or "").strip()


def from_url(query: Mapping[str, str], latest: date | None) -> tuple[Filters, list[str]]:
    """The view a link asks for and a one-line problem for each value ignored.

    `latest` is the latest order's day (None: no orders; today, in UTC, stands in). An end left
    out or unreadable takes the default range's; a `from` after the `to` is a problem and
    the default range is used."""
    problems: list[str] = []
    default_from, default_to = default_range(latest or datetime.now(UTC).date())

    def day(name: str, default: date) -> date:
        raw = _text(query, name)
        if not raw:
            return default
        value = parse_date(raw)
        if value is None:
            problems.append(
                f"Ignored {name} '{quoted(raw)}' from the link: not a date (YYYY-MM-DD)."
            )
            return default
        return value

    date_from, date_to = day("from", default_from), day("to", default_to)
    if date_from > date_to:
        problems.append(
            f"Ignored the dates from the link: from {date_from} is after to {date_to}; "
            f"showing {default_from} to {default_to}."
        )
        date_from, date_to = default_from, default_to

    granularity = _text(query, "granularity").lower() or DEFAULT_GRANULARITY
    if granularity not in GRANULARITIES:
        shown = quoted(_text(query, "granularity"))
        problems.append(
            f"Ignored granularity '{shown}' from the link: one of {', '.join(GRANULARITIES)}."
        )
        granularity = DEFAULT_GRANULARITY

    seller_id = None
    if raw := _text(query, "seller"):
        seller_id = parse_int(raw, minimum=1)
        if seller_id is None:
            problems.append(f"Ignored seller '{quoted(raw)}' from the link: not a seller id.")

    def text(name: str) -> str | None:
        raw = _text(query, name)
        if len(raw) > MAX_TEXT:
            problems.append(f"Ignored {name} '{quoted(raw)}' from the link: too long.")
            return None
        return raw or None

    filters = Filters(
        date_from=date_from,
        date_to=date_to,
        granularity=granularity,
        seller_id=seller_id,
        segment=text("segment"),
        method=text("method"),
    )
    return filters, problems
