"""A shop no action has written to yet has no `refunds` table, while the configuration
declares shop.refunds_snapshot: the app creates the table the action layer owns when its
reading engine is made (lib.actions.context.ensure_records), so the dashboard and the Orders
page work on such a shop, its refunds by reason empty."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lib.actions.context import ensure_records
from lib.config.settings import load_settings
from lib.jobs import worker
from tests.pages.helpers import open_page, table
from tests.stack import shop, write_config

pytestmark = pytest.mark.pages

VIEW = {"from": "2026-01-01", "to": "2026-03-31"}


def drop_refunds(demo_dir: Path) -> None:
    with closing(sqlite3.connect(demo_dir / "shop.sqlite")) as con:
        con.execute("DROP TABLE refunds")
        con.commit()


def has_refunds(demo_dir: Path) -> bool:
    found = shop(demo_dir, "SELECT count(*) FROM sqlite_master WHERE name = 'refunds'")
    return found[0][0] == 1


def test_the_dashboard_and_orders_work_on_a_shop_without_refunds(app, demo_dir, monkeypatch):
    # No jobs thread: its first round reaches the shop through the action context, which
    # makes the table too, racing the page. Without ensure_records the page says
    # "Source 'shop' is unavailable: ... Table with name refunds does not exist!".
    monkeypatch.setattr(worker, "for_process", lambda *args, **kwargs: None)
    drop_refunds(demo_dir)
    assert not has_refunds(demo_dir)
    at = open_page(app, "app_pages/dashboard.py", "analyst", **VIEW)
    assert not at.error, [e.value for e in at.error]
    assert {"GMV", "Orders", "Refund rate"} <= {m.label for m in at.metric}
    reasons = next(d.value for d in at.dataframe if "category" in d.value.columns)
    assert reasons.empty  # no refund recorded yet: nothing by reason
    assert has_refunds(demo_dir) and shop(demo_dir, "SELECT count(*) FROM refunds") == [(0,)]

    orders = open_page(app, "app_pages/orders.py", "operator", status="pending")
    assert not orders.error, [e.value for e in orders.error]
    assert len(table(orders)) > 0


def test_a_sqlite_shop_file_that_does_not_exist_is_not_made(tmp_path, demo_dir):
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(f"{demo_dir}/shop.sqlite", f"{tmp_path}/nope.sqlite"))
    drop_refunds(demo_dir)
    assert ensure_records(load_settings(config)) == []
    assert not (tmp_path / "nope.sqlite").exists()
    assert not has_refunds(demo_dir)  # the configured file only


def test_a_shop_that_cannot_be_reached_is_said_in_one_line_and_nothing_raises(tmp_path, demo_dir):
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8").replace(
        f"sqlite:///{demo_dir}/shop.sqlite",
        "postgresql://app:Secret-pw-1@127.0.0.1:9/shop",
    )
    config.write_text(text, encoding="utf-8")
    [problem] = ensure_records(load_settings(config))
    assert problem.startswith("shop: cannot connect"), problem
    assert "Secret-pw-1" not in problem and "127.0.0.1" not in problem
