"""Customers in a real browser: support searches, opens, unmasks an e-mail with a reason;
a copied URL restores its filters in a fresh browser context.

Uses customers 1580-1589 of the shared demo data (the AppTest file uses others).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from lib.access.masking import mask
from lib.audit import AuditStore
from tests.e2e.conftest import expect_url, log_in, wait_idle
from tests.pages.helpers import customer

pytestmark = pytest.mark.e2e

UNMASKED = 1580
REASON = "customer asked to confirm the e-mail on file, ticket T0123"


def search(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Search")
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


def snap(page, path, width: int) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main section, so the
    window is made as tall as that section first."""
    page.set_viewport_size({"width": width, "height": 900})
    wait_idle(page)
    height = page.evaluate(
        "() => (document.querySelector('[data-testid=stMain]') || document.body).scrollHeight"
    )
    page.set_viewport_size({"width": width, "height": max(844, min(int(height) + 40, 5000))})
    wait_idle(page)
    page.wait_for_timeout(500)  # the grid draws on a canvas after the layout settles
    page.screenshot(path=str(path), full_page=True)


def segment(page):
    return page.get_by_test_id("stMultiSelect").filter(has_text="Segment")


def shown(page, text: str):
    """Markdown on the page holding `text` (the table's cells are in a hidden copy too)."""
    return page.get_by_test_id("stMarkdownContainer").filter(has_text=text).first


def select_first_row(page) -> None:
    """Tick the first row's selection box (the grid is a canvas: click where it is drawn)."""
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for(timeout=30_000)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
    wait_idle(page)


def test_support_searches_unmasks_an_email_and_the_audit_row_exists(
    page, browser, app_url, artifacts, demo_dir
):
    row = customer(demo_dir, UNMASKED)
    log_in(page, app_url, "support", "support-demo", path="/customers")
    page.get_by_role("heading", name="Customers").wait_for(timeout=30_000)
    search(page, row["email"])  # whole: a part of an address finds nothing
    page.get_by_text("Rows 1–1 of 1").wait_for(timeout=30_000)
    select_first_row(page)
    page.get_by_role("heading", name=f"Customer #{UNMASKED}").wait_for(timeout=30_000)
    expect_url(page, has=(f"id={UNMASKED}",))
    assert page.get_by_text(row["email"]).count() == 0
    shown(page, mask("email", row["email"])).wait_for()
    page.get_by_text("Loyalty tier").wait_for(timeout=30_000)  # the customer API is up here
    snap(page, artifacts / "customers-detail-1280.png", 1280)

    page.get_by_role("button", name="Unmask…").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    dialog.get_by_role("combobox").first.click()
    page.get_by_role("option", name="E-mail").click()
    page.keyboard.press("Escape")  # close the options list, not the dialog
    dialog.get_by_role("textbox", name="Reason").fill(REASON)
    page.screenshot(path=str(artifacts / "customers-unmask-dialog-1280.png"))
    dialog.get_by_role("button", name="Unmask", exact=True).click()
    wait_idle(page)
    shown(page, row["email"]).wait_for(timeout=30_000)
    page.get_by_text("E-mail shown in clear to you until").wait_for()
    assert page.get_by_text(row["phone"]).count() == 0
    snap(page, artifacts / "customers-unmasked-1280.png", 1280)

    store = AuditStore(f"sqlite:///{demo_dir}/audit.sqlite")
    rows = store.query(action="customer.unmask", target_id=str(UNMASKED), limit=5)
    assert rows, "no audit row for the unmask"
    newest = rows[0]
    assert (newest["actor"], newest["outcome"]) == ("support", "ok")
    assert newest["detail"]["fields"] == ["email"]
    assert newest["reason"] == REASON
    assert row["email"] not in str(newest)

    # A fresh session on a phone, from the URL: the grant is held server side, so the
    # e-mail is still shown in clear there.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    small = phone.new_page()
    log_in(small, app_url, "support", "support-demo", path=f"/customers?id={UNMASKED}")
    small.get_by_role("heading", name=f"Customer #{UNMASKED}").wait_for(timeout=30_000)
    shown(small, row["email"]).wait_for(timeout=30_000)
    snap(small, artifacts / "customers-unmasked-390.png", 390)
    phone.close()


def test_a_copied_url_restores_its_filters_in_a_fresh_browser(browser, app_url, artifacts):
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    page = first.new_page()
    log_in(page, app_url, "operator", "operator-demo", path="/customers")
    page.get_by_role("heading", name="Customers").wait_for(timeout=30_000)
    segment(page).get_by_role("combobox").click()
    page.get_by_role("option", name="VIP").click()
    page.keyboard.press("Escape")
    wait_idle(page)
    expect_url(page, has=("segment=vip",))
    wait_idle(page)  # the run that wrote the URL has also redrawn the table
    caption = page.get_by_text("Rows 1–").inner_text()
    copied = page.url
    query = parse_qs(urlparse(copied).query)
    assert query["segment"] == ["vip"]
    snap(page, artifacts / "customers-filters-1280.png", 1280)
    first.close()

    fresh = browser.new_context(viewport={"width": 390, "height": 844})
    page = fresh.new_page()
    path = copied.removeprefix(app_url)
    log_in(page, app_url, "operator", "operator-demo", path=path)
    page.get_by_role("heading", name="Customers").wait_for(timeout=30_000)
    page.get_by_text(caption).wait_for(timeout=30_000)
    expect(segment(page)).to_contain_text("VIP", timeout=30_000)
    expect_url(page, has=("segment=vip",))
    snap(page, artifacts / "customers-filters-390.png", 390)
    fresh.close()
