"""Search boxes over personal data that reveal no more than the mask shows.

A substring search is an oracle: typing one more character at a time recovers a masked
e-mail address or phone number. So a search box that reaches personal data matches

- an e-mail address exactly, ignoring case and surrounding spaces;
- a phone number exactly, on its digits (010-1234-5678 = 01012345678 = +82 10 1234 5678);
- a name by its beginning, at least MIN_NAME_PREFIX characters (shorter is refused);
- an id exactly, as typed.

A search on personal data stays out of the URL (`Search.in_url`) and is counted in the
audit log, one row per search with its kind and its term masked (`record`).

A box says which kinds of personal data its query reaches (`kinds`): on Orders, which
searches no phone numbers, 20250101234567 is an order id only, kept in the URL and not
audited, while a whole phone number typed there is refused (and kept out of the URL).

    search = parse("010-1234-5678")   # Search(phone="01012345678")
    search.kind                       # "phone"
    record(audit, principal, search, "customer")
    parse("20250101234567", kinds=("email", "name")).id   # 20250101234567, kind None
"""

from __future__ import annotations

import re
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lib.access.masking import mask
from lib.access.principal import Principal
from lib.audit import AuditEntry, AuditStore

MIN_NAME_PREFIX = 2
# A name's beginning still tells a letter the mask hides (김민 finds 김*준), one guess a
# search: so searches on personal data are counted per user, and refused past this many.
MAX_SEARCHES = 30
SEARCH_WINDOW = timedelta(minutes=10)
SEARCH_ACTIONS = ("customer.search", "order.search")
TOO_MANY = (
    f"You have searched personal data {MAX_SEARCHES} times in the last "
    f"{int(SEARCH_WINDOW.total_seconds() // 60)} minutes: wait a few minutes, or filter by "
    "segment, status or dates instead."
)
MIN_PHONE_DIGITS = 8  # 1588-1234 is the shortest whole number people search by
MAX_ID_DIGITS = 18  # fits a BIGINT
KINDS = ("email", "phone", "name")  # what a search box may reach, for `parse(kinds=...)`

SHORT_NAME = (
    f"Type at least {MIN_NAME_PREFIX} characters to search by name: names match by their beginning."
)
PARTIAL_PHONE = "Phone numbers match only in full, e.g. 010-1234-5678."
NO_PHONE_SEARCH = "Phone numbers are not searched here: search by an id, a name or an e-mail."
NOTE = (
    ":material/shield_person: A search on personal data matches whole e-mail addresses and "
    "phone numbers, and names by their beginning. It is recorded in the audit log and left "
    "out of the page's link."
)
NOT_SEARCHABLE = (
    "Search by the beginning of a name, a whole e-mail address, a whole phone number or an id."
)

_ALL_DIGITS = re.compile(r"[0-9]+")
_PHONE_SHAPED = re.compile(r"[0-9+().\s-]+")
_HAS_DIGIT = re.compile(r"[0-9]")
_NOT_DIGIT = re.compile(r"[^0-9]")


def normalise_phone(text: str) -> str:
    """A phone number as its digits, a +82 number in its domestic form (+82 10 … -> 010…)."""
    digits = _NOT_DIGIT.sub("", text)
    if text.strip().startswith("+82"):
        return "0" + digits[2:].lstrip("0")
    return digits


def normalise_email(text: str) -> str:
    return text.strip().lower()


def phone_keys(text: str) -> list[str]:
    """Every stored phone_key (lib.records.schema: the number without - ( ) . and spaces)
    that is the number `text` under normalise_phone: its domestic digits and, for a number
    with a leading 0, its +82 forms with and without that 0; another country's number with
    and without its +.

        phone_keys("010-1234-5678")  # ["01012345678", "+821012345678", "+8201012345678"]
    """
    digits = normalise_phone(text)
    if not digits.startswith("0"):
        # another country's number: stored with its + or without (a stored +82 number is
        # always 0… in domestic form)
        return [digits, f"+{digits}"]
    national = digits.lstrip("0")
    return [digits, f"+82{national}", f"+820{national}"]


LIKE_ESCAPE = "!"  # not a backslash: MariaDB reads '\' in SQL text as an escape itself


def _orders_by_code_point(ch: str) -> bool:
    """Whether every collation sorts the character after `ch` after it: ASCII letters and
    digits, and Hangul syllables. Not punctuation (Unicode collations order it their own
    way) nor accented letters (MariaDB's default collations weigh é as e)."""
    return (ch.isascii() and ch.isalnum()) or "\uac00" <= ch <= "\ud7a3"


def name_range(prefix: str) -> tuple[str, str, str]:
    """The bounds and pattern that find name_key (lower(name)) starting with `prefix`:
    `name_key >= lo AND name_key < hi AND name_key LIKE pattern ESCAPE '!'`. The range lets
    every database read its index (SQLite never uses one for LIKE, PostgreSQL only under the
    C collation), the pattern drops what the range lets through beyond the prefix.

    `hi` is the prefix up to its last character that, like the one after it, sorts by code
    point, that character moved one on ("emily c" -> "emily d", "ab%" -> "ac", "liz" ->
    "lj"): so the range holds every name with the prefix under MariaDB's linguistic
    collations too. (Those fold accents, so there "me" also finds "mé…".)"""
    head = prefix
    while head and not all(_orders_by_code_point(c) for c in (head[-1], chr(ord(head[-1]) + 1))):
        head = head[:-1]
    hi = head[:-1] + chr(ord(head[-1]) + 1) if head else "\U0010ffff"
    pattern = "".join(LIKE_ESCAPE + ch if ch in "%_" + LIKE_ESCAPE else ch for ch in prefix)
    return prefix, hi, pattern + "%"


@dataclass(frozen=True)
class Search:
    """What a search box's text matches; None means "not this way"."""

    text: str | None = None  # the typed text, spaces collapsed
    id: int | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None  # lower case, matched as the beginning of the name
    problem: str | None = None  # why the text cannot be searched as it is
    private: bool = False  # personal data the box does not search: still not for the URL

    @property
    def kind(self) -> str | None:
        """The kind of personal data this search reaches ("email", "phone", "name"), or None."""
        for kind in ("email", "phone", "name"):
            if getattr(self, kind) is not None:
                return kind
        return None

    @property
    def in_url(self) -> str | None:
        """The text the URL may keep: none for a search on personal data."""
        return None if self.kind or self.private else self.text

    @property
    def matches_nothing(self) -> bool:
        """Text was typed but it is no id, e-mail, phone or name (e.g. "tpk_1f3a")."""
        return bool(self.text) and self.id is None and self.kind is None

    def masked_term(self) -> str | None:
        kind = self.kind
        return None if kind is None else str(mask(kind, getattr(self, kind)))

    def params(self) -> dict[str, Any]:
        """The bound parameters a query's search clause takes."""
        return {"q_id": self.id, "q_email": self.email, "q_phone": self.phone, "q_name": self.name}

    def key_params(self) -> dict[str, Any]:
        """The bound parameters of a search on the customers' indexed keys
        (queries/customers_page.sql): the id, email_key and phone_key exactly, name_key in a
        range (`name_range`). None where the text is not of that kind; `q_id_only` is the id
        when the text is no phone number too (else the id or the phone may match)."""
        lo, hi, like = name_range(self.name) if self.name else (None, None, None)
        return {
            "q_id": self.id,
            "q_id_only": self.id if self.phone is None else None,
            "q_email": self.email,
            "q_phones": phone_keys(self.phone) if self.phone else None,
            "q_name_lo": lo,
            "q_name_hi": hi,
            "q_name_like": like,
        }


def parse(q: str | None, kinds: Collection[str] = KINDS) -> Search:
    """The search box's text as the terms a query binds, under the rules above.

    `kinds`: the personal data the box's query reaches (some of KINDS); text of a kind
    it does not reach is never read as that kind, and is not searched as personal data."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown search kinds: {sorted(unknown)}")
    q = " ".join((q or "").split())
    if not q:
        return Search()
    if "@" in q:
        if "email" in kinds:
            return Search(text=q, email=normalise_email(q))
        return Search(text=q, private=True)
    phones = "phone" in kinds
    if _ALL_DIGITS.fullmatch(q):
        long_enough = len(q) >= MIN_PHONE_DIGITS  # all digits and this long: maybe a phone
        return Search(
            text=q,
            id=int(q) if len(q) <= MAX_ID_DIGITS else None,
            phone=normalise_phone(q) if long_enough and phones else None,
            # No id starts with 0: where phones are not searched, 010… stays out of the URL.
            private=long_enough and not phones and q.startswith("0"),
        )
    if _PHONE_SHAPED.fullmatch(q):
        if len(_NOT_DIGIT.sub("", q)) < MIN_PHONE_DIGITS:
            return Search(text=q, problem=PARTIAL_PHONE if phones else None)
        if phones:
            return Search(text=q, phone=normalise_phone(q))
        return Search(text=q, problem=NO_PHONE_SEARCH, private=True)
    if _HAS_DIGIT.search(q):
        return Search(text=q)  # no name has digits: an order's payment key, say
    if "name" not in kinds:
        return Search(text=q)
    if len(q) < MIN_NAME_PREFIX:
        return Search(text=q, problem=SHORT_NAME)
    return Search(text=q, name=q.lower())


def _entry(principal: Principal, search: Search, target_type: str, outcome: str) -> AuditEntry:
    return AuditEntry(
        actor=principal.username,
        actor_roles=principal.roles,
        action=f"{target_type}.search",
        target_type=target_type,
        target_id=None,
        outcome=outcome,
        detail={"kind": search.kind, "term": search.masked_term()},
    )


def searches_in_window(audit: AuditStore, principal: Principal, now: datetime) -> int:
    """How many searches on personal data `principal` ran in the window up to `now`."""
    return sum(
        len(
            audit.query(
                actor=principal.username,
                action=action,
                outcome="ok",
                since=now - SEARCH_WINDOW,
                limit=MAX_SEARCHES,
            )
        )
        for action in SEARCH_ACTIONS
    )


def record(
    audit: AuditStore,
    principal: Principal,
    search: Search,
    target_type: str,
    now: datetime | None = None,
) -> bool:
    """Count a search on personal data in the audit log (who, which kind, the term masked);
    False, and a `denied` row, if the user has run MAX_SEARCHES in the window already."""
    if search.kind is None:
        return True
    if searches_in_window(audit, principal, now or datetime.now(UTC)) >= MAX_SEARCHES:
        audit.append(_entry(principal, search, target_type, "denied"))
        return False
    audit.append(_entry(principal, search, target_type, "ok"))
    return True


def record_once(
    seen: MutableMapping[str, Any],
    key: str,
    audit: AuditStore,
    principal: Principal,
    search: Search,
    target_type: str,
) -> str | None:
    """`record` a search unless it is the one last admitted under seen[key]: a page that
    reruns (paging, selecting a row) repeats its search, which is not a new one. Returns
    why the search may not run (TOO_MANY), or None."""
    if search.kind is None:
        seen[key] = None
    elif seen.get(key) != search:
        if not record(audit, principal, search, target_type):
            seen[key] = None
            return TOO_MANY
        seen[key] = search
    return None
