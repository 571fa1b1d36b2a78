"""`make bench-scale`'s harness works end to end: a tiny run on SQLite (no browser, no load)
writes scale.json with every figure the issue names and scale.md with the table.

Speed is not asserted here (bench/ measures it); only that the harness runs and its figures
are positive numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TIMED = (
    "orders_first_view_s",
    "orders_search_s",
    "orders_next_page_s",
    "customers_search_s",
    "naive_orders_first_view_s",
    "orders_id_search_s",
    "orders_filter_s",
    "orders_sort_s",
    "before_orders_first_view_s",
)
REQUIRED = (*TIMED, "dashboard_warm_s", "dashboard_cold_s", "rss_mb")


def test_the_scale_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    from bench import scale

    before = os.environ.get("BACKOFFICE_CONFIG")
    args = scale.parser().parse_args(
        [
            "--orders", "2000", "--customers", "300", "--backends", "sqlite", "--runs", "1",
            "--load-seconds", "0", "--no-rss",
            "--dir", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
        ]
    )  # fmt: skip
    result = scale.run(args)

    doc = json.loads((tmp_path / "out" / "scale.json").read_text(encoding="utf-8"))
    assert set(doc) == {"sqlite"}
    figures = doc["sqlite"]
    assert set(REQUIRED) <= set(figures)
    for key in TIMED:
        assert isinstance(figures[key], float) and figures[key] > 0, (key, figures[key])
    for key in ("dashboard_warm_s", "dashboard_cold_s"):  # null until the dashboard bench lands
        assert figures[key] is None or figures[key] > 0, (key, figures[key])
    assert figures["rss_mb"] is None  # --no-rss
    assert (figures["orders"], figures["customers"]) == (2000, 300)
    assert any("read_sql" in note for note in figures["notes"])

    table = (tmp_path / "out" / "scale.md").read_text(encoding="utf-8")
    assert "| Orders, first view (count + newest 20) |" in table
    assert "| first view vs naive |" in table
    assert result["table"].strip() == table.strip()
    assert os.environ.get("BACKOFFICE_CONFIG") == before  # the run put the process back

    # A second run finds the data built (the marker) and measures again.
    assert scale.run(args)["scale"]["sqlite"]["orders"] == 2000


def test_the_apptest_load_runs_sessions_side_by_side_without_errors(tmp_path: Path) -> None:
    """Two AppTest sessions, each in its own process, on the tiny SQLite data: every one
    signs in and reaches the Orders page, and their interactions run without an error (in
    threads of one process they broke each other's sign-in)."""
    from bench import scale_data, scale_load_apptest, scale_measure

    size = scale_data.Size(2000, 300)
    urls = scale_data.ensure_data("sqlite", size, tmp_path, log=lambda _: None)
    config = scale_data.app_config("sqlite", urls, tmp_path)
    load = scale_load_apptest.measure(
        config, scale_measure.samples(urls), seconds=4, sessions=2, think_s=0.2
    )
    assert load["errors"] == 0, load["error_samples"]
    assert load["interactions"] >= 4 and 0 < load["p50_s"] <= load["p95_s"]
