"""The `[health]` section of the configuration, checked.

[health]
interval_s = 15        # seconds between check rounds
timeout_s = 3          # seconds one check may take before it counts as down
history_minutes = 60   # how far back latencies, p95 and the sparkline reach

The history holds every check of the window at the interval (lib.health.history.samples_for),
so the two together may ask for at most MAX_SAMPLES checks per back end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.errors import ConfigError
from lib.health.history import MAX_SAMPLES

INTERVAL_S = 15.0
TIMEOUT_S = 3.0
HISTORY_MINUTES = 60.0


@dataclass(frozen=True)
class HealthConfig:
    interval_s: float = INTERVAL_S
    timeout_s: float = TIMEOUT_S
    history_minutes: float = HISTORY_MINUTES

    @property
    def window_s(self) -> float:
        return self.history_minutes * 60

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None) -> HealthConfig:
        """From the `[health]` table as written; raises ConfigError naming a bad value."""
        raw = raw or {}
        cfg = cls(
            interval_s=_number(raw, "interval_s", INTERVAL_S, 0.1, 3600),
            timeout_s=_number(raw, "timeout_s", TIMEOUT_S, 0.1, 120),
            history_minutes=_number(raw, "history_minutes", HISTORY_MINUTES, 1, 1440),
        )
        kept = cfg.window_s / cfg.interval_s
        if kept > MAX_SAMPLES:  # memory: each back end keeps every check of the window
            raise ConfigError(
                f"[health] history_minutes {cfg.history_minutes:g} at interval_s "
                f"{cfg.interval_s:g} keeps {kept:,.0f} checks per back end; at most "
                f"{MAX_SAMPLES:,} (a longer interval or a shorter history)"
            )
        return cfg


def _number(raw: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"[health] {key} must be a number from {low:g} to {high:g}")
    return float(value)
