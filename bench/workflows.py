"""The customer API -> order API workflow (workflows/customer_orders.toml) for 1,000 customers:
one order API call per customer, one at a time against the declared concurrency.

`python -m bench.workflows [--customers 1000] [--repeat 3] [--latency-ms 0 20]`

A demo is seeded into a temporary folder and the customer and order APIs serve it as processes
of their own (`python -m lib.demo.services.serve`, as `make run` deploys them): real HTTP
between processes on loopback, each API with its own interpreter (and GIL). Each variant runs the
whole workflow through lib.workflows.runner.run_workflow (customers, then the per-customer
calls, then the combine query); the figure is the median of --repeat runs after one untimed
warm-up. With --latency-ms, the order API waits that long before each answer (its `slow`
fault), as a back end across a network does: the case concurrency is for. Both variants must
give the same rows."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from bench.demo_app import demo_config
from bench.report import REPO, BenchFailed, Benchmark, cli, table

WORKFLOW = "customer_orders"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.workflows", description=__doc__.split("\n")[0]
    )
    p.add_argument("--customers", type=int, default=1000, help="customers (order API calls)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per variant (median)")
    p.add_argument(
        "--latency-ms",
        type=int,
        nargs="+",
        default=[0, 20],
        help="added order API latency per call, one case each (0: loopback as it is)",
    )
    return p


def _set_latency(order_api: str, ms: int) -> None:
    spec = {"mode": "slow", "delay": ms / 1000, "count": None, "match": "/orders"}
    body = spec if ms else {"mode": "none"}
    requests.post(f"{order_api}/_faults", json=body, timeout=5).raise_for_status()


@contextmanager
def _api_processes(demo_dir: Path, names: Sequence[str]) -> Iterator[dict[str, str]]:
    """Each API in a process of its own on a free loopback port while the block runs:
    name -> base URL. Stopped (their process groups) on the way out."""
    from lib.demo.launch import start, stop_all, wait_for
    from lib.demo.services.serve import HOST, free_port

    procs: list[subprocess.Popen] = []
    try:
        urls = {}
        for name in names:
            port = free_port()
            cmd = [sys.executable, "-m", "lib.demo.services.serve", name, "--dir", str(demo_dir)]
            procs.append(start([*cmd, "--port", str(port)]))
            urls[name] = f"http://{HOST}:{port}"
        for proc, url in zip(procs, urls.values(), strict=True):
            wait_for(f"{url}/health", 30, proc)
        yield urls
    finally:
        stop_all(procs)


def _timed(run: Any, workflow: Any, limit: int, repeat: int) -> tuple[list[float], Any, float]:
    """`repeat` timed runs of `workflow` for `limit` customers: (seconds, last result, the
    orders step's seconds in the median run)."""
    runs, step_s, result = [], [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run(workflow, limit)
        runs.append(time.perf_counter() - start)
        if result.outcome != "ok" or result.result is None or len(result.result) != limit:
            raise BenchFailed(f"{workflow.name} ended {result.outcome}: {result.error or ''}")
        step_s.append(next(s.seconds for s in result.steps if s.name == "orders"))
    return runs, result, statistics.median(step_s)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from lib.config.settings import load_settings
    from lib.demo.seed import seed
    from lib.reading.engine import Engine
    from lib.workflows.declaration import load_workflows
    from lib.workflows.runner import run_workflow

    cases: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-workflows-") as tmp:
        demo_dir = Path(tmp) / "demo"
        counts = seed(demo_dir)
        if counts["customers"] < args.customers:
            raise BenchFailed(f"the demo has {counts['customers']} customers")
        with _api_processes(demo_dir, ("customer_api", "order_api")) as urls:
            settings = load_settings(demo_config(Path(tmp), demo_dir, urls))
            workflows, errors = load_workflows(REPO / "workflows", settings)
            if WORKFLOW not in workflows:
                raise BenchFailed(f"{WORKFLOW} did not load: {errors}")
            declared = workflows[WORKFLOW]
            engine = Engine(settings.sources, settings.queries_dir)

            def once(workflow: Any, limit: int) -> Any:
                params = {"tier": None, "limit": limit}
                return run_workflow(workflow, params, engine=engine, settings=settings)

            try:
                once(declared, 50)  # warm-up: imports, connections, SQLite caches
                for ms in args.latency_ms:
                    _set_latency(urls["order_api"], ms)
                    print(f"order API latency +{ms} ms ...", flush=True)
                    case: dict[str, Any] = {}
                    rows = {}
                    for label, concurrency in (("sequential", 1), ("concurrent", None)):
                        workflow = replace(
                            declared, concurrency=concurrency or declared.concurrency
                        )
                        runs, result, step_s = _timed(once, workflow, args.customers, args.repeat)
                        rows[label] = result.result
                        case[label] = {
                            "concurrency": workflow.concurrency,
                            "median_s": round(statistics.median(runs), 3),
                            "runs_s": [round(r, 3) for r in runs],
                            "orders_step_median_s": round(step_s, 3),
                            "orders": int(result.result["orders"].sum()),
                        }
                    if not rows["sequential"].equals(rows["concurrent"]):
                        raise BenchFailed("sequential and concurrent runs gave different rows")
                    seq, con = case["sequential"]["median_s"], case["concurrent"]["median_s"]
                    case["speedup"] = round(seq / con, 2)
                    cases[str(ms)] = case
            finally:
                _set_latency(urls["order_api"], 0)
                engine.close()
    return {
        "workflow": WORKFLOW,
        "customers": args.customers,
        "order_api_calls": args.customers,
        "repeat": args.repeat,
        "declared_concurrency": declared.concurrency,
        "latency_ms": cases,
    }


def show(r: dict[str, Any]) -> str:
    rows = []
    for ms, case in r["latency_ms"].items():
        for label in ("sequential", "concurrent"):
            v = case[label]
            speedup = f"{case['speedup']:.2f}x" if label == "concurrent" else ""
            rows.append(
                (f"+{ms} ms  {label} ({v['concurrency']})", v["median_s"],
                 v["orders_step_median_s"], speedup)
            )  # fmt: skip
    head = ["order API latency, run (concurrency)", "median s", "orders step s", "speed-up"]
    return (
        table(head, rows)
        + f"\n{r['workflow']}: {r['customers']:,} customers, one order API call each; "
        + f"median of {r['repeat']}; each API a process of its own, HTTP over loopback\n"
        + "+0 ms: the APIs' own work per call; +N ms: a remote API's wait per call"
    )


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            f"{r['workflow']} {r['customers']:,} customers +{ms} ms",
            f"{c['sequential']['median_s']:.2f} s sequential, "
            f"{c['concurrent']['median_s']:.2f} s at {c['concurrent']['concurrency']} "
            f"({c['speedup']:.1f}x)",
        )
        for ms, c in r["latency_ms"].items()
    ]


BENCHMARK = Benchmark("workflows", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
