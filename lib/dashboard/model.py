"""What the dashboard shows, as plain values shared by the page, the reports and the tests.

A `Filters` is one dashboard view (what the URL holds); `DashboardData` is everything the
page draws for it: the KPI cards, each chart's data and how fresh the data is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import pandas as pd

GRANULARITIES = ("day", "week", "month")
# Chart key -> title; each chart's frame has the columns listed in lib.dashboard.data.
CHARTS: dict[str, str] = {
    "revenue_by_segment": "Revenue by period and segment",
    "revenue_vs_spend": "Revenue against marketing spend",
    "share_by_segment": "Share by segment",
    "share_by_method": "Share by payment method",
    "refunds_by_reason": "Refunds by reason",
}


@dataclass(frozen=True)
class Filters:
    """One dashboard view. Both dates are inclusive (as on the Orders page)."""

    date_from: date
    date_to: date
    granularity: str = "month"
    seller_id: int | None = None
    segment: str | None = None
    method: str | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def previous(self) -> Filters:
        """The period of the same length that ends the day before this one starts."""
        end = self.date_from - timedelta(days=1)
        return replace(self, date_from=end - timedelta(days=self.days - 1), date_to=end)

    def bound(self) -> dict[str, object]:
        """The named queries' parameters: an inclusive start and an exclusive end as ISO
        dates, the granularity, and each slicing filter (None: all)."""
        return {
            "date_from": self.date_from.isoformat(),
            "date_end": (self.date_to + timedelta(days=1)).isoformat(),
            "granularity": self.granularity,
            "seller_id": self.seller_id,
            "segment": self.segment,
            "method": self.method,
        }

    def url(self) -> dict[str, object]:
        """The URL's query parameters for this view (None: left out)."""
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "granularity": self.granularity,
            "seller": self.seller_id,
            "segment": self.segment,
            "method": self.method,
        }


@dataclass(frozen=True)
class Kpi:
    """One KPI card: its value over the view and over the previous period of the same length.

    unit: "krw", "count", "percent" (a fraction, 0.05 is 5 %), "ratio" (revenue per won),
    or "hours". `previous` is None where a comparison means nothing (the backlog is a
    level now, not a flow over the period)."""

    key: str
    label: str
    value: float | None
    previous: float | None
    unit: str
    note: str = ""

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (0.12 is +12 %); None when either is
        missing or the previous is zero."""
        if self.value is None or self.previous in (None, 0):
            return None
        return (self.value - self.previous) / abs(self.previous)


@dataclass(frozen=True)
class DashboardData:
    filters: Filters
    kpis: tuple[Kpi, ...]
    charts: Mapping[str, pd.DataFrame]  # key of CHARTS -> its data
    refreshed_at: datetime | None  # the oldest snapshot the figures came from (UTC)
    sources: tuple[str, ...] = ()
    tenant: int | None = None  # the seller the view is bound to (a seller's own dashboard)
    labels: Mapping[str, str] = field(default_factory=dict)  # e.g. seller -> its name

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)
