"""The analyst dashboard in a real browser.

1. An analyst opens /dashboard on the default view (the last 12 full months, monthly),
   changes the range and the granularity: the URL follows, a reload keeps the view, and a
   teammate pasting the URL into another browser sees the same view (dates, granularity,
   figures).
2. The analyst downloads both reports: the XLSX (openpyxl) and the PDF (pypdf) hold the view's
   range and the Orders figure the card shows; the PDF's first page rendered to
   test-artifacts/report-first-page.png (pypdfium2). Screenshots dashboard-1280/-390.png.
3. The analyst (Orders read-only for them) clicks a bar of "Revenue by period and segment" on
   one seller's view and lands on /orders with that month's from/to and the seller in the
   URL, the table holding exactly those orders (counted straight from the shop database) and
   no action button.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from lib.dashboard.filters import default_range
from tests.e2e.conftest import expect_url, log_in, wait_idle
from tests.stack import shop

pytestmark = pytest.mark.e2e

WAIT_MS = 60_000
REVENUE = "Revenue by period and segment"


def default_view(demo_dir: Path) -> tuple[date, date]:
    """The range the dashboard opens on, from the demo data's latest order."""
    ((latest,),) = shop(demo_dir, "SELECT max(ordered_at) FROM orders")
    return default_range(date.fromisoformat(str(latest)[:10]))


def open_dashboard(page: Page, app_url: str, user: str, path: str = "/dashboard") -> None:
    log_in(page, app_url, user, f"{user}-demo", path=path)
    page.get_by_role("heading", name="Dashboard").wait_for(timeout=WAIT_MS)
    page.get_by_test_id("stMetric").first.wait_for(timeout=WAIT_MS)
    revenue_chart(page).wait_for(timeout=WAIT_MS)
    wait_idle(page)


def card(page: Page, label: str) -> str:
    """A KPI card's value as shown (its full text is in the card's title when cut short)."""
    cards = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return cards.first.get_by_test_id("stMetricValue").inner_text()


def shown_dates(page: Page) -> list[str]:
    """From and To as the date inputs show them: [YYYY-MM-DD, YYYY-MM-DD]."""
    parts = [e.inner_text() for e in page.get_by_role("spinbutton").all()]
    return ["-".join(parts[0:3]), "-".join(parts[3:6])]


def revenue_chart(page: Page):
    """The chart of revenue by period and segment: the one whose bars name a segment."""
    segment_bars = page.locator("[aria-roledescription=bar][aria-label*='Segment: ']")
    return page.get_by_test_id("stVegaLiteChart").filter(has=segment_bars).first


def bar_periods(page: Page) -> list[str]:
    """The periods the revenue chart has bars for (from each bar's accessible label,
    "Month: Nov 2025; Revenue kept: …")."""
    bars = revenue_chart(page).locator("[aria-roledescription=bar]")
    labels = [bars.nth(i).get_attribute("aria-label") or "" for i in range(bars.count())]
    return sorted({label.split(";")[0] for label in labels})


def set_date(page: Page, which: str, day: date) -> None:
    """Type a date into the From or To input (year, month, day segments), then click away:
    the input takes the date when it loses focus (Tab only moves to its calendar button)."""
    for part, text in (("year", f"{day:%Y}"), ("month", f"{day:%m}"), ("day", f"{day:%d}")):
        page.get_by_role("spinbutton", name=f"{part}, {which}").click()
        page.keyboard.type(text)
    page.get_by_role("heading", name="Dashboard").click()


def choose(page: Page, combobox: str, option: str) -> None:
    """Pick an option of a selectbox; its list may not open on a click made mid-redraw."""
    from playwright.sync_api import Error

    box = page.get_by_role("combobox", name=combobox)
    for _ in range(3):
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            return
        except Error:
            page.keyboard.press("Escape")
    pytest.fail(f"option {option!r} of {combobox} never showed")


def view_of(page: Page) -> tuple[list[str], str, str, str]:
    return (
        shown_dates(page),
        page.get_by_role("combobox", name="Granularity").input_value(),
        card(page, "GMV"),
        card(page, "Orders"),
    )


def screenshot(page: Page, path: Path, width: int) -> None:
    """The whole page at `width` px (Streamlit scrolls inside its own frame, so the window is
    made as tall as the content)."""
    page.set_viewport_size({"width": width, "height": 900})
    wait_idle(page)
    height = page.evaluate(
        "() => document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight"
    )
    page.set_viewport_size({"width": width, "height": int(height) + 120})
    wait_idle(page)
    page.wait_for_timeout(800)  # the charts redraw at the new width
    page.screenshot(path=str(path))


def test_an_analyst_changes_the_view_and_a_teammate_opens_the_same_link(
    page: Page, browser, app_url: str, demo_dir: Path
) -> None:
    first, last = default_view(demo_dir)
    open_dashboard(page, app_url, "analyst")
    expected = f"from={first}&to={last}&granularity=month"
    assert page.url.endswith(f"/dashboard?{expected}"), page.url
    assert shown_dates(page) == [str(first), str(last)]
    assert len(bar_periods(page)) == 12  # a bar (stack) per month
    default_figures = (card(page, "GMV"), card(page, "Orders"))

    start = date(last.year, last.month, 1) - timedelta(days=1)  # the last two months
    start = date(start.year, start.month, 1)
    set_date(page, "From", start)
    expect_url(page, has=(f"from={start}&",), timeout_ms=WAIT_MS)
    choose(page, "Granularity", "Week")
    expect_url(page, has=("granularity=week",), timeout_ms=WAIT_MS)
    wait_idle(page)
    expect(page.get_by_text("Week starting").first).to_be_visible(timeout=WAIT_MS)
    periods = bar_periods(page)
    assert all(p.startswith("Week starting: ") for p in periods), periods
    assert 8 <= len(periods) <= 10, periods  # two months of weeks
    view = view_of(page)
    assert view[0] == [str(start), str(last)] and view[1] == "Week"
    assert (view[2], view[3]) != default_figures
    url = page.url
    assert f"from={start}" in url and f"to={last}" in url and "granularity=week" in url

    page.reload()
    page.get_by_test_id("stMetric").first.wait_for(timeout=WAIT_MS)
    revenue_chart(page).wait_for(timeout=WAIT_MS)
    wait_idle(page)
    assert page.url == url
    assert view_of(page) == view

    teammate = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        other = teammate.new_page()
        open_dashboard(other, app_url, "analyst", path=url.removeprefix(app_url))
        assert other.url == url
        assert view_of(other) == view
        assert bar_periods(other) == periods
    finally:
        teammate.close()


def test_an_analyst_downloads_the_view_as_xlsx_and_pdf(
    page: Page, app_url: str, demo_dir: Path, artifacts: Path
) -> None:
    import openpyxl
    import pypdfium2
    from pypdf import PdfReader

    first, last = default_view(demo_dir)
    open_dashboard(page, app_url, "analyst")
    orders = card(page, "Orders")
    assert re.fullmatch(r"[\d,]+", orders), orders
    expect(page.get_by_text("Click a bar to open that period's orders.")).to_have_count(1)

    with page.expect_download(timeout=WAIT_MS) as xlsx_download:
        page.get_by_role("button", name="Download XLSX").click()
    assert xlsx_download.value.suggested_filename == f"dashboard_{first}_{last}.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(Path(xlsx_download.value.path()).read_bytes()))
    assert book.sheetnames[0] == "Summary" and REVENUE in book.sheetnames
    summary = {row[0]: row[1:] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert summary["From"][0].date() == first and summary["To"][0].date() == last
    assert summary["Orders"][0] == int(orders.replace(",", ""))
    assert book[REVENUE].max_row == 1 + len(
        {(r[0], r[1]) for r in book[REVENUE].iter_rows(min_row=2, values_only=True)}
    )

    with page.expect_download(timeout=WAIT_MS) as pdf_download:
        page.get_by_role("button", name="Download PDF").click()
    assert pdf_download.value.suggested_filename == f"dashboard_{first}_{last}.pdf"
    pdf_path = Path(pdf_download.value.path())
    reader = PdfReader(pdf_path)
    text = reader.pages[0].extract_text()
    assert len(reader.pages) >= 2  # the key figures, then the charts
    assert orders in text and "Key figures" in text, text[:500]
    assert any(page_.images for page_ in reader.pages[1:])  # the charts are drawn
    document = pypdfium2.PdfDocument(pdf_path)
    try:
        document[0].render(scale=1.5).to_pil().save(artifacts / "report-first-page.png")
    finally:
        document.close()

    screenshot(page, artifacts / "dashboard-1280.png", 1280)
    screenshot(page, artifacts / "dashboard-390.png", 390)


def test_an_analyst_clicks_a_month_and_lands_on_its_orders_read_only(
    page: Page, app_url: str, demo_dir: Path
) -> None:
    seller = 2
    open_dashboard(page, app_url, "analyst", path=f"/dashboard?seller={seller}")
    page.get_by_text("Click a bar to open that period's orders.").wait_for(timeout=WAIT_MS)
    month = bar_periods(page)[0]  # "Month: Apr 2026" (any month of the view will do)
    # Its biggest part (the regular customers'): big enough to hit.
    bar = revenue_chart(page).locator(
        f"[aria-roledescription=bar][aria-label^='{month};'][aria-label*='Segment: regular;']"
    )
    bar.first.click()
    expect_url(page, has=("/orders?",), timeout_ms=WAIT_MS)
    page.get_by_role("heading", name="Orders & payments").wait_for(timeout=WAIT_MS)
    caption = page.get_by_text(re.compile(r"^Rows .* of "))
    caption.wait_for(timeout=WAIT_MS)
    wait_idle(page)
    found = re.search(r"from=(\d{4}-\d\d-\d\d)&to=(\d{4}-\d\d-\d\d)&seller=(\d+)$", page.url)
    assert found, page.url
    start, end = date.fromisoformat(found[1]), date.fromisoformat(found[2])
    assert int(found[3]) == seller
    assert month == f"Month: {start:%b %Y}"
    assert start.day == 1 and (end + timedelta(days=1)).day == 1 and start.month == end.month
    ((expected,),) = shop(
        demo_dir,
        "SELECT count(*) FROM orders WHERE seller_id = ? AND ordered_at >= ? AND ordered_at < ?",
        seller,
        str(start),
        str(end + timedelta(days=1)),
    )
    assert expected > 0
    assert caption.inner_text().split(" of ")[1].startswith(f"{expected:,} ")
    for action in ("Approve", "Reject…", "Refund…", "Reconcile"):  # read-only for analysts
        expect(page.get_by_role("button", name=action)).to_have_count(0)
    # The Orders page's own filters say the same.
    assert page.get_by_role("spinbutton", name="month, From").inner_text() == f"{start.month:02}"
