"""Spreadsheets › Combine in a real browser: an analyst opens a shared link to a combined view
before signing in; after sign-in the view, its chart and the months without a match are
there, a chart change is written back to the link, which opens the same on a phone;
screenshots at 1280 and 390 px."""

import pytest

from tests.e2e.conftest import expect_url, log_in, wait_idle

pytestmark = pytest.mark.e2e

SHARED = "/spreadsheets?section=combine&view=marketing&from=2025-01-01&to=2026-11-01"


def test_an_analyst_opens_a_shared_combine_view_through_sign_in(page, browser, app_url, artifacts):
    log_in(page, app_url, "analyst", "analyst-demo", path=SHARED)
    page.get_by_role("heading", name="Spreadsheets").wait_for(timeout=30_000)
    chart = page.get_by_test_id("stVegaLiteChart")
    chart.first.wait_for(timeout=30_000)
    wait_idle(page)
    for part in ("section=combine", "view=marketing", "from=2025-01-01", "to=2026-11-01"):
        assert part in page.url, page.url
    # The months of new customers the spend sheet has no row for, named above the chart.
    note = page.get_by_text(
        "4 months in customers and orders have no match in marketing_spend (CSV): "
        "2025-01, 2025-02, 2025-03, 2025-04"
    )
    note.wait_for(timeout=30_000)
    assert note.bounding_box()["y"] < chart.first.bounding_box()["y"]
    assert page.get_by_test_id("stDataFrame").count() == 1
    chart.first.locator("canvas, svg").first.wait_for(timeout=30_000)  # Vega drew it
    page.set_viewport_size({"width": 1280, "height": 1700})  # the page scrolls inside its app
    wait_idle(page)
    page.screenshot(path=str(artifacts / "spreadsheets-combine-1280.png"), full_page=True)

    # A chart change goes back into the link for the next teammate.
    choices = page.get_by_test_id("stButtonGroup").filter(has_text="Pie")
    choices.get_by_text("Line", exact=True).click()
    wait_idle(page)
    expect_url(page, has=("chart=line",))
    expect_url(page, has=("view=marketing",))

    # The link as it now stands, opened by a teammate on a phone (a new browser session).
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        small = phone.new_page()
        log_in(small, app_url, "analyst", "analyst-demo", path=page.url.removeprefix(app_url))
        small.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for(
            timeout=30_000
        )
        wait_idle(small)
        expect_url(small, has=("chart=line", "view=marketing"))
        small.get_by_text("4 months in customers and orders have no match").wait_for()
        small.set_viewport_size({"width": 390, "height": 2400})  # the app scrolls inside
        wait_idle(small)
        small.screenshot(path=str(artifacts / "spreadsheets-combine-390.png"), full_page=True)
    finally:
        phone.close()
