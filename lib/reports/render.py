"""How a dashboard view reads in a report: charts as PNG images, the filters and the figures
in words. The XLSX and the PDF both say the same things in the same words from here.

Charts are rendered by vl-convert (a Vega-Lite engine in the wheel): no browser, no network.
The Vega-Lite `$schema` URL in a spec is only read for its version; fonts come from the
bundled engine and the system's font directories, nothing is fetched (checked offline with
the network namespace removed: `unshare -rn`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import altair as alt
import vl_convert as vlc

from lib.dashboard.model import DashboardData, Filters, Kpi

GRANULARITY_WORDS = {"day": "Daily", "week": "Weekly", "month": "Monthly"}


def _vl_version() -> str | None:
    """Altair's Vega-Lite version (e.g. "6.4") when vl-convert knows it; else its default."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vlc.get_vegalite_versions() else None


def chart_png(chart: alt.TopLevelMixin, scale: float = 2) -> bytes:
    """The chart as a PNG image (`scale` 2: sharp when printed at its width in points)."""
    spec = chart.to_dict()
    version = _vl_version()
    if version:
        return vlc.vegalite_to_png(spec, vl_version=version, scale=scale)
    return vlc.vegalite_to_png(spec, scale=scale)


# --- words -----------------------------------------------------------------------------------


def day(value: date) -> str:
    return value.isoformat()


def span(start: date, end: date) -> str:
    days = (end - start).days + 1
    return f"{day(start)} to {day(end)} ({days} day{'s' if days != 1 else ''})"


def freshness(at: datetime | None) -> str:
    """When the figures were read, in UTC, or that it is not known."""
    if at is None:
        return "not known"
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return f"{at:%Y-%m-%d %H:%M} UTC"


def seller_words(data: DashboardData) -> str:
    seller = data.filters.seller_id
    if seller is None:
        return "All sellers"
    name = data.labels.get("seller")
    return f"{name} (#{seller})" if name else f"Seller #{seller}"


def filter_lines(data: DashboardData) -> list[tuple[str, str]]:
    """(label, words) for each filter of the view, then the comparison period."""
    f: Filters = data.filters
    prev = f.previous()
    return [
        ("Period", span(f.date_from, f.date_to)),
        ("Granularity", GRANULARITY_WORDS.get(f.granularity, f.granularity)),
        ("Seller", seller_words(data)),
        ("Customer segment", f.segment or "All segments"),
        ("Payment method", f.method or "All payment methods"),
        ("Compared with", span(prev.date_from, prev.date_to)),
    ]


def title(data: DashboardData) -> str:
    if data.filters.seller_id is not None:
        return f"Dashboard report: {seller_words(data)}"
    return "Dashboard report"


def number(value: float | None, unit: str) -> str:
    """A KPI value as the report prints it: KRW 1,234,567 / 1,234 / 12.3% / 3.21 / 4.5 h."""
    if value is None:
        return "-"
    if unit == "krw":
        return f"KRW {value:,.0f}"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "hours":
        return f"{value:,.1f} h"
    return f"{value:,.2f}"


def change(kpi: Kpi) -> str:
    value = kpi.change
    if value is None:
        return "-"
    return f"{value * 100:+.1f}%"
