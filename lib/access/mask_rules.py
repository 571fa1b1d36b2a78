"""The masking rule of each kind of personal data, for one value: "name", "email", "phone",
"address", "account" (bank account or card number). lib.access.masking applies them to values,
frames, audit detail and free text.

Every rule treats '*' as an already-masked character, so masking a masked value again gives
the same value (or one that shows less).
"""

from __future__ import annotations

import re
from collections.abc import Callable

KINDS: tuple[str, ...] = ("name", "email", "phone", "address", "account")

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


def mask_phone(text: str) -> str:
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
    "phone": mask_phone,
    "address": _mask_address,
    "account": _mask_account,
}


def rule_for(kind: str) -> Callable[[str], str]:
    try:
        return _RULES[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown personal data kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None
