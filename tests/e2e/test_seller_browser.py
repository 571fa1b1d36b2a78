"""Seller portal in a real browser: seller1 creates a product, finds it, and cannot find
another seller's products, not even through a URL that names the other tenant.

The demo data is shared with the AppTest page tests: products are named uniquely.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import expect_url, log_in, wait_idle
from tests.stack import shop

pytestmark = pytest.mark.e2e


EMPTY_TEXT = "No products match"
ROW_HEIGHT = 35  # px, Streamlit's grid rows (and its header)
PRICE_COLUMN = 2  # id, name, price, ...


def edit_cell(page, row: int, column: int, value: str, saved_label: str) -> None:
    """Type a new value into a cell of the editable grid, until the page counts the edit
    (the Save button's label says `saved_label`).

    The grid is drawn on a canvas: click its row, move with the arrow keys until the
    grid's accessible twin says the wanted cell is the active one, then type into the
    editor that opens over it. A grid that is still being redrawn loses the keys, so
    this tries again a few times."""
    from playwright.sync_api import Error

    save = page.get_by_role("button", name=saved_label)
    for _ in range(4):
        try:
            _type_into_cell(page, row, column, value)
            save.wait_for(timeout=5_000)
            return
        except Error:
            page.keyboard.press("Escape")
            wait_idle(page)
    pytest.fail(f"the grid did not take {value!r} in row {row}, column {column}")


def _type_into_cell(page, row: int, column: int, value: str) -> None:
    def active(cell: str) -> None:
        page.wait_for_function(
            "id => document.activeElement && document.activeElement.id === id",
            arg=cell,
            timeout=5_000,
        )

    canvas = page.get_by_test_id("stDataFrame").first.locator("canvas").first
    canvas.scroll_into_view_if_needed(timeout=5_000)
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 20, box["y"] + ROW_HEIGHT * (row + 1) + ROW_HEIGHT // 2)
    active(f"glide-cell-0-{row}")
    for _ in range(column):
        page.keyboard.press("ArrowRight")
    active(f"glide-cell-{column}-{row}")
    page.keyboard.type(value[0])  # a key opens the cell's editor, an <input> over the canvas
    editor = page.locator("input.gdg-input")
    editor.wait_for(timeout=5_000)
    editor.fill(value)
    editor.press("Enter")
    wait_idle(page)


def fill(box, text: str) -> None:
    """Type into a form field and leave it (Tab, not Enter: Enter would submit the form)."""
    box.wait_for(timeout=10_000)
    box.fill(text)
    box.press("Tab")


def choose(page, combobox, option: str) -> None:
    """Pick an option of a selectbox; its list may not open on a click made mid-redraw."""
    from playwright.sync_api import Error

    for _ in range(3):
        combobox.click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            return
        except Error:
            page.keyboard.press("Escape")
    pytest.fail(f"option {option!r} never showed")


def search(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Search")
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


def settled(page) -> None:
    """The run is over and nothing of the last one is left on screen (a fragment's rerun
    keeps its old elements, marked stale, until it is done)."""
    wait_idle(page)
    page.wait_for_function("() => !document.querySelector('[data-stale=true]')")


def screenshots(page, artifacts: Path, name: str, focus=None) -> None:
    """The page at 1280 px and at 390 px (a phone), scrolled to `focus` if given."""
    settled(page)
    if focus is not None:
        focus.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"seller-{name}-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    settled(page)
    page.wait_for_timeout(300)  # let the layout settle at the new width
    if focus is not None:
        focus.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / f"seller-{name}-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    settled(page)


def test_seller_creates_a_product_finds_it_and_cannot_see_another_sellers(
    page, app_url, demo_dir, artifacts
):
    # A seller 2 product whose name no seller 1 product contains.
    ((other_name,),) = shop(
        demo_dir,
        "SELECT name FROM products AS p WHERE seller_id = 2 AND NOT EXISTS ("
        " SELECT 1 FROM products AS o WHERE o.seller_id = 1"
        " AND instr(lower(o.name), lower(p.name)) > 0) ORDER BY id LIMIT 1",
    )
    name = f"Oak Serving Board {uuid.uuid4().hex[:8]}"

    # A URL naming tenant 2 still opens seller 1's own catalogue.
    log_in(page, app_url, "seller1", "seller1-demo", path="/seller?tenant=2")
    page.get_by_role("heading", name="Seller portal").wait_for(timeout=30_000)
    wait_idle(page)
    page.get_by_role("heading", name="Seoul Style Co.").wait_for(timeout=30_000)
    expect_url(page, lacks=("tenant=",))
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=30_000)
    screenshots(page, artifacts, "list")

    page.get_by_role("button", name="New product").click()
    dialog = page.get_by_role("dialog")
    fill(dialog.get_by_role("textbox", name="Name"), name)
    choose(page, dialog.get_by_role("combobox"), "Home")
    fill(dialog.get_by_role("spinbutton", name="Price (₩)"), "27000")
    fill(dialog.get_by_role("spinbutton", name="Stock"), "12")
    screenshots(page, artifacts, "new-product")
    dialog.get_by_role("button", name="Create product").click()
    wait_idle(page)
    created = page.get_by_test_id("stAlert").filter(has_text=re.compile(r"Product \d+ created\."))
    created.wait_for(timeout=30_000)  # an "invalid" alert in the dialog would name the field
    assert page.get_by_role("dialog").count() == 0
    product_id = int(re.search(r"Product (\d+) created", created.inner_text()).group(1))
    screenshots(page, artifacts, "created")

    search(page, name)
    page.get_by_text("Rows 1–1 of 1 · page 1 of 1").wait_for(timeout=30_000)
    expect_url(page, has=("q=",))
    assert page.get_by_text(EMPTY_TEXT).count() == 0

    # Change its price in the table and save: one product.update.
    edit_cell(page, 0, PRICE_COLUMN, "29500", saved_label="Save changes (1)")
    page.get_by_role("button", name="Save changes (1)").click()
    wait_idle(page)
    page.get_by_text(f"Product {product_id}: price updated.").first.wait_for(timeout=30_000)
    settled(page)
    assert page.get_by_role("button", name="Save changes").is_disabled()  # nothing left to save
    screenshots(page, artifacts, "saved")
    # The shop database is read from here only after the app's writes: while the app holds
    # a pooled SQLite connection, DuckDB's own SQLite copy in the app drops its file locks,
    # and an outside reader that closes then deletes the WAL the app's next write goes to.
    assert shop(
        demo_dir, "SELECT seller_id, price, stock, active FROM products WHERE id = ?", product_id
    ) == [(1, 29_500, 12, 1)]

    search(page, other_name)
    page.get_by_text(EMPTY_TEXT).wait_for(timeout=30_000)
    settled(page)  # the last list goes once the run is over, not when the note shows
    assert page.get_by_test_id("stDataFrame").count() == 0
    screenshots(page, artifacts, "other-seller")


def test_the_statement_opens_from_a_shared_link_in_another_tab_and_a_new_session(
    page, browser, app_url, artifacts
):
    """The statement is read only once its section is opened; that state is in the URL, so
    the link opens it again in a second tab (same sign-in) and in a fresh browser after
    sign-in; closing it takes it out of the URL."""
    statement_caption = re.compile(r"^Seoul Style Co\. · orders placed in \w+ \d{4}")
    log_in(page, app_url, "seller1", "seller1-demo", path="/seller")
    page.get_by_role("heading", name="Seoul Style Co.").wait_for(timeout=30_000)
    settled(page)
    assert page.get_by_text(statement_caption).count() == 0  # closed: not read
    page.get_by_text("Monthly statement", exact=True).click()
    wait_idle(page)
    caption = page.get_by_text(statement_caption)
    caption.wait_for(timeout=30_000)
    expect_url(page, has=("/seller", "statement=true"))
    page.get_by_role("button", name="Download statement (XLSX)").wait_for(timeout=30_000)
    month = caption.inner_text()
    screenshots(page, artifacts, "statement", focus=caption)

    second = page.context.new_page()
    second.goto(page.url)
    wait_idle(second)
    second.get_by_text(month, exact=True).wait_for(timeout=30_000)
    expect_url(second, has=("statement=true",))
    second.close()

    other = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        fresh = other.new_page()
        log_in(fresh, app_url, "seller1", "seller1-demo", path=page.url.removeprefix(app_url))
        fresh.get_by_text(month, exact=True).wait_for(timeout=30_000)
        expect_url(fresh, has=("statement=true",))
        settled(fresh)
        fresh.get_by_text(month, exact=True).scroll_into_view_if_needed()
        fresh.screenshot(path=str(artifacts / "seller-statement-pasted-390.png"), full_page=True)
    finally:
        other.close()

    page.get_by_text("Monthly statement", exact=True).click()
    wait_idle(page)
    expect_url(page, lacks=("statement=",))
    # The URL changes in the browser at the click; the run that drops the statement may
    # start after that: wait for the caption to go rather than look once.
    expect(page.get_by_text(statement_caption)).to_have_count(0, timeout=30_000)
    settled(page)
