"""The dashboard's view from a link: the default 12 full months, and what a bad link gives."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lib.dashboard.filters import default_range, from_url
from lib.dashboard.model import Filters


@pytest.mark.parametrize(
    ("latest", "expected"),
    [
        # The latest day ends its month: that month is full and the last one shown.
        (date(2026, 10, 31), (date(2025, 11, 1), date(2026, 10, 31))),
        # Mid-month: the month before is the last full one.
        (date(2026, 10, 30), (date(2025, 10, 1), date(2026, 9, 30))),
        (date(2026, 11, 1), (date(2025, 11, 1), date(2026, 10, 31))),
        # Across a year end.
        (date(2026, 1, 15), (date(2025, 1, 1), date(2025, 12, 31))),
        (date(2025, 12, 31), (date(2025, 1, 1), date(2025, 12, 31))),
        # February: the 28th ends it in a common year, not in a leap year.
        (date(2026, 2, 28), (date(2025, 3, 1), date(2026, 2, 28))),
        (date(2028, 2, 28), (date(2027, 2, 1), date(2028, 1, 31))),
        (date(2028, 2, 29), (date(2027, 3, 1), date(2028, 2, 29))),
        (date(2024, 3, 10), (date(2023, 3, 1), date(2024, 2, 29))),
    ],
)
def test_the_default_range_is_the_last_twelve_full_months(latest, expected):
    assert default_range(latest) == expected


def test_an_empty_link_gives_the_default_view_and_no_problem():
    filters, problems = from_url({}, date(2026, 10, 31))
    assert filters == Filters(date(2025, 11, 1), date(2026, 10, 31), "month")
    assert problems == []
    assert filters.bound() == {
        "date_from": "2025-11-01",
        "date_end": "2026-11-01",
        "granularity": "month",
        "seller_id": None,
        "segment": None,
        "method": None,
    }


def test_a_full_link_is_read_as_given():
    query = {
        "from": "2026-02-01",
        "to": "2026-02-28",
        "granularity": "week",
        "seller": "2",
        "segment": "vip",
        "method": "card",
    }
    filters, problems = from_url(query, date(2026, 10, 31))
    assert filters == Filters(date(2026, 2, 1), date(2026, 2, 28), "week", 2, "vip", "card")
    assert problems == []
    assert filters.url() == {**query, "seller": 2}


@pytest.mark.parametrize("granularity", ["day", "week", "month", " Day "])
def test_each_granularity_is_read(granularity):
    filters, problems = from_url({"granularity": granularity}, date(2026, 10, 31))
    assert filters.granularity == granularity.strip().lower()
    assert problems == []


def test_one_end_given_keeps_the_default_of_the_other():
    filters, problems = from_url({"from": "2026-03-15"}, date(2026, 10, 31))
    assert (filters.date_from, filters.date_to) == (date(2026, 3, 15), date(2026, 10, 31))
    filters, _ = from_url({"to": "2026-01-31"}, date(2026, 10, 31))
    assert (filters.date_from, filters.date_to) == (date(2025, 11, 1), date(2026, 1, 31))
    assert problems == []


def test_each_bad_value_is_ignored_with_a_one_line_problem():
    query = {
        "from": "2026-02-30",
        "to": "yesterday",
        "granularity": "hourly",
        "seller": "-3",
    }
    filters, problems = from_url(query, date(2026, 10, 31))
    assert filters == Filters(date(2025, 11, 1), date(2026, 10, 31), "month")
    assert problems == [
        "Ignored from '2026-02-30' from the link: not a date (YYYY-MM-DD).",
        "Ignored to 'yesterday' from the link: not a date (YYYY-MM-DD).",
        "Ignored granularity 'hourly' from the link: one of day, week, month.",
        "Ignored seller '-3' from the link: not a seller id.",
    ]
    assert all("\n" not in p for p in problems)


def test_a_leap_day_is_a_date_only_in_a_leap_year():
    filters, problems = from_url({"from": "2028-02-29", "to": "2028-03-01"}, date(2028, 5, 1))
    assert (filters.date_from, filters.days, problems) == (date(2028, 2, 29), 2, [])
    _, problems = from_url({"from": "2026-02-29"}, date(2026, 10, 31))
    assert problems == ["Ignored from '2026-02-29' from the link: not a date (YYYY-MM-DD)."]


def test_from_after_to_is_a_problem_and_the_default_range_is_shown():
    filters, problems = from_url(
        {"from": "2026-05-01", "to": "2026-04-30", "granularity": "day"}, date(2026, 10, 31)
    )
    assert (filters.date_from, filters.date_to) == (date(2025, 11, 1), date(2026, 10, 31))
    assert filters.granularity == "day"  # the rest of the link still holds
    assert problems == [
        "Ignored the dates from the link: from 2026-05-01 is after to 2026-04-30; "
        "showing 2025-11-01 to 2026-10-31."
    ]


def test_one_day_is_a_range():
    filters, problems = from_url({"from": "2026-05-01", "to": "2026-05-01"}, date(2026, 10, 31))
    assert (filters.days, problems) == (1, [])
    assert filters.bound()["date_end"] == "2026-05-02"


def test_an_unknown_segment_or_method_is_left_to_the_data_layer():
    filters, problems = from_url({"segment": "whales", "method": "barter"}, date(2026, 10, 31))
    assert (filters.segment, filters.method, problems) == ("whales", "barter", [])
    filters, problems = from_url({"segment": "x" * 500}, date(2026, 10, 31))
    assert filters.segment is None
    assert len(problems) == 1 and "too long" in problems[0] and len(problems[0]) < 120


def test_without_data_the_default_range_is_the_one_up_to_today_in_utc():
    filters, problems = from_url({}, None)
    assert (filters.date_from, filters.date_to) == default_range(datetime.now(UTC).date())
    assert problems == []


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    filters, _ = from_url({"from": "2026-03-01", "to": "2026-03-31"}, date(2026, 10, 31))
    previous = filters.previous()
    assert (previous.date_from, previous.date_to) == (date(2026, 1, 29), date(2026, 2, 28))
