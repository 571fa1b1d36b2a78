"""Links from the dashboard to the Orders page: one period of the view, as the Orders page
reads its URL (lib.ui.orders: `from` / `to` inclusive dates, `seller` id)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from lib.dashboard.model import Filters
from lib.dates import month_end

ORDERS_PATH = "/orders"


def period_end(start: date, granularity: str) -> date:
    """The last day of the period that starts on `start`."""
    if granularity == "day":
        return start
    if granularity == "week":
        return start + timedelta(days=6)
    if granularity == "month":
        return month_end(start)
    raise ValueError(f"Unknown granularity {granularity!r}")


def orders_params(filters: Filters, period_start: date) -> dict[str, str]:
    """The Orders page's query parameters for one period of the view: its first and last
    days clipped to the view's range, and the view's seller if it has one. (The Orders page
    has no segment or payment-method filter: those are not carried over.)"""
    first = max(period_start, filters.date_from)
    last = min(period_end(period_start, filters.granularity), filters.date_to)
    params = {"from": first.isoformat(), "to": last.isoformat()}
    if filters.seller_id is not None:
        params["seller"] = str(filters.seller_id)
    return params


def orders_url(filters: Filters, period_start: date) -> str:
    """A relative link to the Orders page for one period: "/orders?from=..&to=..&seller=..\""""
    return f"{ORDERS_PATH}?{urlencode(orders_params(filters, period_start))}"
