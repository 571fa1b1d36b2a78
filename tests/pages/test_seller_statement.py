"""The Seller portal's monthly statement through AppTest: a seller sees and downloads its
own; an admin picks another seller; a seller's link naming another seller changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from lib.ui import seller, seller_statement
from tests.pages.helpers import open_page
from tests.stack import shop

pytestmark = pytest.mark.pages

PAGE = "app_pages/seller.py"


def newest_finished_month(demo_dir: Path, seller_id: int) -> date:
    this_month = datetime.now(UTC).date().replace(day=1).isoformat()
    [(month,)] = shop(
        demo_dir,
        "SELECT max(substr(ordered_at, 1, 7)) FROM orders WHERE seller_id = ? AND ordered_at < ?",
        seller_id,
        this_month,
    )
    return date.fromisoformat(f"{month}-01")


def orders_in(demo_dir: Path, seller_id: int, month: date) -> int:
    [(n,)] = shop(
        demo_dir,
        "SELECT count(*) FROM orders WHERE seller_id = ? AND substr(ordered_at, 1, 7) = ?",
        seller_id,
        f"{month:%Y-%m}",
    )
    return n


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def month_picker(at: AppTest, seller_id: int):
    return at.selectbox(key=f"{seller_statement.KEY}.month.{seller_id}")


def test_seller_sees_its_statement_for_the_newest_finished_month_and_downloads_it(
    app, demo_dir, downloads
):
    at = open_page(app, PAGE, "seller1", statement="true")
    assert seller_statement.TITLE in [e.label for e in at.expander]
    month = newest_finished_month(demo_dir, 1)
    assert month_picker(at, 1).value == month
    assert metrics(at)["Orders"] == f"{orders_in(demo_dir, 1, month):,}"
    assert set(metrics(at)) >= {"GMV", "Refunded", "Revenue kept", "Payout"}
    stem = f"statement_seller-1_{month:%Y-%m}"
    assert {f"{stem}.xlsx", f"{stem}.pdf"} <= set(downloads)
    wb = openpyxl.load_workbook(io.BytesIO(downloads[f"{stem}.xlsx"]))
    assert wb.sheetnames == ["Statement", "Orders"]
    assert wb["Orders"].max_row - 1 == orders_in(demo_dir, 1, month)
    assert downloads[f"{stem}.pdf"].startswith(b"%PDF")


def test_seller_picks_an_earlier_month(app, demo_dir, downloads):
    at = open_page(app, PAGE, "seller1", statement="true")
    picker = month_picker(at, 1)
    earlier = picker.options[-1]  # the oldest month with orders (options are its labels)
    picker.select_index(len(picker.options) - 1).run()
    assert not at.exception
    month = month_picker(at, 1).value
    assert f"{month:%B %Y}" == earlier
    assert metrics(at)["Orders"] == f"{orders_in(demo_dir, 1, month):,}"
    assert f"statement_seller-1_{month:%Y-%m}.pdf" in downloads


def test_a_sellers_link_naming_another_seller_still_shows_its_own_statement(app, downloads):
    at = open_page(app, PAGE, "seller1", tenant="2", statement="true")
    assert any("Seoul Style Co." in c.value for c in at.caption)
    assert not any("Hangang" in c.value for c in at.caption)
    assert not any(name.startswith("statement_seller-2") for name in downloads)
    assert any(name.startswith("statement_seller-1_") for name in downloads)


def test_admin_picks_another_seller_and_gets_that_sellers_statement(app, demo_dir, downloads):
    at = open_page(app, PAGE, "admin", statement="true")
    at.selectbox(key=seller.TENANT).set_value(2).run()
    assert not at.exception
    month = month_picker(at, 2).value
    assert month == newest_finished_month(demo_dir, 2)
    assert metrics(at)["Orders"] == f"{orders_in(demo_dir, 2, month):,}"
    assert any("Hangang Electronics" in c.value for c in at.caption)
    assert f"statement_seller-2_{month:%Y-%m}.xlsx" in downloads


def test_the_statement_is_read_only_once_opened_and_a_link_opens_it(app):
    """Closed (the default), the portal reads no statement: a large seller's month is tens
    of thousands of orders. `?statement=true` (what opening it writes in the URL) opens it."""
    at = open_page(app, PAGE, "seller1")
    assert seller_statement.TITLE in [e.label for e in at.expander]
    assert "Payout" not in metrics(at)
    assert not [s for s in at.selectbox if s.key == f"{seller_statement.KEY}.month.1"]
    at = open_page(app, PAGE, "seller1", statement="true")
    assert "Payout" in metrics(at)
