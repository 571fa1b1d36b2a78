"""Whole numbers and dates typed into a link or a form, parsed one way for every caller
(the table pages' URL filters, a workflow's run parameters). No Streamlit here."""

from __future__ import annotations

import re
from datetime import date

# What a URL may ask for. Anything else is read as "not given" (the caller's default), so a
# mistyped, stale or hostile link opens a wider view instead of failing.
MAX_INT = 2**53 - 1  # the largest whole number a browser holds exactly; fits a BIGINT
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)  # date pickers add years to these
_INT = re.compile(r"-?[0-9]{1,16}")  # ASCII only: not "²", "١٢", "1_000" that int() reads
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_int(raw: str | None, minimum: int | None = None, maximum: int = MAX_INT) -> int | None:
    """A whole number from the URL (ASCII digits, an optional leading minus) between
    `minimum` and `maximum`; None for anything else."""
    text = (raw or "").strip()
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    if (minimum is not None and value < minimum) or value > maximum:
        return None
    return value


def parse_date(raw: str | None) -> date | None:
    """A YYYY-MM-DD date from the URL between MIN_DATE and MAX_DATE; None for anything else."""
    text = (raw or "").strip()
    if not _DATE.fullmatch(text):
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


def quoted(value: str, limit: int = 40) -> str:
    """A value from the URL shortened to quote back in a note ("Ignored status 'xyz…'")."""
    return value if len(value) <= limit else value[: limit - 1] + "…"
