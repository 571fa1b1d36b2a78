"""Every benchmark, then one summary table: `python -m bench [--sf 0.1]` (`make bench`).

Exits non-zero when any benchmark failed; one that needed a missing server is skipped
(except under CI=true) and the others still run.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from bench import approvals, dashboard, join_paths, masking, orders_page, sheets, workflows
from bench.report import cli, table


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--sf", default="0.1", help="TPC-H scale factor for join_paths")
    args = p.parse_args(argv)
    plan = [
        (join_paths.BENCHMARK, ["--sf", args.sf]),
        (approvals.BENCHMARK, []),
        (masking.BENCHMARK, []),
        (orders_page.BENCHMARK, []),
        (dashboard.BENCHMARK, []),
        (sheets.BENCHMARK, []),
        (workflows.BENCHMARK, []),
    ]
    start = time.perf_counter()
    rows: list[tuple[str, str]] = []
    failed = []
    for bench, bench_argv in plan:
        status, results = cli(bench, bench_argv)
        if status != 0:
            failed.append(bench.name)
        rows += bench.summary(results) if results else [(bench.name, "skipped or failed")]
    print("== summary")
    print(table(["benchmark", "result"], rows, left=2))
    print(f"total {time.perf_counter() - start:.0f} s; JSON in test-artifacts/bench/")
    if failed:
        print(f"FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
