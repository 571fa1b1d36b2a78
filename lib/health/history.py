"""What one back end's checks said over the last hour: a bounded record per target.

Each check adds a Sample (when, up or down, how long it took, the error in one line). The
record keeps only the window (an hour by default) and answers what the health panel shows:
the p95 latency of the successful checks, the last latency, since when the back end has
been failing (`down_since`, None while it answers) and the latencies for a sparkline.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

WINDOW_S = 3600.0
INTERVAL_S = 1.0  # the interval the default bound is sized for
MAX_SAMPLES = 100_000  # the most a configuration may keep per target (a few MB)
# Rounds run no oftener than the interval, but "Check now" adds rounds between them: room for
# those on top, so that clicks do not cut the window short.
EXTRA_SHARE = 0.25


def samples_for(window_s: float, interval_s: float) -> int:
    """How many samples a window holds at one check every `interval_s`, with room to spare."""
    return math.ceil(window_s / interval_s * (1 + EXTRA_SHARE)) + 10


@dataclass(frozen=True, slots=True)
class Sample:
    """One check: `at` in seconds since the epoch, latency in milliseconds."""

    at: float
    ok: bool
    latency_ms: float
    error: str | None = None


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (0 < q <= 100): a latency some check really took."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class History:
    """The samples of one target within `window_s` of the newest, oldest first.

    Not thread-safe on its own: the checker holds its lock around every call.
    """

    def __init__(
        self,
        window_s: float = WINDOW_S,
        interval_s: float = INTERVAL_S,
        *,
        max_samples: int | None = None,
    ) -> None:
        """`max_samples` (a memory bound) defaults to the whole window at `interval_s`."""
        self.window_s = window_s
        bound = max_samples if max_samples is not None else samples_for(window_s, interval_s)
        self._samples: deque[Sample] = deque(maxlen=bound)
        # Kept apart from the window: a failure streak longer than an hour still started
        # when it started, and the last error stays known after the window moves on.
        self._down_since: float | None = None
        self._last_error: Sample | None = None

    def add(self, sample: Sample) -> None:
        self._samples.append(sample)
        if sample.ok:
            self._down_since = None
        else:
            if self._down_since is None:
                self._down_since = sample.at
            self._last_error = sample
        self._prune(sample.at)

    def _prune(self, now: float) -> None:
        while self._samples and self._samples[0].at < now - self.window_s:
            self._samples.popleft()

    @property
    def samples(self) -> list[Sample]:
        return list(self._samples)

    @property
    def last(self) -> Sample | None:
        return self._samples[-1] if self._samples else None

    @property
    def down_since(self) -> float | None:
        """When the current run of failed checks began; None when the last check succeeded."""
        return self._down_since

    @property
    def last_error(self) -> Sample | None:
        """The most recent failed check, even if the back end has answered since."""
        return self._last_error

    def p95_ms(self) -> float | None:
        """p95 latency of the successful checks in the window (failures say nothing of speed)."""
        return percentile([s.latency_ms for s in self._samples if s.ok], 95)

    def latencies(self) -> list[float]:
        """Latency of each successful check in the window, oldest first (the sparkline)."""
        return [s.latency_ms for s in self._samples if s.ok]
