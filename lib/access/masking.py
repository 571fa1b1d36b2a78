"""Personal data masking: one rule per kind of data, used for tables, downloads and audit detail.

Kinds: "name", "email", "phone", "address", "account" (bank account or card number); the rule
of each, for one value, is in lib.access.mask_rules. Here they are applied to values, frames,
audit detail and the contact details in free text.

Every rule treats '*' as an already-masked character, so masking a masked value again gives
the same value (or one that shows less): a masked value can be passed through any screen or
export again without revealing anything.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

import pandas as pd

from lib.access.mask_rules import MASK, mask_phone, rule_for
from lib.errors import one_line

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

_RAW_KR_MOBILE = re.compile(
    r"(?<![0-9])(?:01[016789]|\+82[ -]?0?1[016789])[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}(?![0-9])"
)


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
    rule = rule_for(kind)
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
    rules = {column: rule_for(kind) for column, kind in columns.items()}
    skip = set(unmasked)
    out = df.copy()
    for position, column in enumerate(out.columns):
        kind = columns.get(column)
        if kind is None or column in skip or kind in skip:
            continue
        out.isetitem(position, _mask_series(out.iloc[:, position], rules[column]))
    return out


def named_columns(columns: Iterable[object]) -> dict[str, str]:
    """{column: kind} for the columns named like personal data (`column_kind`).

    For a table with no schema of its own and no record to grant, such as a sheet: what its
    columns are called is all there is to go by, so every view of it (the preview, an export,
    a combination) masks the same columns."""
    named = {str(c): column_kind(c) for c in columns}
    return {c: kind for c, kind in named.items() if kind is not None}


def name_tokens(name: object) -> list[str]:
    """A column name's words, casefolded: split at camelCase and at anything that is not a
    letter or digit ("customerEmail", "E-mail ", "phone_number" -> customer email, e mail,
    phone number)."""
    text = _CAMEL.sub(" ", str(name))
    return [t for t in _NON_WORD.split(text.casefold()) if t]


def column_kind(name: object) -> str | None:
    """The kind of personal data a column named `name` holds, by its words; None if none.

    The kinds are tried in an order that settles names with two ("Email Address" is an
    e-mail, "Customer Phone" a phone). A name alone is personal only when it is a person's
    ("name", "Full Name", "이름"), not a store's, a product's or a seller's."""
    tokens = name_tokens(name)
    if not tokens:
        return None
    words = set(tokens)
    joined = "".join(tokens)
    key = "_".join(tokens)
    if key in DETAIL_KEYS:
        return DETAIL_KEYS[key]
    for kind, (exact, compact, korean) in _KIND_WORDS.items():
        if kind == "address" and words & _NOT_POSTAL:
            continue  # an IP or web address
        if joined in compact:
            return kind
        at = [i for i, t in enumerate(tokens) if t in exact or any(k in t for k in korean)]
        if kind == "account":
            pairs = zip(tokens, tokens[1:], strict=False)
            at += [i + 1 for i, pair in enumerate(pairs) if pair in _ACCOUNT_PAIRS]
        if at and _trails(tokens[max(at) + 1 :]):
            return kind
    if _is_person_name(tokens, joined):
        return "name"
    return None


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[\W_]+")
# kind -> (words, whole names written as one word, Korean words found inside a word)
_KIND_WORDS: dict[str, tuple[frozenset[str], frozenset[str], tuple[str, ...]]] = {
    "email": (
        frozenset({"email", "mail", "emails"}),
        frozenset({"emailaddress", "emailaddr", "mailaddress"}),
        ("이메일", "메일"),
    ),
    "account": (
        frozenset({"iban"}),
        frozenset({"bankaccount", "accountnumber", "accountno", "cardnumber", "cardno"}),
        ("계좌", "카드번호"),
    ),
    "phone": (
        frozenset({"phone", "mobile", "tel", "telephone", "cell", "cellphone", "phones"}),
        frozenset({"phonenumber", "phoneno", "phonenum", "mobileno", "mobilenumber", "telno"}),
        ("전화", "휴대폰", "핸드폰", "연락처"),
    ),
    "address": (
        frozenset({"address", "addr", "street", "addresses"}),
        frozenset({"streetaddress", "shippingaddress", "billingaddress", "homeaddress"}),
        ("주소",),
    ),
}
# Words that may follow a kind's word in a column of that kind.
_TRAILING = frozenset({"address", "addr", "number", "no", "num", "nr", "line", "번호", "주소"})
_NOT_POSTAL = frozenset({"ip", "ipv4", "ipv6", "mac", "web", "url", "wallet"})
_ACCOUNT_PAIRS = (("bank", "account"), ("account", "number"), ("card", "number"))
# Words before "name" that make it a person's; a store's or a product's name is not.
_PERSON = frozenset(
    {"full", "customer", "first", "last", "given", "family", "middle", "sur", "recipient",
     "client", "buyer", "member", "contact", "person", "legal", "maiden", "receiver"}
)  # fmt: skip
_PERSON_COMPACT = frozenset(
    {"surname", "fullname", "firstname", "lastname", "givenname", "familyname",
     "customername", "recipientname", "middlename", "forename"}
)  # fmt: skip
_KOREAN_NOT_PERSON = ("상품", "제품", "가게", "매장", "상점", "판매자", "회사", "업체", "브랜드")


def _trails(tokens: list[str]) -> bool:
    """Whether the words after a kind's word still name it ("Email Address", "phone 2"),
    rather than something about it ("email spend" is money, "phone type" a category)."""
    return all(t in _TRAILING or t.isdigit() for t in tokens)


def _is_person_name(tokens: list[str], joined: str) -> bool:
    while len(tokens) > 1 and _trails(tokens[-1:]):
        tokens = tokens[:-1]
    if tokens == ["name"] or "".join(tokens) in _PERSON_COMPACT or tokens[-1] in _PERSON_COMPACT:
        return True
    if tokens[-1] == "name" and _PERSON & set(tokens[:-1]):
        return True
    last = tokens[-1]
    return ("이름" in last or "성명" in last) and not any(n in last for n in _KOREAN_NOT_PERSON)


def mask_named_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` with every column named like personal data masked (`named_columns`)."""
    return mask_frame(df, named_columns(df.columns))


def mask_table(
    df: pd.DataFrame, kinds: Mapping[str, str], contacts_in: Iterable[str] | None = None
) -> pd.DataFrame:
    """A copy of `df` as anyone may see it: the columns in `kinds` ({column: kind}) masked by
    their kind, and the contact details typed into free text masked (`mask_contacts`) in the
    columns `contacts_in` (None: every other text column), the rest of the text kept."""
    out = mask_frame(df, kinds)
    texts = [c for c in out.columns if c not in kinds] if contacts_in is None else contacts_in
    for column in texts:
        values = out[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = values.map(lambda v: mask_contacts(v) if isinstance(v, str) else v)
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
        rule_for(kind)
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
            masked = mask_phone(typed)
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


MAX_LINE = 300  # characters of a masked line (a failed item's error, a stored reason)


def masked_line(text: object, limit: int | None = MAX_LINE) -> str:
    """`text` as one line (lib.errors.one_line) with its contact details masked first, so no
    cut can leave part of an address readable; for what may name a person (an item's key, a
    call's path) before it is shown, stored or logged."""
    return one_line(mask_contacts("" if text is None else str(text)), limit)


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
