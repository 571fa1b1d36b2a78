"""What a search box's text matches (lib.access.pii_search.parse), by the kinds its query
reaches."""

from __future__ import annotations

import pytest

from lib.access.pii_search import NO_PHONE_SEARCH, parse

ORDERS = ("email", "name")  # the Orders page searches no phone numbers


def test_a_long_number_is_an_id_and_a_phone_where_phones_are_searched():
    search = parse("20250101234567")
    assert (search.id, search.phone, search.kind) == (20250101234567, "20250101234567", "phone")
    assert search.in_url is None


def test_a_long_number_is_only_an_id_where_phones_are_not_searched():
    search = parse("20250101234567", kinds=ORDERS)
    assert (search.id, search.phone, search.kind) == (20250101234567, None, None)
    assert search.in_url == "20250101234567"


@pytest.mark.parametrize("q", ["010-1234-5678", "+82 10 1234 5678", "01012345678"])
def test_a_phone_number_stays_out_of_the_url_where_phones_are_not_searched(q):
    search = parse(q, kinds=ORDERS)
    assert search.kind is None and search.phone is None
    assert search.in_url is None


def test_a_phone_number_with_separators_is_refused_where_phones_are_not_searched():
    assert parse("010-1234-5678", kinds=ORDERS).problem == NO_PHONE_SEARCH


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        parse("x", kinds=("address",))
