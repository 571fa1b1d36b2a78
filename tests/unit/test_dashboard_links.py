"""Links from a dashboard period to the Orders page."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from lib.dashboard.links import orders_params, orders_url, period_end
from lib.dashboard.model import Filters


def query(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert parts.path == "/orders"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


@pytest.mark.parametrize(
    ("start", "granularity", "end"),
    [
        (date(2026, 2, 1), "month", date(2026, 2, 28)),
        (date(2024, 2, 1), "month", date(2024, 2, 29)),
        (date(2025, 12, 1), "month", date(2025, 12, 31)),
        (date(2026, 1, 5), "week", date(2026, 1, 11)),
        (date(2026, 1, 5), "day", date(2026, 1, 5)),
    ],
)
def test_a_period_ends_on_its_last_day(start, granularity, end):
    assert period_end(start, granularity) == end


def test_a_month_of_a_sellers_view_links_to_that_month_and_seller():
    view = Filters(date(2025, 11, 1), date(2026, 10, 31), "month", seller_id=3, segment="vip")
    assert query(orders_url(view, date(2026, 2, 1))) == {
        "from": "2026-02-01",
        "to": "2026-02-28",
        "seller": "3",
    }


def test_periods_at_the_edges_are_clipped_to_the_views_range():
    view = Filters(date(2026, 1, 1), date(2026, 1, 10), "week")
    assert orders_params(view, date(2025, 12, 29)) == {"from": "2026-01-01", "to": "2026-01-04"}
    assert orders_params(view, date(2026, 1, 5)) == {"from": "2026-01-05", "to": "2026-01-10"}
    assert "seller" not in query(orders_url(view, date(2026, 1, 5)))
