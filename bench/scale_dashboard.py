"""The dashboard at scale: snapshot build time, the dashboard's queries cold and warm, RSS.

    python -m bench.scale_dashboard path/to/backoffice.toml [runs]

`measure(settings_or_config_path, runs=5)` (make bench-scale calls it per back end):
- snapshot_build_s: a new engine's snapshots and derived tables built from nothing (median
  over the cold runs);
- dashboard_cold_s: the dashboard's queries (latest day, filter options, the 12-month view:
  9 KPIs over 2 periods + 5 charts, lib.dashboard.data.load) on a newly started engine whose
  snapshots have just been built, the first time (median over `runs` engines);
- dashboard_warm_s: the same, repeated on one engine (median of `runs`);
- rss_mb / rss_peak_mb: this process's VmRSS / VmHWM after all of that.
Only timings and sizes are printed: no row of data.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lib.access.principal import Principal
from lib.config.settings import Settings, load_settings
from lib.dashboard import data as dashboard_data
from lib.dashboard.filters import default_range
from lib.dashboard.model import Filters
from lib.reading.engine import Engine

ANALYST = Principal("bench", "Bench Analyst", ("analyst",))
BUILD_TIMEOUT_S = 1800.0


def _vm(field: str) -> float:
    """A /proc/self/status figure in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _settings(settings_or_config_path: Settings | str | Path) -> Settings:
    if isinstance(settings_or_config_path, str | Path):
        return load_settings(settings_or_config_path)
    return settings_or_config_path


def built_engine(settings: Settings) -> tuple[Engine, float]:
    """A new engine with every snapshot and derived table built; and how long that took."""
    start = time.perf_counter()
    engine = Engine(settings.sources, settings.queries_dir)
    if not engine.snapshots.wait_built(BUILD_TIMEOUT_S):
        engine.close()
        raise RuntimeError("the snapshots were not built (see the log for the source's error)")
    return engine, time.perf_counter() - start


def dashboard_queries(engine: Engine) -> float:
    """Seconds for what the Dashboard page reads for its default 12-month view."""
    start = time.perf_counter()
    latest = dashboard_data.latest_day(engine)
    dashboard_data.options(engine)
    if latest is not None:
        date_from, date_to = default_range(latest)
        dashboard_data.load(engine, ANALYST, Filters(date_from, date_to))
    return time.perf_counter() - start


def measure(settings_or_config_path: Settings | str | Path, runs: int = 5) -> dict[str, Any]:
    settings = _settings(settings_or_config_path)
    builds: list[float] = []
    cold: list[float] = []
    for _ in range(runs):
        engine, took = built_engine(settings)
        builds.append(took)
        cold.append(dashboard_queries(engine))
        engine.close()
        del engine
        gc.collect()
    engine, _ = built_engine(settings)
    try:
        dashboard_queries(engine)  # warm: as a rerun of the page (latest day, options cached)
        warm = [dashboard_queries(engine) for _ in range(runs)]
        rss = _vm("VmRSS")
    finally:
        engine.close()
    return {
        "dashboard_warm_s": round(statistics.median(warm), 4),
        "dashboard_cold_s": round(statistics.median(cold), 4),
        "snapshot_build_s": round(statistics.median(builds), 2),
        "rss_mb": round(rss, 1),
        "rss_peak_mb": round(_vm("VmHWM"), 1),
        "runs": runs,
    }


if __name__ == "__main__":
    config = sys.argv[1] if len(sys.argv) > 1 else None
    print(
        json.dumps(measure(config or load_settings(), int(sys.argv[2]) if len(sys.argv) > 2 else 5))
    )
