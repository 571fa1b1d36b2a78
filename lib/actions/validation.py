"""Input checks shared by the actions; each failure names the field and what is wrong."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Collection, Mapping
from typing import Any

from lib.errors import ValidationFailed

# The largest id or amount an action accepts: what an INTEGER column holds in every system of
# record we write (PostgreSQL's and MariaDB's 4-byte int), so a bigger number is refused as
# invalid input instead of failing in the database. ₩2,147,483,647 is also the amount cap.
MAX_INTEGER = 2**31 - 1
# ASCII digits only: int() would also take "١٢" (Arabic-Indic digits), "1_000" or " 12 ".
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def only(params: Mapping[str, Any], allowed: Collection[str]) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise ValidationFailed(f"unexpected parameter: {', '.join(extra)}")


def integer(
    params: Mapping[str, Any],
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = MAX_INTEGER,
    required: bool = True,
) -> int | None:
    """A whole number: an int (not a bool), a float with no fraction, or a string of ASCII
    digits with an optional leading minus; between `minimum` and `maximum`."""
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name} is required")
        return None
    whole = ValidationFailed(f"{name} must be a whole number")
    if isinstance(value, bool):
        raise whole
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise whole
        number = int(value)
    elif isinstance(value, str) and len(value) <= 100 and _WHOLE_NUMBER.fullmatch(value):
        number = int(value)  # the length cap: Python refuses thousands of digits at all
    else:
        raise whole
    if minimum is not None and number < minimum:
        raise ValidationFailed(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ValidationFailed(f"{name} must be at most {maximum:,}")
    return number


def text(
    params: Mapping[str, Any],
    name: str,
    *,
    min_len: int = 1,
    max_len: int = 500,
    required: bool = True,
) -> str | None:
    value = params.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text")
    value = " ".join(value.split())
    if len(value) < min_len:
        raise ValidationFailed(f"{name} must be at least {min_len} characters")
    if len(value) > max_len:
        raise ValidationFailed(f"{name} must be at most {max_len} characters")
    return value


def choice(
    params: Mapping[str, Any], name: str, options: Collection[str], *, required: bool = True
) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise ValidationFailed(f"{name} is required")
        return None
    if value not in options:
        raise ValidationFailed(f"{name} must be one of: {', '.join(sorted(options))}")
    return str(value)


def free_text(
    params: Mapping[str, Any],
    name: str,
    *,
    min_len: int = 1,
    max_len: int = 500,
    required: bool = True,
) -> str | None:
    """Text a person types that is stored and audited as is (a reason, a product name):
    it must not carry someone's e-mail address or phone number."""
    from lib.access.masking import looks_like_raw_pii

    value = text(params, name, min_len=min_len, max_len=max_len, required=required)
    if value is not None and looks_like_raw_pii(value):
        raise ValidationFailed(f"{name} must not contain an e-mail address or phone number")
    return value


CONTACT_DETAILS_IN_REASON = "reason must not contain contact details (e-mail or phone number)"


def reason(params: Mapping[str, Any], *, min_len: int = 3, max_len: int = 500) -> str:
    """The `reason` every action that asks for one takes: kept in the audit log as typed and
    shown to auditors, so one holding an e-mail address or a phone number in any shape
    (010 1234 5678, 02-123-4567, +1 (415) 555-0100) is refused, for its author to rephrase."""
    from lib.access.masking import looks_like_raw_pii, mask_contacts

    value = text(params, "reason", min_len=min_len, max_len=max_len) or ""
    if mask_contacts(value) != value or looks_like_raw_pii(value):
        raise ValidationFailed(CONTACT_DETAILS_IN_REASON)
    return value
