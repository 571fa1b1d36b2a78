"""What the demo data's generators share: the seed, the months they cover, and helpers
(month arithmetic is lib.dates', re-exported here for the generators)."""

from __future__ import annotations

import functools
import gc
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any, ParamSpec, TypeVar

from lib.dates import month_start
from lib.dates import next_month as next_month  # the generators import it from here

SEED = 20250501

Row = dict[str, Any]
T = TypeVar("T")
P = ParamSpec("P")

FIRST_MONTH = date(2025, 5, 1)
MONTH_COUNT = 18  # 2025-05 .. 2026-10
START_TS = datetime(2025, 5, 1)
END_TS = datetime(2026, 10, 31, 23, 59, 59)
SEASON = {11: 1.15, 12: 1.2}  # November sales events and the year-end gift season


def seeded_rng(name: str) -> random.Random:
    # A str seed is hashed with SHA-512 by random.seed: stable across runs and PYTHONHASHSEED.
    return random.Random(f"{SEED}/{name}")


def sql_ts(dt: datetime) -> str:
    return dt.isoformat(" ")  # datetimes here never carry microseconds


def iso_z(dt: datetime) -> str:
    return dt.isoformat() + "Z"


def month_starts() -> list[date]:
    return [month_start(FIRST_MONTH, back=-i) for i in range(MONTH_COUNT)]


def apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integers proportional to `weights` that sum to `total` exactly."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    counts = [int(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def later(rng: random.Random, ts: datetime, lo_seconds: int, hi_seconds: int) -> datetime:
    return min(ts + timedelta(seconds=rng.randint(lo_seconds, hi_seconds)), END_TS)


def is_korean(text: str) -> bool:
    """True if `text` contains a Hangul syllable."""
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def weighted(
    rng: random.Random, population: Sequence[T], weights: Sequence[float]
) -> Callable[[], T]:
    """A draw equal to `rng.choices(population, weights)[0]` (same numbers consumed, same pick),
    with the cumulative weights summed once instead of on every call: the loops over a million
    orders draw this way."""
    cum = list(accumulate(weights))
    total, hi, draw = cum[-1] + 0.0, len(cum) - 1, rng.random
    return lambda: population[bisect_right(cum, draw() * total, 0, hi)]


def without_cyclic_gc(fn: Callable[P, T]) -> Callable[P, T]:
    """Run `fn` with the cyclic garbage collector paused: a generator makes millions of dicts
    with no cycles among them, which the collector would rescan again and again (it doubles
    the time at 1.5M orders)."""

    @functools.wraps(fn)
    def paused(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused
