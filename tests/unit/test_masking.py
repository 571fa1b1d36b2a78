"""Personal data masking: one rule per kind, the same for tables, downloads and audit detail."""

from __future__ import annotations

import copy
import math
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.access.mask_rules import KINDS
from lib.access.masking import (
    DETAIL_KEYS,
    PII_COLUMNS,
    looks_like_raw_pii,
    mask,
    mask_contacts,
    mask_detail,
    mask_frame,
    mask_named_columns,
    mask_table,
    masked_line,
    named_columns,
)
from lib.reading.combine import Catalogue

# --- the rules, by example ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("김민수", "김*수"),
        ("남궁민수", "남**수"),
        ("김수", "김*"),
        ("김", "*"),  # a one-letter part is hidden whole: its first letter is all of it
        (" 김 민수 ", "김*수"),  # a space between surname and given name shows no more
        ("Emily Clark", "E**** C****"),
        ("  Emily   Clark  ", "E**** C****"),
        ("Jo", "J*"),
        ("J", "*"),
        ("J K", "* *"),
        ("A Kim", "* K**"),
        ("J. R. Smith", "*. *. S****"),
        ("김 A", "* *"),
        ("Kim A", "K** *"),
        ("Mary-Jane O'Neil", "M******** O*****"),
    ],
)
def test_name_keeps_first_letters_and_korean_last_syllable(value, masked):
    assert mask("name", value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("  jane.doe@example.com ", "j***@example.com"),
        ("j@example.com", "***@example.com"),  # one letter: nothing of it shown
        ("jo@example.com", "j***@example.com"),
        ("@example.com", "***@example.com"),
        ('"odd@local"@example.com', '"***@example.com'),  # split at the last '@'
        ("janedoe", "j***"),
        ("j", "***"),
        ("김민수@example.com", "김***@example.com"),
    ],
)
def test_email_keeps_first_character_and_domain(value, masked):
    assert mask("email", value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("010-1234-5678", "010-****-5678"),
        ("010-123-4567", "010-***-4567"),
        ("+82 10-1234-5678", "+82 **-****-5678"),
        ("+82-10-1234-5678", "+82-**-****-5678"),
        ("01012345678", "010****5678"),
        ("010 1234 5678", "010 **** 5678"),
        ("02-123-4567", "02-***-4567"),
        ("(02) 123-4567", "(02) ***-4567"),
        ("0212345678", "02****5678"),
        ("+821012345678", "+********5678"),  # country code length unknown: not kept
        ("1588-1234", "****-1234"),  # first group plus last four would be everything
        ("1234", "**34"),  # short: at most half shown
        ("5", "*"),
    ],
)
def test_phone_keeps_first_group_and_last_four_digits(value, masked):
    assert mask("phone", value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("서울특별시 강남구 테헤란로 123 4층", "서울특별시 강남구 ***"),
        ("부산광역시 해운대구 달맞이길 141", "부산광역시 해운대구 ***"),
        ("경기도 성남시 분당구 판교역로 235", "경기도 성남시 ***"),
        ("서울 강남구  테헤란로 1", "서울 강남구 ***"),
        ("06234 서울특별시 강남구 테헤란로 1", "서울특별시 강남구 ***"),  # postcode dropped
        ("세종특별자치시 한누리대로 2130", "세종특별자치시 ***"),  # a road is not a district
        ("테헤란로 123", "***"),
        ("서울특별시 강남구", "서울특별시 ***"),  # never every part
        ("Seoul, Mapo-gu, 12 Yanghwa-ro", "Seoul, Mapo-gu, ***"),
        ("Seoul ,Mapo-gu,12 Yanghwa-ro, 3F", "Seoul, Mapo-gu, ***"),
        ("12 Yanghwa-ro, Mapo-gu, Seoul", "***, Mapo-gu, Seoul"),  # street first
        ("Seoul, 12 Yanghwa-ro", "Seoul, ***"),
        ("Seoul Mapo-gu 12 Yanghwa-ro", "Seoul Mapo-gu ***"),
        ("221B Baker Street", "***"),
        ("12 Baker St, London", "***, London"),
        ("Baker St, London", "***, London"),  # a street has no number yet is no area
        ("Apt 5, Baker St, London", "***, London"),
        ("Baker Street, Marylebone, London", "***, Marylebone, London"),
        ("Flat B, Baker Street, London", "***, London"),
        ("양화로, 서울", "***, 서울"),  # a road is no area, with or without a number
        ("Seoul", "***"),
    ],
)
def test_address_is_cut_to_the_district(value, masked):
    assert mask("address", value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110-123-456789", "***-***-**6789"),
        ("1234 5678 9012 3456", "**** **** **** 3456"),
        ("1234567890123456", "************3456"),
        ("KB 110-123-456789", "KB ***-***-**6789"),
        ("123456", "***456"),
    ],
)
def test_account_keeps_last_four_digits(value, masked):
    assert mask("account", value) == masked


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_and_blank_values_stay_as_they_are(kind, value):
    assert mask(kind, value) is value


@pytest.mark.parametrize("kind", KINDS)
def test_missing_values_from_pandas_stay_missing(kind):
    assert mask(kind, pd.NA) is pd.NA
    assert math.isnan(mask(kind, float("nan")))


def test_non_string_values_are_masked_as_text():
    assert mask("phone", 1012345678) == "101***5678"
    assert mask("account", 1234567890123456) == "************3456"


@pytest.mark.parametrize("value", ["x", None])
def test_unknown_kind_is_refused(value):
    with pytest.raises(ValueError, match="unknown personal data kind 'ssn'"):
        mask("ssn", value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("name", "남궁민수"),
        ("name", "Emily Clark"),
        ("email", "jane.doe@example.com"),
        ("phone", "+82 10-1234-5678"),
        ("phone", "01012345678"),
        ("address", "서울특별시 강남구 테헤란로 123 4층"),
        ("address", "12 Yanghwa-ro, Mapo-gu, Seoul"),
        ("account", "110-123-456789"),
    ],
)
def test_masking_a_masked_value_changes_nothing(kind, value):
    once = mask(kind, value)
    assert mask(kind, once) == once


def test_every_demo_customer_is_masked_without_raw_contact_data():
    from lib.demo import data

    for customer in data.generate()["customers"]:
        masked = {col: mask(kind, customer[col]) for col, kind in PII_COLUMNS["customers"].items()}
        assert not looks_like_raw_pii(" ".join(masked.values()))
        assert masked["address"].endswith("***")
        assert len(masked["address"].replace(",", " ").split()) <= 3


# --- which columns and keys -----------------------------------------------------------------


def test_demo_pii_columns_cover_customer_contact_data_and_seller_email_only():
    assert PII_COLUMNS == {
        "customers": {"name": "name", "email": "email", "phone": "phone", "address": "address"},
        "sellers": {"email": "email"},
    }


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("Phone Number", "phone"),
        ("phone_number", "phone"),
        ("phoneNumber", "phone"),
        ("PHONENUMBER", "phone"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Customer Email", "email"),
        ("customerEmail", "email"),
        ("Mobile Phone", "phone"),
        ("email ", "email"),
        (" EMAIL", "email"),
        ("Tel", "phone"),
        ("cell", "phone"),
        ("이메일", "email"),
        ("이메일 주소", "email"),
        ("전화번호", "phone"),
        ("휴대폰", "phone"),
        ("연락처", "phone"),
        ("이름", "name"),
        ("고객 이름", "name"),
        ("성명", "name"),
        ("주소", "address"),
        ("Street", "address"),
        ("shipping_address", "address"),
        ("addr", "address"),
        ("name", "name"),
        ("Name ", "name"),
        ("Full Name", "name"),
        ("customer_name", "name"),
        ("First Name", "name"),
        ("lastName", "name"),
        ("Given Name", "name"),
        ("Family Name", "name"),
        ("surname", "name"),
        ("Phone No.", "phone"),
        ("phone 2", "phone"),
        ("휴대폰 번호", "phone"),
        ("address line 1", "address"),
        ("Bank Account", "account"),
        ("Customer Card Number", "account"),
        ("card_number", "account"),
    ],
)
def test_columns_named_like_personal_data_are_found_however_they_are_written(column, kind):
    assert named_columns([column]) == {column: kind}


@pytest.mark.parametrize(
    "column",
    ["store name", "Product Name", "seller name", "상품이름", "IP Address", "id", "amount",
     "order_id", "segment", "status", "", "   ",
     # about a kind, not of it: the combined views' channel columns, a category
     "email spend", "mobile spend", "email_opens", "phone type"],
)  # fmt: skip
def test_columns_not_named_like_personal_data_are_left_alone(column):
    assert named_columns([column]) == {}


def test_a_sheet_with_loosely_named_personal_columns_is_masked_in_every_one():
    df = pd.DataFrame(
        {
            "Customer Email": ["minsu@example.com"],
            "Phone Number": ["010-1234-5678"],
            "전화번호": ["010-9876-5432"],
            "이름": ["김민수"],
            "주소": ["서울특별시 강남구 테헤란로 1"],
            "store name": ["Mapo Store"],
        }
    )
    out = mask_named_columns(df).iloc[0]
    assert list(out) == [
        "m***@example.com",
        "010-****-5678",
        "010-****-5432",
        "김*수",
        "서울특별시 강남구 ***",
        "Mapo Store",
    ]


def test_a_numeric_column_named_like_a_phone_is_never_a_combine_measure():
    columns = {"Phone Number": "BIGINT", "mobile": "BIGINT", "amount": "DOUBLE", "qty": "INTEGER"}
    cat = Catalogue({"sheets.t": columns}, personal={"sheets.t": named_columns(columns)})
    assert cat.measures("sheets.t") == ["amount", "qty"]


# --- frames ---------------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["김민수", "Emily Clark", None],
            "email": ["minsu@example.com", "emily.clark@example.net", "x@example.org"],
            "phone": ["010-1234-5678", None, "01098765432"],
            "segment": ["vip", "regular", "regular"],
        }
    )


def test_mask_frame_masks_listed_columns_and_leaves_the_rest():
    df = _customers()
    out = mask_frame(df, {"name": "name", "email": "email", "phone": "phone"})
    assert out["name"].tolist()[:2] == ["김*수", "E**** C****"]
    assert pd.isna(out["name"].iloc[2])
    assert out["email"].tolist() == ["m***@example.com", "e***@example.net", "***@example.org"]
    assert out["phone"].iloc[0] == "010-****-5678"
    assert pd.isna(out["phone"].iloc[1])
    pd.testing.assert_frame_equal(out[["id", "segment"]], df[["id", "segment"]])


def test_mask_frame_does_not_change_its_input():
    df = _customers()
    before = df.copy(deep=True)
    mask_frame(df, PII_COLUMNS["customers"])
    pd.testing.assert_frame_equal(df, before)


def test_unmasked_names_a_column_or_a_kind():
    df = _customers()
    by_column = mask_frame(df, {"email": "email", "phone": "phone"}, unmasked=["email"])
    by_kind = mask_frame(df.rename(columns={"email": "contact"}), {"contact": "email"}, {"email"})
    assert by_column["email"].tolist() == df["email"].tolist()
    assert by_column["phone"].iloc[0] == "010-****-5678"
    assert by_kind["contact"].tolist() == df["email"].tolist()


def test_listed_columns_absent_from_the_frame_are_ignored():
    df = _customers()[["id", "email"]]
    out = mask_frame(df, PII_COLUMNS["customers"])
    assert list(out.columns) == ["id", "email"]
    assert out["email"].iloc[0] == "m***@example.com"


def test_mask_frame_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        mask_frame(_customers(), {"email": "e-mail"})


def test_mask_frame_masks_every_row_of_a_large_frame():
    # Speed is measured in `make bench`; this checks correctness at size.
    from lib.demo import data

    df = pd.DataFrame(data.generate()["customers"] * 50)
    out = mask_frame(df, PII_COLUMNS["customers"])
    assert len(out) == 100_000
    assert not out["email"].str.contains(r"^[^*@]+@", regex=True).any()


# --- audit detail ---------------------------------------------------------------------------


def test_mask_detail_masks_before_and_after_shapes():
    detail = {
        "customer_id": 7,
        "reason": "customer asked by phone",
        "before": {"email": "minsu@example.com", "phone": "010-1234-5678"},
        "after": {"email": "minsu.kim@example.com", "phone": "010-9999-8888"},
    }
    assert mask_detail(detail, DETAIL_KEYS) == {
        "customer_id": 7,
        "reason": "customer asked by phone",
        "before": {"email": "m***@example.com", "phone": "010-****-5678"},
        "after": {"email": "m***@example.com", "phone": "010-****-8888"},
    }


def test_mask_detail_masks_everything_under_a_personal_key_and_change_records():
    detail = {
        "Email": {"before": "a.b@example.com", "after": "c.d@example.com"},
        "changes": [
            {"field": "phone", "old": "010-1111-2222", "new": "010-3333-4444"},
            {"field": "segment", "old": "regular", "new": "vip"},
        ],
        "refund": {"account_number": "110-123-456789", "card_number": "1234 5678 9012 3456"},
        "address": "서울특별시 강남구 테헤란로 123",
        "name": ["김민수", "Emily Clark"],
    }
    assert mask_detail(detail) == {
        "Email": {"before": "a***@example.com", "after": "c***@example.com"},
        "changes": [
            {"field": "phone", "old": "010-****-2222", "new": "010-****-4444"},
            {"field": "segment", "old": "regular", "new": "vip"},
        ],
        "refund": {"account_number": "***-***-**6789", "card_number": "**** **** **** 3456"},
        "address": "서울특별시 강남구 ***",
        "name": ["김*수", "E**** C****"],
    }


def test_mask_detail_does_not_change_its_input_and_keeps_other_values():
    detail = {"order_id": 5, "amount": 12000, "after": {"status": "approved", "email": None}}
    before = copy.deepcopy(detail)
    assert mask_detail(detail, DETAIL_KEYS) == detail
    assert detail == before
    assert mask_detail({"email": "a@b.co"}, {}) == {"email": "a@b.co"}


def test_mask_detail_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        mask_detail({"email": "a@b.co"}, {"email": "mail"})


# --- raw data guard -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "jane.doe@example.com",
        "sent to <jane.doe@example.com> today",
        "010-1234-5678",
        "01012345678",
        "call 010 1234 5678",
        "+82 10-1234-5678",
        "011-123-4567",
        "02-123-4567",
        "(02) 123-4567",
        "+1 (415) 555-0100",
        "ARS 1588-1234",
        "010-1234-5678로 연락주세요",
        "연락처010-1234-5678",
        "전화 010 1234 5678번",
        "010–1234–5678",
        "０１０-１２３４-５６７８",
        "메일은a.kim@example.com로",
        "김민수@example.com",
    ],
)
def test_raw_contact_data_is_detected(text):
    assert looks_like_raw_pii(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "j***@example.com",
        "010-****-5678",
        "010****5678",
        "+82 **-****-5678",
        "order 20250101234567 approved",
        "payment tpk_b0c50fd2ca6428edb0ae",
        "user@localhost",
        "02-***-4567",
        "+1 (***) ***-0100",
        "메일은a***@example.com로",
        "주문번호 20250101234567번",
    ],
)
def test_masked_or_harmless_text_is_not_flagged(text):
    assert not looks_like_raw_pii(text)


# --- contact details inside free text -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call me on 010-1234-5678 please", "call me on 010-****-5678 please"),
        ("010 1234 5678", "010 **** 5678"),
        ("010.1234.5678", "010.****.5678"),
        ("01012345678", "010****5678"),
        ("010 - 1234 - 5678", "010 - **** - 5678"),
        ("office 02-123-4567, ext 3", "office 02-***-4567, ext 3"),
        ("(02) 123-4567", "(02) ***-4567"),
        ("ARS 1588-1234", "ARS ****-1234"),
        ("+82 10-1234-5678", "+82 **-****-5678"),
        ("+82 10 1234 5678", "+82 ** **** 5678"),
        ("US desk +1 (415) 555-0100.", "US desk +1 (***) ***-0100."),
        ("mail jane.doe@example.com now", "mail j***@example.com now"),
        ("<a@example.com>", "<***@example.com>"),
        (
            "고객 김민수 (minsu@example.co.kr, 010-9876-5432) 환불 요청",
            "고객 김민수 (m***@example.co.kr, 010-****-5432) 환불 요청",
        ),
        # Korean glues particles and labels to a number or an address without a space.
        ("010-1234-5678로 연락주세요", "010-****-5678로 연락주세요"),
        ("연락처010-1234-5678", "연락처010-****-5678"),
        ("전화 010 1234 5678번", "전화 010 **** 5678번"),
        ("사무실 02-123-4567입니다", "사무실 02-***-4567입니다"),
        ("대표번호1588-1234", "대표번호****-1234"),
        ("해외+1 (415) 555-0100로", "해외+1 (***) ***-0100로"),
        ("메일은a.kim@example.com로", "메일은a***@example.com로"),
        ("김민수@example.com", "김***@example.com"),
        # Dash-like separators and full-width forms, kept as typed.
        ("010–1234–5678", "010–****–5678"),
        ("010 — 1234 — 5678", "010 — **** — 5678"),
        ("010‐1234‑5678 or 010−1234－5678", "010‐****‑5678 or 010−****－5678"),
        ("０１０-１２３４-５６７８", "０１０-****-５６７８"),
        ("ａ．ｋｉｍ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ａ***＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ],
)
def test_contact_details_inside_free_text_are_masked_by_their_kind(text, masked):
    assert mask_contacts(text) == masked
    assert mask_contacts(masked) == masked  # masking twice changes nothing
    assert not looks_like_raw_pii(masked)


@pytest.mark.parametrize(
    "text",
    [
        "order 4321 refunded 12,000 on 2026-11-30",
        "order 20250101234567 approved",
        "refund ₩1,200,000 at 2026.11.30 10:00, 3 items",
        "payment tpk_b0c50fd2ca6428edb0ae, idempotency key ord-4321-1",
        "ticket T0099, amount=5000, expires_at=2026-11-30T10:00:00+00:00",
        "already masked: j***@example.com, 010-****-5678, +82 **-****-5678",
        "score +12 34",
        "주문번호 20250101234567번, 환불 12,000원",
        "payment tpk_0101234567890abc",
        "",
    ],
)
def test_free_text_without_contact_details_is_left_as_it_is(text):
    assert mask_contacts(text) == text


def test_mask_contacts_leaves_missing_values_alone():
    assert mask_contacts(None) is None
    assert math.isnan(mask_contacts(float("nan")))


# --- properties -----------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1)


@st.composite
def korean_mobiles(draw) -> tuple[str, int, str]:
    """(formatted number, index of the middle group in it, middle group)."""
    prefix = draw(st.sampled_from(["010", "011", "016", "017", "018", "019"]))
    middle = draw(st.text(alphabet="0123456789", min_size=3, max_size=4))
    last = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    head, sep = draw(
        st.sampled_from(
            [(prefix, "-"), (prefix, ""), (prefix, " "), (prefix, "."), (f"+82 {prefix[1:]}", "-")]
            + [(f"+82-{prefix[1:]}", "-")]
        )
    )
    number = f"{head}{sep}{middle}{sep}{last}"
    return number, len(head) + len(sep), middle


@given(st.emails())
def test_masked_email_shows_at_most_the_first_character_of_the_local_part(email):
    local, _, domain = email.rpartition("@")
    masked = mask("email", email)
    shown = local[0] if len(local) > 1 and local[0] != "*" else ""
    assert masked.rpartition("@") == (f"{shown}***", "@", domain)
    assert not looks_like_raw_pii(masked)


@given(korean_mobiles())
def test_masked_phone_never_shows_the_middle_group(generated):
    number, at, middle = generated
    masked = mask("phone", number)
    assert len(masked) == len(number)
    assert masked[at : at + len(middle)] == "*" * len(middle)
    assert masked.endswith(number[-4:])
    assert not looks_like_raw_pii(masked)


@given(st.sampled_from(KINDS), st.text())
def test_mask_is_total_and_masking_twice_changes_nothing(kind, text):
    once = mask(kind, text)
    assert isinstance(once, str)
    assert mask(kind, once) == once


# Text made of the pieces the rules look at, so that the shapes they branch on come up often.
rule_pieces = st.lists(
    st.sampled_from(
        [
            *"0123456789*@,+-(). \t김민수시도구군로Aa",
            "서울특별시",
            "강남구",
            "Mapo-gu",
            "010",
            "12345",
        ]
    ),
    max_size=14,
).map("".join)


@given(st.sampled_from(KINDS), rule_pieces)
@settings(max_examples=500)
def test_masking_twice_changes_nothing_for_tricky_text(kind, text):
    once = mask(kind, text)
    assert mask(kind, once) == once


@given(st.sampled_from(KINDS), st.one_of(st.integers(), st.floats(), st.booleans(), digits))
def test_mask_takes_non_text_values(kind, value):
    masked = mask(kind, value)
    assert isinstance(masked, str) or masked is value


@given(
    st.lists(
        st.tuples(st.emails(), st.text(max_size=20), st.integers(), st.one_of(st.none(), digits)),
        max_size=30,
    )
)
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=50)
def test_mask_frame_leaves_non_pii_columns_untouched_and_input_unchanged(rows):
    df = pd.DataFrame(rows, columns=["email", "note", "amount", "phone"], dtype=object)
    before = df.copy(deep=True)
    out = mask_frame(df, {"email": "email", "phone": "phone"})
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(out[["note", "amount"]], df[["note", "amount"]])
    assert list(out.columns) == list(df.columns)
    assert out["email"].tolist() == [mask("email", e) for e in df["email"]]
    assert not any(looks_like_raw_pii(e) for e in out["email"])


@given(korean_mobiles(), st.emails())
def test_masked_audit_detail_passes_the_raw_data_guard(generated, email):
    number, _, _ = generated
    detail = {"before": {"phone": number, "email": email}, "after": {"phone": None}}
    masked = mask_detail(detail)
    assert not looks_like_raw_pii(repr(masked))
    assert re.search(r"\*", masked["before"]["email"])


@given(
    korean_mobiles(),
    st.emails(),
    st.sampled_from([" ", ", ", " (", ": ", "\n", "로", "는 ", " 번호", "처"]),
)
def test_contacts_inside_text_never_pass_the_raw_data_guard(generated, email, glue):
    number, _, _ = generated
    masked = mask_contacts(f"call{glue}{number}{glue}or write{glue}{email}{glue}thanks")
    assert f"call{glue}{mask('phone', number)}{glue}or write{glue}" in masked
    assert not looks_like_raw_pii(masked)
    assert mask_contacts(masked) == masked


_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@given(korean_mobiles(), st.sampled_from(["-", "–", "—", "‐", "‑", "‒", "−", "－"]), st.booleans())
def test_phones_with_dash_like_separators_or_full_width_digits_are_masked(generated, dash, wide):
    number, at, middle = generated
    typed = number.replace("-", dash)
    if wide:
        typed = typed.translate(_FULL_WIDTH)
    masked = mask_contacts(f"연락처{typed}로 연락주세요")
    assert masked.startswith("연락처") and masked.endswith("로 연락주세요")
    assert masked[3 + at : 3 + at + len(middle)] == "*" * len(middle)
    assert looks_like_raw_pii(f"연락처{typed}로")
    assert not looks_like_raw_pii(masked)
    assert mask_contacts(masked) == masked


# Text made of what contact details and their surroundings are made of.
contact_pieces = st.lists(
    st.sampled_from(
        [
            *"0123456789*@.+-() 로번a_",
            "–",
            "０",
            "１",
            "＠",
            "010",
            "02",
            "1588",
            "1234",
            "5678",
            "kim",
            "example.com",
            "연락처",
        ]
    ),
    max_size=16,
).map("".join)


def _shown(text: str) -> str:
    return re.sub(r"\*+", "*", text)


@given(contact_pieces)
@settings(max_examples=500)
def test_whatever_mask_contacts_would_hide_the_raw_data_guard_flags(text):
    masked = mask_contacts(text)
    if _shown(masked) != _shown(text):  # masking hid a character
        assert looks_like_raw_pii(text)
    assert mask_contacts(masked) == masked


# --- a table as shown, a line as shown -----------------------------------------------------


def test_mask_table_masks_kinds_and_the_contacts_in_free_text():
    df = pd.DataFrame(
        {
            "customer_name": ["Kim Minsu", None],
            "subject": ["call me on 010-1234-5678", "write to jane.doe@example.com"],
            "orders": [3, 4],
            "note": ["jane.doe@example.com", "ok"],
        }
    )
    out = mask_table(df, {"customer_name": "name"})
    assert out["customer_name"][0] == mask("name", "Kim Minsu")
    assert pd.isna(out["customer_name"][1])  # missing stays missing
    assert out["subject"].tolist() == [mask_contacts(v) for v in df["subject"]]
    assert out["note"].tolist() == [mask_contacts("jane.doe@example.com"), "ok"]
    assert out["orders"].tolist() == [3, 4]
    assert not any(looks_like_raw_pii(str(v)) for v in out.drop(columns="orders").stack())
    assert df["note"][0] == "jane.doe@example.com"  # the input is not changed


def test_mask_table_masks_contacts_only_in_the_columns_named():
    df = pd.DataFrame({"reason": ["from jane@example.com"], "actor": ["ops@example.com"]})
    out = mask_table(df, {}, contacts_in=("reason",))
    assert out["reason"][0] == mask_contacts("from jane@example.com") != "from jane@example.com"
    assert out["actor"][0] == "ops@example.com"


def test_masked_line_is_one_line_masked_before_it_is_cut():
    text = "GET /orders?x=1\n  failed for\tjane.doe@example.com"
    assert masked_line(text) == " ".join(str(mask_contacts(text)).split())
    assert "\n" not in masked_line(text) and not looks_like_raw_pii(masked_line(text))
    # Cut within the address: what is left of it is masked, never its raw start.
    cut = masked_line("x" * 20 + " jane.doe@example.com", limit=25)
    assert len(cut) == 25 and cut.endswith("…") and "jane" not in cut
    assert masked_line(None) == "" and masked_line(masked_line(text)) == masked_line(text)
