"""Input checks shared by the actions; each failure names the field and what is wrong."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from lib.errors import ValidationFailed


def only(params: Mapping[str, Any], allowed: Collection[str]) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise ValidationFailed(f"unexpected parameter: {', '.join(extra)}")


def integer(
    params: Mapping[str, Any], name: str, *, minimum: int | None = None, required: bool = True
) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name} is required")
        return None
    if isinstance(value, bool):
        raise ValidationFailed(f"{name} must be a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be a whole number") from None
    if isinstance(value, float) and value != number:
        raise ValidationFailed(f"{name} must be a whole number")
    if minimum is not None and number < minimum:
        raise ValidationFailed(f"{name} must be at least {minimum}")
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
    from lib.masking import looks_like_raw_pii

    value = text(params, name, min_len=min_len, max_len=max_len, required=required)
    if value is not None and looks_like_raw_pii(value):
        raise ValidationFailed(f"{name} must not contain an e-mail address or phone number")
    return value
