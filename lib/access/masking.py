"""Personal data masking: one rule per kind of data, used for tables, downloads and audit detail.

Kinds: "name", "email", "phone", "address", "account" (bank account or card number).

Every rule treats '*' as an already-masked character, so masking a masked value again gives
the same value (or one that shows less): a masked value can be passed through any screen or
export again without revealing anything.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import pandas as pd

KINDS: tuple[str, ...] = ("name", "email", "phone", "address", "account")

PII_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"name": "name", "email": "email", "phone": "phone", "address": "address"},
    "sellers": {"email": "email"},
}
"""table -> {column: kind} for the demo data. Staff names (tickets.assignee_name) are not
customer personal data and are left out on purpose."""

DETAIL_KEYS: dict[str, str] = {
    "name": "name",
    "customer_name": "name",
    "recipient_name": "name",
    "email": "email",
    "customer_email": "email",
    "phone": "phone",
    "customer_phone": "phone",
    "mobile": "phone",
    "address": "address",
    "shipping_address": "address",
    "account_number": "account",
    "bank_account": "account",
    "card_number": "account",
}
"""Audit detail key -> kind, matched case-insensitively by `mask_detail`."""

MASK = "***"

_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3"
_HAS_HANGUL = re.compile(f"[{_HANGUL}]")
_HANGUL_OR_STAR = re.compile(rf"[{_HANGUL}*]+")
_HAS_DIGIT = re.compile(r"\d")
_POSTCODE = re.compile(r"\d{5}|\d{3}-\d{3}")
_LATIN_DISTRICT = re.compile(r".+-(?:gu|gun|si)", re.IGNORECASE)
# Words that make a Latin address part a street or a flat, not an area ("Baker St", "Flat B").
_LATIN_STREET = re.compile(
    r"(?:^|[\s-])(?:st|street|rd|road|ave|avenue|ln|lane|blvd|boulevard|dr|drive|way|ct|court"
    r"|pl|place|sq|square|terrace|hwy|highway|ro|gil|daero|dong|apt|apartment|flat|suite|unit"
    r"|floor|fl|room)\b\.?",
    re.IGNORECASE,
)
_KO_AREA_SUFFIXES = ("시", "도", "군", "구")
# 시/도 as people shorten them ("서울 강남구 …").
_KO_SHORT_PROVINCES = frozenset(
    ("서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "경기", "강원")
    + ("충북", "충남", "전북", "전남", "경북", "경남", "제주")
)
# "서울특별시 강남구 …", the usual Korean shape: the same result as the general rule, faster.
_KO_ADDRESS_FAST = re.compile(
    rf"([^\s\d*]*[{_HANGUL}][^\s\d*]*?[시도군구]) ([^\s\d*]*[{_HANGUL}][^\s\d*]*?[시군구]) +\S"
)
# "Seoul, Mapo-gu, 12 Yanghwa-ro": likewise for the comma shape.
_COMMA_ADDRESS_FAST = re.compile(r"\s*([^,\d*\s][^,\d*]*?)\s*,\s*([^,\d*\s][^,\d*]*?)\s*,\s*[^,\s]")
# The demo (and most Korean) phone shape, masked without walking every character.
_PHONE_FAST = re.compile(r"(0[0-9]{1,2})-([0-9]{3,4})-([0-9]{4})")

_RAW_KR_MOBILE = re.compile(
    r"(?<![0-9])(?:01[016789]|\+82[ -]?0?1[016789])[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}(?![0-9])"
)


def _is_hangul_name(text: str) -> bool:
    return _HANGUL_OR_STAR.fullmatch(text) is not None and _HAS_HANGUL.search(text) is not None


def _mask_word(word: str) -> str:
    """First character, then '*': unless the word has a single letter ("A", "J."), whose
    first letter is all of it, so that letter is hidden too."""
    if sum(ch.isalpha() or ch == "*" for ch in word) < 2:
        return "".join("*" if ch.isalpha() else ch for ch in word)
    return word[0] + "*" * (len(word) - 1)


def _mask_name_token(token: str) -> str:
    n = len(token)
    if n > 1 and _is_hangul_name(token):
        # Korean names: surname and last syllable stay, as is customary (김*수, 남**수).
        return token[0] + "*" if n == 2 else token[0] + "*" * (n - 2) + token[-1]
    return _mask_word(token)


def _is_spaced_korean_name(tokens: list[str]) -> bool:
    return (
        len(tokens) > 1
        and all(_HAS_HANGUL.search(t) for t in tokens)
        and _HANGUL_OR_STAR.fullmatch("".join(tokens)) is not None
    )


def _mask_name(text: str) -> str:
    tokens = text.split()
    if not _HAS_HANGUL.search(text):  # the same as below, without the per-word checks
        return " ".join(_mask_word(t) for t in tokens)
    if _is_spaced_korean_name(tokens):
        # "김 민수" is one name written with a space: masking per word would show 민.
        tokens = ["".join(tokens)]
    masked = [_mask_name_token(t) for t in tokens]
    if _is_spaced_korean_name(masked):
        # "김0 민수" masks to "김* 민*", which masked again would be joined: join it now, so
        # that masking a masked name changes nothing.
        masked = [_mask_name_token("".join(masked))]
    return " ".join(masked)


def _mask_email(text: str) -> str:
    local, at, domain = text.rpartition("@")
    if not at:
        local, domain = text, ""
    # A leading '*' means the value is already masked: nothing of the local part to keep.
    # A one-character local part is all first character: nothing of it is kept either.
    first = local[0] if len(local) > 1 and local[0] != "*" else ""
    return f"{first}{MASK}{at}{domain}"


def _mask_digits(text: str, keep_first_group: bool) -> str:
    """Every digit but the last four (and, for phones, the first group) becomes '*'.

    '*' counts as a digit that is already hidden, so a masked value keeps its shape.
    """
    chars = list(text)
    slots = [i for i, ch in enumerate(chars) if ch == "*" or ch.isdecimal()]
    n = len(slots)
    if n == 0:
        return text
    # Short values would be shown whole by "last four"; show at most half of them.
    keep_last = 4 if n >= 8 else n // 2
    hidden_until = n - keep_last
    keep_from = 0
    if keep_first_group:
        first = 1
        while first < n and slots[first] == slots[first - 1] + 1:
            first += 1
        if first == n:  # no separators: guess the Korean area/mobile prefix
            if text.lstrip().startswith("+"):
                first = 0  # the country code's length is unknown: keep none of it
            else:
                first = 2 if "".join(chars[i] for i in slots[:2]) == "02" else 3
        # Keep the first group only while at least three digits remain hidden.
        if hidden_until - first >= 3:
            keep_from = first
    for i in slots[keep_from:hidden_until]:
        chars[i] = "*"
    return "".join(chars)


def _mask_phone(text: str) -> str:
    m = _PHONE_FAST.fullmatch(text)
    if m:
        first, middle, last = m.groups()
        return f"{first}-{'*' * len(middle)}-{last}"
    return _mask_digits(text, keep_first_group=True)


def _mask_account(text: str) -> str:
    return _mask_digits(text, keep_first_group=False)


def _is_area_part(part: str) -> bool:
    """A city, province or district: no number, no street word, and in Korean every word
    a 시/도/군/구 (a road has no number in "양화로, 서울" and is still no area)."""
    if not part or "*" in part or _HAS_DIGIT.search(part):
        return False
    if _HAS_HANGUL.search(part):
        return all(_is_korean_area(word) for word in part.split())
    return _LATIN_STREET.search(part) is None


def _is_korean_area(word: str) -> bool:
    return word.endswith(_KO_AREA_SUFFIXES) or word in _KO_SHORT_PROVINCES


def _is_area_token(token: str, index: int) -> bool:
    if not _is_area_part(token):
        return False
    if _HAS_HANGUL.search(token):
        # 시/도 and 구/군/시; roads (…로, …길) and neighbourhoods (…동) are not kept.
        return _is_korean_area(token)
    return index == 0 or _LATIN_DISTRICT.fullmatch(token) is not None


def _mask_address(text: str) -> str:
    m = _KO_ADDRESS_FAST.match(text)
    if m:
        return f"{m[1]} {m[2]} {MASK}"
    m = _COMMA_ADDRESS_FAST.match(text)
    if m and _is_area_part(m[1]) and _is_area_part(m[2]):
        return f"{m[1]}, {m[2]}, {MASK}"
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        parts = [p for p in parts if p]
        limit = max(0, min(2, len(parts) - 1))  # never keep every part
        kept: list[str] = []
        for part in parts[:limit]:
            if not _is_area_part(part):
                break
            kept.append(part)
        if kept:
            return ", ".join([*kept, MASK])
        # Street first ("12 Yanghwa-ro, Mapo-gu, Seoul"): the area is at the end.
        for part in reversed(parts[len(parts) - limit :]):
            if not _is_area_part(part):
                break
            kept.insert(0, part)
        return ", ".join([MASK, *kept])
    tokens = text.split()
    if tokens and _POSTCODE.fullmatch(tokens[0]):
        tokens = tokens[1:]
    kept = []
    for index, token in enumerate(tokens[: max(0, min(2, len(tokens) - 1))]):
        if not _is_area_token(token, index):
            break
        kept.append(token)
    return " ".join([*kept, MASK])


_RULES: dict[str, Callable[[str], str]] = {
    "name": _mask_name,
    "email": _mask_email,
    "phone": _mask_phone,
    "address": _mask_address,
    "account": _mask_account,
}


def _rule(kind: str) -> Callable[[str], str]:
    try:
        return _RULES[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown personal data kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def mask(kind: str, value: object) -> object:
    """`value` with the personal data of `kind` hidden.

    None, NaN and empty (or blank) strings come back unchanged; anything else is masked as
    its str(). Never raises for a known kind; an unknown kind raises ValueError.
    """
    rule = _rule(kind)
    if _is_missing(value):
        return value
    return rule(str(value).strip())


def mask_frame(
    df: pd.DataFrame, columns: Mapping[str, str], unmasked: Collection[str] = ()
) -> pd.DataFrame:
    """A copy of `df` with every column in `columns` ({column: kind}) masked.

    A column stays as it is when its name or its kind is in `unmasked` (so the kinds a user
    may reveal, as lib.access.policy.unmask_kinds gives them, can be passed directly). Listed
    columns absent from `df` are ignored; missing values stay missing. `df` is not changed.
    """
    rules = {column: _rule(kind) for column, kind in columns.items()}
    skip = set(unmasked)
    out = df.copy()
    for position, column in enumerate(out.columns):
        kind = columns.get(column)
        if kind is None or column in skip or kind in skip:
            continue
        out.isetitem(position, _mask_series(out.iloc[:, position], rules[column]))
    return out


def _mask_series(series: pd.Series, rule: Callable[[str], str]) -> pd.Series:
    # A plain loop rather than Series.map: the per-cell overhead of map was a third of the time.
    masked = []
    append = masked.append
    for value in series.to_numpy(dtype=object):
        if value.__class__ is str:
            text = value.strip()
            append(rule(text) if text else value)
        elif _is_missing(value):
            append(value)
        else:
            append(rule(str(value).strip()))
    return pd.Series(masked, index=series.index, name=series.name)


_CHANGE_FIELD_KEYS = ("field", "column")
_CHANGE_VALUE_KEYS = frozenset({"before", "after", "old", "new", "value", "from", "to"})


def mask_detail(detail: Mapping[str, Any], kinds: Mapping[str, str] = DETAIL_KEYS) -> dict:
    """A copy of an audit detail dict with the values of personal-data keys masked.

    Keys are matched case-insensitively against `kinds` ({key: kind}), at any depth, so
    {"before": {"email": ...}, "after": {"email": ...}} is masked on both sides. Everything
    under a matched key is masked with its kind ({"email": {"before": ..., "after": ...}}),
    and so are the before/after values of a change record naming a matched field
    ({"field": "phone", "before": ..., "after": ...}). `detail` is not changed.
    """
    lowered = {str(key).lower(): kind for key, kind in kinds.items()}
    for kind in lowered.values():
        _rule(kind)
    return _walk(detail, lowered, None)


def _walk(value: Any, kinds: Mapping[str, str], kind: str | None) -> Any:
    if isinstance(value, Mapping):
        change_kind = None
        for field_key in _CHANGE_FIELD_KEYS:
            named = value.get(field_key)
            if isinstance(named, str) and named.lower() in kinds:
                change_kind = kinds[named.lower()]
        out = {}
        for key, item in value.items():
            item_kind = kind
            if item_kind is None and isinstance(key, str):
                item_kind = kinds.get(key.lower())
                if item_kind is None and change_kind and key.lower() in _CHANGE_VALUE_KEYS:
                    item_kind = change_kind
            out[key] = _walk(item, kinds, item_kind)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [_walk(item, kinds, kind) for item in value]
    if kind is None:
        return value
    return mask(kind, value)


# Contact details inside free text (ticket subjects, reasons, audit detail): e-mail addresses
# and phone numbers in the Korean and international shapes people type. A separator is a
# dash or dot, spaces around it allowed, or spaces alone. A number glued to ASCII letters or
# digits on either side (an order id, a payment key) is not a phone; one glued to Hangul
# ("연락처010-1234-5678로") is, as Korean writes particles and labels without a space.
#
# Matching runs on a folded copy of the text, one character for one so positions agree:
# full-width forms (０１０, ＠) as ASCII, any decimal digit as an ASCII one, dash-like
# characters (‐ ‑ ‒ – — ― − －) as '-'. What is hidden is then hidden in the text as typed.
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


class _Fold(dict):
    """str.translate table built as characters come: only the ones that fold are mapped."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        if ch in _DASHES:
            folded = ord("-")
        elif 0xFF01 <= code <= 0xFF5E:  # full-width ASCII
            folded = code - 0xFEE0
        elif ch.isdecimal():
            folded = ord("0") + unicodedata.decimal(ch)
        else:
            folded = code
        self[code] = folded
        return folded


_FOLD = _Fold()
_EMAIL_PUNCT = "!#$%&'*+/=?^_`{|}~.-"  # an address's local part: these, letters and digits
_EMAIL_LOCAL_CHARS = frozenset(string.ascii_letters + string.digits + _EMAIL_PUNCT)
_SEP = r"(?:\s*[-.]\s*|\s+)"
_CONTACT_IN_TEXT = re.compile(
    # \w takes in Hangul glued before the address; _email_in_text tells it apart again.
    # It starts at a letter, digit or '*' (a masked one), not at a quote around it.
    rf"(?<![\w*])(?P<email>[\w*][\w{_EMAIL_PUNCT}]*"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+)"
    r"|(?<![0-9A-Za-z_+])(?P<phone>"
    # +82 10-1234-5678, +1 (415) 555-0100, +821012345678
    rf"\+[0-9]{{1,3}}(?:{_SEP}?(?:\([0-9]{{1,4}}\)|[0-9]{{1,4}})){{2,5}}"
    # 010-1234-5678, 02 123 4567, (02) 123-4567, 01012345678
    rf"|(?:\(0[0-9]{{1,2}}\)|0[0-9]{{1,2}}){_SEP}?[0-9]{{3,4}}{_SEP}?[0-9]{{4}}"
    # 1588-1234: nationwide service numbers (15xx, 16xx, 18xx), always with a separator
    rf"|1[568][0-9]{{2}}{_SEP}[0-9]{{4}}"
    r")(?![0-9A-Za-z_])"
)
_MIN_PHONE_DIGITS = 8  # "+12 34 56" is a score, not a phone number


def _fold(text: str) -> str:
    return text if text.isascii() else text.translate(_FOLD)


def _email_in_text(typed: str, folded: str) -> tuple[str, bool]:
    """An address found in text, masked by the e-mail rule, and whether that hid anything.

    Hangul glued before it ("메일은a.kim@…") stays as it is: the local part is the ASCII
    run before '@', or all of it when it has no ASCII (김민수@example.com)."""
    at = folded.rindex("@")
    start = at
    while start > 0 and folded[start - 1] in _EMAIL_LOCAL_CHARS:
        start -= 1
    if start == at:
        start = 0
    local = typed[start:at]
    first = local[0] if len(local) > 1 and local[0] != "*" else ""
    hidden = local[len(first) :]
    return f"{typed[:start]}{first}{MASK}{typed[at:]}", any(ch != "*" for ch in hidden)


def _contacts_in(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """(start, end, masked, whether masking hid anything) for each contact detail in text."""
    for m in _CONTACT_IN_TEXT.finditer(_fold(text)):
        start, end = m.span()
        typed = text[start:end]
        if m["email"] is not None:
            yield start, end, *_email_in_text(typed, m["email"])
        elif sum(ch.isdigit() for ch in m["phone"]) >= _MIN_PHONE_DIGITS:
            masked = _mask_phone(typed)
            yield start, end, masked, masked != typed


def mask_contacts(text: object) -> object:
    """`text` with every e-mail address and phone number in it masked by its kind's rule.

    For free text people typed (a ticket subject, a reason): the rest of the text is kept.
    Missing values come back unchanged, anything else is read as its str(); masking the
    result again changes nothing. Order ids, amounts (12,000) and dates are not phones.
    """
    if _is_missing(text):
        return text
    text = str(text)
    out, done = [], 0
    for start, end, masked, _ in _contacts_in(text):
        out += (text[done:start], masked)
        done = end
    return "".join(out) + text[done:] if out else text


def looks_like_raw_pii(text: str) -> bool:
    """Whether `text` holds contact details not masked yet: anything `mask_contacts` would
    hide a character of (an e-mail address, a phone number in any shape it knows), and
    also a whole Korean mobile number glued to letters (call01012345678)."""
    if not text:
        return False
    text = str(text)
    if any(hides for *_, hides in _contacts_in(text)):
        return True
    return _RAW_KR_MOBILE.search(_fold(text)) is not None
