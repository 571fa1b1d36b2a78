"""What every benchmark shares: timing, a plain text table, and the JSON artifact."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "bench"


class BenchFailed(Exception):
    """The benchmark itself went wrong (wrong results, failed actions): exit non-zero."""


@dataclass(frozen=True)
class Timing:
    best: float  # seconds
    runs: list[float]
    result: Any  # what the last run returned, for checking

    def as_dict(self) -> dict[str, Any]:
        return {"best_s": round(self.best, 4), "runs_s": [round(r, 4) for r in self.runs]}


def best_of(fn: Callable[[], Any], repeat: int = 3, warmup: int = 1) -> Timing:
    """Run `fn` `warmup` times untimed, then `repeat` times; the fastest run counts."""
    for _ in range(warmup):
        fn()
    runs, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return Timing(min(runs), runs, result)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    """The first `left` columns left-aligned and the others right-aligned, for a terminal."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if i < left else v.rjust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def write_json(name: str, results: dict[str, Any]) -> Path:
    """Write test-artifacts/bench/<name>.json with the machine it ran on; returns the path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.json"
    doc = {
        "benchmark": name,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **results,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


@dataclass(frozen=True)
class Benchmark:
    """One benchmark module's parts, so `python -m bench.<name>` and `python -m bench`
    run it the same way."""

    name: str
    parser: Callable[[], Any]  # () -> argparse.ArgumentParser
    run: Callable[[Any], dict[str, Any]]  # parsed args -> results (JSON-able)
    show: Callable[[dict[str, Any]], str]  # results -> the table printed
    summary: Callable[[dict[str, Any]], list[tuple[str, str]]]  # results -> (what, figure)


def cli(bench: Benchmark, argv: Sequence[str] | None = None) -> tuple[int, dict[str, Any] | None]:
    """Parse `argv`, run, print the table, write the JSON; (exit status, results or None).

    A missing database server skips the benchmark (status 0) except under CI=true; wrong
    results or failed actions are a real failure (status 1).
    """
    from bench.databases import ServerUnavailable, must_fail_when_skipped

    args = bench.parser().parse_args(argv)
    print(f"== {bench.name}", flush=True)
    try:
        results = bench.run(args)
    except ServerUnavailable as exc:
        print(f"{bench.name}: skipped: {exc}", flush=True)
        return (1 if must_fail_when_skipped() else 0), None
    except BenchFailed as exc:
        print(f"{bench.name}: FAILED: {exc}", flush=True)
        return 1, None
    print(bench.show(results))
    path = write_json(bench.name, results)
    print(f"-> {path.relative_to(REPO)}\n", flush=True)
    return 0, results
