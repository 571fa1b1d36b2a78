"""What a search box's text matches (lib.access.pii_search.parse), by the kinds its query
reaches."""

from __future__ import annotations

import pytest

from lib.access.pii_search import NO_PHONE_SEARCH, name_range, parse, phone_keys

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


@pytest.mark.parametrize(
    ("q", "keys"),
    [
        ("010-1234-5678", ["01012345678", "+821012345678", "+8201012345678"]),
        ("+82 10 1234 5678", ["01012345678", "+821012345678", "+8201012345678"]),
        ("+82-010-1234-5678", ["01012345678", "+821012345678", "+8201012345678"]),
        ("02 555 0123", ["025550123", "+8225550123", "+82025550123"]),
        ("1588-1234", ["15881234", "+15881234"]),  # no leading 0: never a +82 number
        ("+1 415-555-0100", ["14155550100", "+14155550100"]),  # another country's, either way
    ],
)
def test_a_phone_number_is_searched_by_every_stored_form_of_it(q, keys):
    assert phone_keys(q) == keys
    assert parse(q).key_params()["q_phones"] == keys


def test_a_name_beginning_is_an_index_range_and_an_escaped_pattern():
    assert name_range("emily c") == ("emily c", "emily d", "emily c%")
    assert name_range("김민") == ("김민", "김믽", "김민%")
    assert name_range("a_b%!") == ("a_b%!", "a_c", "a!_b!%!!%")
    # The range's end moves a letter, digit or Hangul syllable whose successor is one too:
    # collations order punctuation and accented letters their own way.
    assert name_range("liz")[1] == "lj"
    assert name_range("mé")[1] == "n"
    assert name_range("o'b")[1] == "o'c"
    assert parse("Emily C").key_params() == {
        "q_id": None,
        "q_id_only": None,
        "q_email": None,
        "q_phones": None,
        "q_name_lo": "emily c",
        "q_name_hi": "emily d",
        "q_name_like": "emily c%",
    }


def test_the_key_params_of_an_id_and_an_email_are_exact():
    assert parse("1502").key_params()["q_id_only"] == 1502
    both = parse("01012345678").key_params()  # an id or a phone number
    assert (both["q_id"], both["q_id_only"], both["q_phones"][0]) == (
        1012345678,
        None,
        "01012345678",
    )
    params = parse(" Kim@Example.COM ").key_params()
    assert (params["q_email"], params["q_name_lo"], params["q_phones"]) == (
        "kim@example.com",
        None,
        None,
    )
