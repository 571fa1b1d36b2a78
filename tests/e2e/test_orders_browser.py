"""Orders & payments in a real browser: approve, refund, shared URLs, a signed-out deep link.

The demo data is shared with the AppTest page tests: orders are picked by their current
state, from id ranges no other test uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.e2e.conftest import expect_url, log_in, wait_idle
from tests.stack import shop

pytestmark = pytest.mark.e2e

APPROVE = (18_800, 19_000)
REFUND = (15_200, 15_400)
VA_REFUND = (16_000, 16_400)  # a virtual-account payment's refund
ROW_HEIGHT = 35  # px, Streamlit's dataframe rows (and its header)


def open_orders(page, app_url: str, path: str) -> None:
    log_in(page, app_url, "operator", "operator-demo", path=path)
    page.get_by_role("heading", name="Orders & payments").wait_for(timeout=30_000)
    wait_idle(page)
    # The table, or the message that stands in for it.
    shown = page.get_by_test_id("stDataFrame").or_(page.get_by_test_id("stAlert"))
    shown.first.wait_for(timeout=30_000)
    wait_idle(page)


def orders_grid(page):
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for(timeout=30_000)
    return grid


def select_row(page, row: int) -> None:
    """Tick the row's checkbox (the grid is a canvas: click where the row is)."""
    box = orders_grid(page).bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + ROW_HEIGHT * (row + 1) + ROW_HEIGHT // 2)
    wait_idle(page)


def rows_caption(page) -> str:
    return page.get_by_text(re.compile(r"^Rows .* of ")).inner_text()


def metric(page, label: str):
    card = page.get_by_test_id("stMetric").filter(has_text=label)
    return card.get_by_test_id("stMetricValue")


def screenshots(page, artifacts: Path, name: str) -> None:
    """The page at 1280 and 390 px wide, tall enough to show all of it (Streamlit scrolls
    inside its own container, so a "full page" shot stops at the window's height)."""
    for width, height in ((1280, 1700), (390, 2600)):
        page.set_viewport_size({"width": width, "height": height})
        wait_idle(page)
        page.wait_for_timeout(300)  # let the layout settle at the new size
        page.screenshot(path=str(artifacts / f"orders-{name}-{width}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    wait_idle(page)


def test_operator_approves_a_pending_order_and_it_leaves_the_pending_filter(
    page, app_url, demo_dir, artifacts
):
    (order_id,) = shop(
        demo_dir,
        "SELECT id FROM orders WHERE status = 'pending' AND id >= ? AND id < ? ORDER BY id LIMIT 1",
        *APPROVE,
    )[0]
    open_orders(page, app_url, f"/orders?status=pending&q={order_id}")
    assert rows_caption(page).endswith("of 1 · page 1 of 1")
    select_row(page, 0)
    page.get_by_text("1 selected").wait_for(timeout=30_000)
    screenshots(page, artifacts, "selected")
    page.get_by_role("button", name="Approve").click()
    wait_idle(page)
    page.get_by_text(f"Order {order_id} approved.").first.wait_for(timeout=30_000)
    page.get_by_text("No orders match these filters.").wait_for(timeout=30_000)
    assert shop(demo_dir, "SELECT status FROM orders WHERE id = ?", order_id) == [("approved",)]
    expect_url(page, has=("status=pending",))
    screenshots(page, artifacts, "approved")


def test_operator_refunds_part_of_a_payment_and_sees_the_balance_fall(
    page, app_url, demo_dir, artifacts
):
    order_id, balance = shop(
        demo_dir,
        "SELECT o.id, p.balance_amount FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE o.status = 'approved' AND p.balance_amount >= 50000 AND o.id >= ? AND o.id < ? "
        "ORDER BY o.id LIMIT 1",
        *REFUND,
    )[0]
    open_orders(page, app_url, f"/orders?q={order_id}")
    select_row(page, 0)
    expect(metric(page, "Balance")).to_have_text(f"₩{balance:,}", timeout=30_000)
    page.get_by_role("button", name="Refund…").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    wait_idle(page)
    amount = dialog.get_by_role("spinbutton", name="Amount (₩)")
    assert amount.input_value() == str(balance)
    amount.fill("12000")
    amount.press("Tab")
    wait_idle(page)
    dialog.get_by_label("Reason").fill("late delivery")
    dialog.get_by_label("Reason").press("Tab")
    wait_idle(page)
    screenshots(page, artifacts, "refund-dialog")
    dialog.get_by_role("button", name="Refund ₩12,000").click()
    wait_idle(page)
    left = balance - 12_000
    page.get_by_text(f"Refunded ₩12,000 on order {order_id}; balance ₩{left:,}.").first.wait_for(
        timeout=30_000
    )
    assert page.get_by_role("dialog").count() == 0
    expect(metric(page, "Balance")).to_have_text(f"₩{left:,}", timeout=30_000)
    # The table's balance (the shop's record, read again) and the gateway's cancels.
    cell = page.locator("[role=gridcell]", has_text=re.compile(rf"^{left}$"))
    cell.first.wait_for(state="attached", timeout=30_000)
    cancels = page.locator("[role=gridcell]", has_text="late delivery")
    cancels.first.wait_for(state="attached", timeout=30_000)
    assert shop(demo_dir, "SELECT balance_amount FROM payments WHERE order_id = ?", order_id) == [
        (left,)
    ]
    screenshots(page, artifacts, "refunded")


def test_a_virtual_account_refund_asks_for_the_customers_bank_account(
    page, app_url, demo_dir, artifacts
):
    # Toss: a paid-in virtual-account payment is refunded to the customer's bank account
    # (refundReceiveAccount; docs.tosspayments.com, guides/apis/cancel-payment).
    order_id, balance = shop(
        demo_dir,
        "SELECT o.id, p.balance_amount FROM orders o JOIN payments p ON p.order_id = o.id"
        " WHERE o.status = 'approved' AND p.method = 'virtual_account' AND p.status = 'DONE'"
        " AND p.balance_amount >= 20000 AND o.id >= ? AND o.id < ? ORDER BY o.id LIMIT 1",
        *VA_REFUND,
    )[0]
    open_orders(page, app_url, f"/orders?q={order_id}")
    select_row(page, 0)
    expect(metric(page, "Balance")).to_have_text(f"₩{balance:,}", timeout=30_000)
    page.get_by_role("button", name="Refund…").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    wait_idle(page)
    why = "A virtual-account payment is refunded to the customer's bank account."
    dialog.get_by_text(why, exact=False).wait_for(timeout=30_000)
    amount = dialog.get_by_role("spinbutton", name="Amount (₩)")
    amount.fill("10000")
    amount.press("Tab")
    wait_idle(page)
    dialog.get_by_label("Reason").fill("late delivery")
    dialog.get_by_label("Reason").press("Tab")
    wait_idle(page)
    dialog.get_by_test_id("stSelectbox").filter(has_text="Bank").click()
    page.get_by_role("option", name="신한은행").click()
    wait_idle(page)
    number = dialog.get_by_role("textbox", name="Account number")
    number.fill("11012345678")
    number.press("Tab")
    wait_idle(page)
    holder = dialog.get_by_role("textbox", name="Account holder")
    holder.fill("홍길동")
    holder.press("Tab")
    wait_idle(page)
    screenshots(page, artifacts, "refund-virtual-account-dialog")
    dialog.get_by_role("button", name="Refund ₩10,000").click()
    wait_idle(page)
    left = balance - 10_000
    page.get_by_text(f"Refunded ₩10,000 on order {order_id}; balance ₩{left:,}.").first.wait_for(
        timeout=30_000
    )
    assert page.get_by_role("dialog").count() == 0
    assert shop(demo_dir, "SELECT balance_amount FROM payments WHERE order_id = ?", order_id) == [
        (left,)
    ]


def test_a_copied_url_restores_its_filters_in_a_fresh_browser(
    browser, page, app_url, demo_dir, artifacts
):
    # A search on a customer's name stays out of the URL (README, "Searching personal data").
    path = "/orders?status=approved&sort=-amount"
    open_orders(page, app_url, path)
    first_caption = rows_caption(page)
    assert first_caption.startswith("Rows 1–")
    copied = page.url

    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        fresh = other.new_page()
        open_orders(fresh, app_url, copied.removeprefix(app_url))
        fresh.screenshot(path=str(artifacts / "orders-copied-url-1280.png"), full_page=True)
        expect(fresh.get_by_test_id("stMultiSelect").get_by_text("approved")).to_have_count(1)
        assert fresh.get_by_role("combobox", name="Sort by").input_value() == "Amount"
        assert fresh.get_by_role("combobox", name="Order").input_value() == "Descending"
        assert rows_caption(fresh) == first_caption
        expect_url(fresh, has=("status=approved", "sort=-amount"))
    finally:
        other.close()


def test_a_signed_out_deep_link_lands_on_its_view_after_sign_in(page, app_url, demo_dir):
    (pending,) = shop(demo_dir, "SELECT count(*) FROM orders WHERE status = 'pending'")[0]
    open_orders(page, app_url, "/orders?status=pending")
    expect_url(page, has=("/orders", "status=pending"))
    expect(page.get_by_test_id("stMultiSelect").get_by_text("pending")).to_have_count(1)
    assert rows_caption(page).endswith(f"of {pending:,} · page 1 of {-(-pending // 20)}")


def test_a_long_list_says_10000_plus_and_steps_by_next_and_previous(page, app_url, demo_dir):
    """More orders than the count reads: "of 10,000+" and no last page; Next and Previous
    step from the rows shown, and the page number goes into the URL."""
    assert shop(demo_dir, "SELECT count(*) FROM orders")[0][0] > 10_000
    open_orders(page, app_url, "/orders")
    assert rows_caption(page) == "Rows 1–20 of 10,000+ · page 1"
    page.get_by_role("button", name="Next").click()
    wait_idle(page)
    expect(page.get_by_text("Rows 21–40 of 10,000+ · page 2")).to_be_visible(timeout=30_000)
    expect_url(page, has=("page=2",))
    page.get_by_role("button", name="Previous").click()
    wait_idle(page)
    expect(page.get_by_text("Rows 1–20 of 10,000+ · page 1")).to_be_visible(timeout=30_000)
    expect_url(page, lacks=("page=",))
    page.get_by_text("More filters and sort").click()
    wait_idle(page)
    # The options list may not open on a click made mid-redraw: try again.
    for _ in range(3):
        page.get_by_role("combobox", name="Sort by").click()
        try:
            page.get_by_role("option", name="Status").wait_for(timeout=5_000)
            break
        except PlaywrightError:
            page.keyboard.press("Escape")
    offered = [o.inner_text() for o in page.get_by_role("option").all()]
    assert offered == ["Ordered at", "Order id", "Amount", "Status"]
