"""The [reports] settings: the platform's fee on sellers' revenue and the scheduler's pace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.errors import ConfigError

DEFAULTS: dict[str, Any] = {"seller_fee_pct": 10, "tick_s": 30, "max_attempts": 3}


def _number(raw: Mapping[str, Any], key: str, low: float, high: float | None) -> float:
    value = raw.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[reports] {key} must be a number, not {value!r}")
    if value < low or (high is not None and value > high):
        limit = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ConfigError(f"[reports] {key} must be {limit}, not {value:g}")
    return float(value)


@dataclass(frozen=True)
class ReportsConfig:
    seller_fee_pct: float = DEFAULTS["seller_fee_pct"]  # percent of a seller's kept revenue
    tick_s: float = DEFAULTS["tick_s"]  # how often each process looks for a report due
    max_attempts: int = DEFAULTS["max_attempts"]  # tries to build one period's report

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> ReportsConfig:
        """The [reports] section as written (Settings.reports); missing keys take their
        defaults. ConfigError names the key when a value is not a number or out of range."""
        raw = raw or {}
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise ConfigError(f"[reports] has unknown keys: {', '.join(unknown)}")
        attempts = _number(raw, "max_attempts", 1, None)
        if attempts != int(attempts):
            raise ConfigError(f"[reports] max_attempts must be a whole number, not {attempts:g}")
        return cls(
            seller_fee_pct=_number(raw, "seller_fee_pct", 0, 100),
            tick_s=_number(raw, "tick_s", 1, None),
            max_attempts=int(attempts),
        )
