"""Server time of the Orders page: its first render and a filter change, on the demo data.

`python -m bench.orders_page [--rounds 5]`

Seeds a fresh copy of the demo data, starts the demo back ends on free ports, and drives
the real Home.py through Streamlit's AppTest (no browser): sign in as the operator, switch
to /orders and time that run (one page of orders and their count from one query, masked),
then set the status filter to pending and time the run that follows. The best of
`--rounds` sessions counts; the first session of the process is reported apart (it pays
for imports and the first DuckDB attach of each source).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.demo_app import demo_app
from bench.report import REPO, BenchFailed, Benchmark, cli, table

HOME = str(REPO / "Home.py")
PAGE = "app_pages/orders.py"
USER, PASSWORD = "operator", "operator-demo"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.orders_page", description=__doc__.split("\n")[0]
    )
    p.add_argument("--rounds", type=int, default=5, help="timed sessions (the best counts)")
    return p


def _session() -> tuple[float, float]:
    """One browser session's worth: (first render of /orders, run after a filter change)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(HOME, default_timeout=120)
    at.run()
    at.text_input[0].input(USER)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    at.switch_page(PAGE)
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    if at.exception or not at.dataframe:
        raise BenchFailed(f"/orders did not render a table: {at.exception or at.error}")
    at.multiselect(key="orders_status").set_value(["pending"])
    start = time.perf_counter()
    at.run()
    change = time.perf_counter() - start
    statuses = set(at.dataframe[0].value["status"])
    if at.exception or statuses != {"pending"}:
        raise BenchFailed(f"the status filter did not apply: {statuses or at.exception}")
    return first, change


def run(args: argparse.Namespace) -> dict[str, Any]:
    with demo_app("bench-orders-") as counts:
        cold = _session()
        timed = [_session() for _ in range(args.rounds)]
    firsts, changes = [t[0] for t in timed], [t[1] for t in timed]
    return {
        "orders": counts["orders"],
        "rounds": args.rounds,
        "first_render": {"best_s": round(min(firsts), 4), "runs_s": [round(t, 4) for t in firsts]},
        "filter_change": {
            "best_s": round(min(changes), 4),
            "runs_s": [round(t, 4) for t in changes],
        },
        "first_session": {
            "first_render_s": round(cold[0], 4),
            "filter_change_s": round(cold[1], 4),
        },
    }


def show(r: dict[str, Any]) -> str:
    rows = [
        (
            "first render of /orders",
            r["first_render"]["best_s"],
            r["first_session"]["first_render_s"],
        ),
        (
            "status filter change",
            r["filter_change"]["best_s"],
            r["first_session"]["filter_change_s"],
        ),
    ]
    head = [
        f"orders page ({r['orders']:,} orders)",
        f"best of {r['rounds']} (s)",
        "first session (s)",
    ]
    return table(head, rows)


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("orders page first render", f"{r['first_render']['best_s']:.3f} s"),
        ("orders page filter change", f"{r['filter_change']['best_s']:.3f} s"),
    ]


BENCHMARK = Benchmark("orders_page", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
