"""The pages at real scale on SQLite, PostgreSQL and MariaDB, side by side: `make bench-scale`.

`python -m bench.scale [--orders 1500000] [--customers 150000]
    [--backends sqlite,postgresql,mariadb] [--runs 5] [--load-seconds 60]
    [--load-backends postgresql] [--no-rss] [--no-before] [--dir var/bench-scale]`

Builds the demo data of that size once per backend (bench.scale_data; a marker table in each
database makes reruns skip the build), points the app's config at each backend in turn (crm
and shop both there), and measures, each the median of --runs runs:
the Orders and Customers lists through the pages' own listing code (bench.scale_measure),
the naive pandas read_sql baseline of the Orders first view, the landed DuckDB path
("before", once if it takes more than 5 s), the dashboard (bench.scale_dashboard, helper H4),
the peak RSS of one `streamlit run` with 10 browser sessions (bench.scale_rss), and a
20-session load test on the Orders page (bench.scale_load). Writes
test-artifacts/bench/scale.json ({"<backend>": {figure: value}, "load": {"<backend>": …}}),
scale.md (the table) and scale_run.json (every run, the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import scale_measure
from bench.databases import ServerUnavailable, must_fail_when_skipped
from bench.demo_app import drop_caches
from bench.report import ARTIFACTS, BenchFailed, Benchmark, cli, machine
from bench.scale_data import BACKENDS, DEFAULT_DIR, Size, app_config, ensure_data
from bench.scale_table import markdown

FIGURES = (
    "orders_first_view_s",
    "orders_search_s",
    "orders_next_page_s",
    "customers_search_s",
    "dashboard_warm_s",
    "dashboard_cold_s",
    "rss_mb",
    "naive_orders_first_view_s",
)


def _backends(text: str) -> list[str]:
    names = [b.strip() for b in text.split(",") if b.strip()]
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown backends {unknown}; choose from {BACKENDS}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--orders", type=int, default=1_500_000)
    p.add_argument("--customers", type=int, default=150_000)
    p.add_argument("--backends", type=_backends, default=list(BACKENDS))
    p.add_argument("--runs", type=int, default=5, help="timed runs of each figure (the median)")
    p.add_argument("--load-seconds", type=float, default=60, help="0: no load test")
    p.add_argument("--load-backends", type=_backends, default=["postgresql"])
    p.add_argument("--load-sessions", type=int, default=20)
    p.add_argument("--rss-sessions", type=int, default=10)
    p.add_argument("--no-rss", action="store_true", help="skip the 10-session memory figure")
    p.add_argument("--no-before", action="store_true", help="skip the landed DuckDB path")
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="data, configs and logs")
    p.add_argument("--out", type=Path, default=ARTIFACTS, help="scale.json and scale.md here")
    return p


def _log(text: str) -> None:
    print(text, flush=True)


class Stages:
    """One backend's stages: each that fails is noted (its exception's type and first
    line) and the next still runs; `failed` says whether any did."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.notes: list[str] = []
        self.failed = False

    def run(self, what: str, fn: Callable[[], Any]) -> Any:
        _log(f"-- {self.backend}: {what}")
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 (noted; the other figures are still measured)
            traceback.print_exc()
            self.failed = True
            first = (str(exc).splitlines() or [""])[0][:300]
            self.notes.append(f"FAILED {what}: {type(exc).__name__}: {first}")
            return None


def _single(note: str, timing: dict[str, Any]) -> str:
    return note + (" (one run)" if timing.get("single_run") else "")


def one_backend(backend: str, args: argparse.Namespace) -> tuple[dict, dict | None, dict, bool]:
    """(figures, load result or None, details, whether a stage failed) of one backend."""
    size = Size(args.orders, args.customers)
    detail: dict[str, Any] = {}
    _log(f"-- {backend}: data")
    urls = ensure_data(backend, size, args.dir, log=_log)
    config = app_config(backend, urls, args.dir)
    previous = os.environ.get("BACKOFFICE_CONFIG")
    os.environ["BACKOFFICE_CONFIG"] = str(config)
    drop_caches()
    stages = Stages(backend)
    notes = stages.notes
    out: dict[str, Any] = {k: None for k in FIGURES}
    load = None
    try:
        got = stages.run(
            f"the pages' lists ({args.runs} runs each)",
            lambda: scale_measure.listings(urls, args.runs),
        )
        if got:
            detail["runs_s"] = got.pop("runs_s")
            out.update(got)
        naive = stages.run(
            "naive read_sql baseline", lambda: scale_measure.naive_first_view(urls, args.runs)
        )
        if naive:
            out["naive_orders_first_view_s"] = naive["median_s"]
            detail["naive"] = naive
            notes.append(_single(scale_measure.NAIVE_NOTE, naive))
        if not args.no_before:
            before = stages.run(
                "the landed DuckDB path (before)",
                lambda: scale_measure.before_first_view(args.runs),
            )
            if before:
                out["before_orders_first_view_s"] = before["median_s"]
                detail["before"] = before
                notes.append(_single(scale_measure.BEFORE_NOTE, before))
        drop_caches()
        dash = stages.run("dashboard", lambda: scale_measure.dashboard(config, args.runs))
        drop_caches()
        if dash:
            if note := dash.pop("dashboard_note", None):
                notes.append(note)
            if "dashboard" in dash:
                detail["dashboard"] = dash.pop("dashboard")
            out.update(dash)
        if not args.no_rss:
            from bench import scale_rss

            rss = stages.run(
                f"memory with {args.rss_sessions} browser sessions",
                lambda: scale_rss.measure(config, args.rss_sessions),
            )
            if rss:
                out["rss_mb"] = rss["rss_mb"]
                detail["rss"] = rss["rss"]
                if rss["rss"]["errors"]:
                    notes.append(
                        f"rss: {len(rss['rss']['errors'])} session errors (scale_run.json)"
                    )
        if args.load_seconds > 0 and backend in args.load_backends:
            from bench import scale_load

            load = stages.run(
                f"load, {args.load_sessions} sessions for {args.load_seconds:g} s",
                lambda: scale_load.measure(
                    config, scale_measure.samples(urls), args.load_seconds, args.load_sessions
                ),
            )
            from bench import scale_load_apptest

            scripts = stages.run(
                f"load, {args.load_sessions} AppTest sessions for {args.load_seconds:g} s",
                lambda: scale_load_apptest.measure(
                    config, scale_measure.samples(urls), args.load_seconds, args.load_sessions
                ),
            )
            if scripts:
                load = {**(load or {}), "apptest": scripts}
        out.update(scale_measure.counts(urls))
        out["notes"] = notes
        return out, load, detail, stages.failed
    finally:
        drop_caches()
        if previous is None:
            os.environ.pop("BACKOFFICE_CONFIG", None)
        else:
            os.environ["BACKOFFICE_CONFIG"] = previous


def _write(
    args: argparse.Namespace, figures: dict[str, Any], loads: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """scale.json and scale.md from the figures so far: (the JSON document, the table)."""
    doc: dict[str, Any] = dict(figures)
    if loads:
        doc["load"] = loads
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    table = markdown(doc, Size(args.orders, args.customers), args.runs, machine())
    (args.out / "scale.md").write_text(table + "\n", encoding="utf-8")
    return doc, table


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every backend asked for; writes scale.json and scale.md into args.out."""
    figures: dict[str, Any] = {}
    loads: dict[str, Any] = {}
    details: dict[str, Any] = {}
    failed: list[str] = []
    start = time.perf_counter()
    doc, table = _write(args, figures, loads)
    for backend in args.backends:
        try:
            figures[backend], load, details[backend], broke = one_backend(backend, args)
            if load is not None:
                loads[backend] = load
            if broke:
                failed.append(backend)
        except ServerUnavailable as exc:
            if must_fail_when_skipped():
                raise
            _log(f"-- {backend}: skipped: {exc}")
            figures[backend] = {k: None for k in FIGURES} | {"notes": [f"skipped: {exc}"]}
        except Exception as exc:  # noqa: BLE001 (one backend's failure: the others still run)
            traceback.print_exc()
            failed.append(backend)
            figures[backend] = {k: None for k in FIGURES} | {"notes": [f"FAILED: {exc!r}"[:500]]}
        doc, table = _write(args, figures, loads)  # after each backend: a long run shows progress
    if failed:
        raise BenchFailed(f"failed on {', '.join(failed)} (figures so far in scale.json)")
    return {
        "scale": doc,
        "details": details,
        "table": table,
        "took_s": round(time.perf_counter() - start, 1),
    }


def show(r: dict[str, Any]) -> str:
    return r["table"]


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for backend, f in r["scale"].items():
        if backend == "load" or f.get("orders_first_view_s") is None:
            continue
        out.append((f"scale {backend} orders first view", f"{f['orders_first_view_s']:.3f} s"))
    return out


BENCHMARK = Benchmark("scale_run", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
