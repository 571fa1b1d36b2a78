"""Server time of the analyst dashboard (first render, a filter change) and of its reports.

`python -m bench.dashboard [--rounds 3]`

Seeds a fresh copy of the demo data, starts the demo back ends on free ports, and drives the
real Home.py through Streamlit's AppTest (no browser): sign in as the analyst, switch to
/dashboard and time that run with a cold engine (the process's engine and caches dropped
before each session: every session pays for attaching the sources), then change the
granularity to week and the segment and time the run that follows. The reports are timed on
the default view (the last 12 full months): lib.reports.xlsx.dashboard_xlsx and
lib.reports.pdf.dashboard_pdf (its charts rendered by vl-convert), and the data load they
start from. Every figure is the median of `--rounds` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.demo_app import demo_app, drop_caches
from bench.report import REPO, BenchFailed, Benchmark, cli, table

HOME = str(REPO / "Home.py")
PAGE = "app_pages/dashboard.py"
USER, PASSWORD = "analyst", "analyst-demo"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.dashboard", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--rounds", type=int, default=5, help="timed runs of each, at least 3 (the median counts)"
    )
    return p


def _session() -> tuple[float, float]:
    """One analyst's visit: (first render of /dashboard on a cold engine, a filter change)."""
    from streamlit.testing.v1 import AppTest

    drop_caches()
    at = AppTest.from_file(HOME, default_timeout=180)
    at.run()
    at.text_input[0].input(USER)
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    at.switch_page(PAGE)
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    if at.exception or at.error or not at.metric:
        raise BenchFailed(f"/dashboard did not render its KPIs: {at.exception or at.error}")
    segment = at.selectbox(key="dashboard_segment")
    picked = next((o for o in segment.options if o not in ("All", "None")), None)
    at.selectbox(key="dashboard_granularity").set_value("week")
    if picked is not None:
        segment.select(picked)
    start = time.perf_counter()
    at.run()
    change = time.perf_counter() - start
    if at.exception or at.error or not at.metric:
        raise BenchFailed(f"the filter change failed: {at.exception or at.error}")
    if at.query_params.get("granularity") != "week":
        raise BenchFailed(f"the granularity did not apply: {dict(at.query_params)}")
    return first, change


def _median(fn: Callable[[], Any], rounds: int) -> tuple[float, list[float], Any]:
    runs, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), runs, result


def _figure(median: float, runs: list[float]) -> dict[str, Any]:
    return {"median_s": round(median, 4), "runs_s": [round(r, 4) for r in runs]}


def _reports(rounds: int) -> dict[str, Any]:
    from lib.access.principal import Principal
    from lib.config.runtime import engine
    from lib.dashboard import data as dashboard
    from lib.dashboard.filters import from_url
    from lib.reports.pdf import dashboard_pdf
    from lib.reports.xlsx import dashboard_xlsx

    analyst = Principal(USER, "Ana Analyst", ("analyst",))
    eng = engine()
    view, problems = from_url({}, dashboard.latest_day(eng))
    if problems:
        raise BenchFailed(f"the default view had problems: {problems}")
    load_s, load_runs, data = _median(lambda: dashboard.load(eng, analyst, view), rounds)
    dashboard_xlsx(data)  # the first build pays for imports (openpyxl)
    dashboard_pdf(data)  # and vl-convert's start-up; neither is what a report costs
    xlsx_s, xlsx_runs, xlsx = _median(lambda: dashboard_xlsx(data), rounds)
    pdf_s, pdf_runs, pdf = _median(lambda: dashboard_pdf(data), rounds)
    if not xlsx.startswith(b"PK") or not pdf.startswith(b"%PDF"):
        raise BenchFailed("the reports are not an XLSX and a PDF")
    return {
        "view": {"from": view.date_from.isoformat(), "to": view.date_to.isoformat()},
        "data_load": _figure(load_s, load_runs),
        "xlsx": {**_figure(xlsx_s, xlsx_runs), "bytes": len(xlsx)},
        "pdf": {**_figure(pdf_s, pdf_runs), "bytes": len(pdf)},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rounds = max(args.rounds, 3)
    with demo_app("bench-dashboard-") as counts:
        _session()  # the process's first: imports, not the page
        timed = [_session() for _ in range(rounds)]
        drop_caches()
        reports = _reports(rounds)
    firsts, changes = [t[0] for t in timed], [t[1] for t in timed]
    return {
        "orders": counts["orders"],
        "rounds": rounds,
        "first_render": _figure(statistics.median(firsts), firsts),
        "filter_change": _figure(statistics.median(changes), changes),
        **reports,
    }


def show(r: dict[str, Any]) -> str:
    rows = [
        ("first render of /dashboard (cold engine)", r["first_render"]["median_s"], ""),
        ("filter change (week, one segment)", r["filter_change"]["median_s"], ""),
        ("data for the default view", r["data_load"]["median_s"], ""),
        ("XLSX report", r["xlsx"]["median_s"], f"{r['xlsx']['bytes']:,}"),
        ("PDF report", r["pdf"]["median_s"], f"{r['pdf']['bytes']:,}"),
    ]
    view = f"{r['view']['from']} .. {r['view']['to']}"
    head = [f"dashboard ({r['orders']:,} orders; {view})", f"median of {r['rounds']} (s)", "bytes"]
    return table(head, rows)


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("dashboard first render", f"{r['first_render']['median_s']:.3f} s"),
        ("dashboard filter change", f"{r['filter_change']['median_s']:.3f} s"),
        ("dashboard XLSX / PDF", f"{r['xlsx']['median_s']:.3f} s / {r['pdf']['median_s']:.3f} s"),
    ]


BENCHMARK = Benchmark("dashboard", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
