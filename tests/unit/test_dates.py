"""Month arithmetic and elapsed-time wording shared by the dashboard, reports and alerts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lib.dates import age_text, month_end, month_start, next_month


@pytest.mark.parametrize(
    ("day", "back", "start"),
    [
        (date(2026, 10, 17), 0, date(2026, 10, 1)),
        (date(2026, 10, 1), 11, date(2025, 11, 1)),
        (date(2026, 1, 31), 1, date(2025, 12, 1)),
        (date(2026, 12, 5), -1, date(2027, 1, 1)),
        (date(2026, 3, 31), 26, date(2024, 1, 1)),
    ],
)
def test_a_month_start_counts_whole_months_back_across_years(day, back, start):
    assert month_start(day, back=back) == start


@pytest.mark.parametrize(
    ("day", "following", "last"),
    [
        (date(2026, 1, 15), date(2026, 2, 1), date(2026, 1, 31)),
        (date(2024, 2, 1), date(2024, 3, 1), date(2024, 2, 29)),
        (date(2026, 2, 28), date(2026, 3, 1), date(2026, 2, 28)),
        (date(2026, 4, 30), date(2026, 5, 1), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 1), date(2026, 12, 31)),
    ],
)
def test_the_next_month_and_a_month_s_last_day(day, following, last):
    assert next_month(day) == following
    assert month_end(day) == last


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(days=3, hours=4, minutes=59), "3 d 4 h"),
        (timedelta(hours=5, minutes=12, seconds=59), "5 h 12 min"),
        (timedelta(hours=1), "1 h 0 min"),
        (timedelta(minutes=7, seconds=30), "7 min"),
        (timedelta(seconds=20), "0 min"),
        (timedelta(seconds=-90), "0 min"),
    ],
)
def test_an_age_reads_in_days_and_hours_or_hours_and_minutes(age, text):
    assert age_text(age) == text
