"""Values from the URL: what a page gets from parse_int / parse_date, and markdown escaping."""

from __future__ import annotations

import re
from datetime import date

import pytest

from lib.ui.url_state import MAX_INT, parse_date, parse_int, quoted
from lib.ui.widgets import escape_markdown


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), (" 7 ", 7), ("-5", -5), ("0", 0), (str(MAX_INT), MAX_INT)],
)
def test_whole_numbers_in_ascii_digits_are_read(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "²", "١٢", "１２", "1_000", "1e3", "0x10", "12abc", "1" + "0" * 30, "9" * 10_240],
)
def test_anything_else_is_not_a_number(raw):
    assert parse_int(raw) is None


def test_numbers_outside_the_bounds_are_not_taken():
    assert parse_int("-5", minimum=0) is None
    assert parse_int("0", minimum=1) is None
    assert parse_int(str(MAX_INT + 1)) is None
    assert parse_int("11", maximum=10) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-30", date(2026, 11, 30)),
        ("2026-02-30", None),
        ("20261130", None),
        ("2026-W01-1", None),
        ("０２026-01-01", None),
        ("9999-12-31", None),  # a date picker adds years to it
        ("0001-01-01", None),
        ("x" * 10_240, None),
        (None, None),
    ],
)
def test_dates_are_real_and_in_range(raw, expected):
    assert parse_date(raw) == expected


def test_a_long_value_is_shortened_before_it_is_quoted_back():
    assert quoted("x" * 10_240) == "x" * 39 + "…"
    assert quoted("bogus") == "bogus"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("**bold** [x](y)", r"\*\*bold\*\* \[x\](y)"),
        ("`code` $x$ <b> &amp; a|b ~s~ #h", r"\`code\` \$x\$ \<b\> \&amp; a\|b \~s\~ \#h"),
        ("_italic_ but customer_api", r"\_italic\_ but customer_api"),
        ("- item", r"\- item"),
        ("12. item", r"12\. item"),
        ("two\nlines", "two lines"),
        ("see http://evil and www.evil.com", "see http\u2060://evil and www\u2060.evil.com"),
        ("김민수 (tenant 1)", "김민수 (tenant 1)"),
    ],
)
def test_markdown_in_text_is_escaped(text, escaped):
    assert escape_markdown(text) == escaped


# What Streamlit's markdown finds in text once escapes are read: a Material icon (it rewrites
# ":material/" in the source first), an emoji or logo shortcode, a directive (":red[x]").
_STREAMLIT_CODES = re.compile(r":material/|:[A-Za-z0-9_+-]+:|:[A-Za-z]")


@pytest.mark.parametrize(
    "text",
    [
        "refund for :material/home: order",
        "great :smile: :+1: :-1: :100: :streamlit:",
        "a:b:c:d",
        ":red[warning] :small and :blue-background[x]",
        "reason::material/delete::smile::",
    ],
)
def test_icon_and_emoji_codes_in_text_show_as_typed(text):
    escaped = escape_markdown(text)
    read = re.sub(r"\\(.)", r"\1", escaped)  # the text markdown hands to Streamlit's plugins
    assert not _STREAMLIT_CODES.search(read)
    assert read.replace("\u2060", "") == text


def test_colons_of_times_and_labels_are_left_as_they_are():
    assert escape_markdown("at 10:00, note: ok (ratio 1:2)") == "at 10:00, note: ok (ratio 1:2)"
