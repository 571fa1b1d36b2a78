"""Report files over a copy of the demo data: the dashboard's XLSX and PDF say what the view
holds (opened with openpyxl and pypdf, the PDF's first page drawn to PNG), and a seller's
statement adds up to what SQL says, for that seller only."""

from __future__ import annotations

import io
import time
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pypdf
import pypdfium2
import pytest

from lib.access.principal import Principal
from lib.config.settings import ROOT, load_settings
from lib.dashboard import data as dashboard
from lib.dashboard.filters import default_range
from lib.dashboard.model import CHARTS, DashboardData, Filters
from lib.errors import ActionDenied, ValidationFailed
from lib.reading.engine import Engine
from lib.reading.source_query import SourceQueries
from lib.reports import files, render, statement
from lib.reports.config import ReportsConfig
from lib.reports.pdf import latin
from tests.stack import copy_demo, shop, write_config

ADMIN = Principal("admin", "Admin", ("admin",))
ANALYST = Principal("analyst", "Analyst", ("analyst",))
SELLER1 = Principal("seller1", "Seller One", ("seller",), tenant=1)
ARTIFACTS = ROOT / "test-artifacts"
FEE = ReportsConfig(seller_fee_pct=10)


@pytest.fixture(scope="module")
def demo(seeded_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo(seeded_demo_dir, tmp_path_factory.mktemp("reports") / "demo")


@pytest.fixture(scope="module")
def engine(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    settings = load_settings(write_config(tmp_path_factory.mktemp("reports-config"), demo))
    eng = Engine(settings.sources, settings.queries_dir)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def queries(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> SourceQueries:
    """The statement's source queries, run on the shop's own database."""
    settings = load_settings(write_config(tmp_path_factory.mktemp("statement-config"), demo))
    return SourceQueries(settings.sources, settings.queries_dir)


@pytest.fixture(scope="module")
def view(engine: Engine) -> DashboardData:
    """The default view: the last 12 full months, every seller."""
    start, end = default_range(dashboard.latest_day(engine))
    return dashboard.load(engine, ANALYST, Filters(start, end))


@pytest.fixture(scope="module")
def report(view: DashboardData) -> dict[str, bytes]:
    started = time.perf_counter()
    attachments = files.dashboard_files(view)
    took = time.perf_counter() - started
    print(f"dashboard report files (xlsx + pdf): {took:.2f} s")
    return {a.filename.rsplit(".", 1)[1]: a.content for a in attachments}


def pdf_text(content: bytes, page: int = 0) -> str:
    return pypdf.PdfReader(io.BytesIO(content)).pages[page].extract_text()


def test_files_are_named_for_the_view_they_hold(view):
    names = [a.filename for a in files.dashboard_files(view)]
    stem = f"dashboard_{view.filters.date_from}_{view.filters.date_to}"
    assert names == [f"{stem}.xlsx", f"{stem}.pdf"]


def test_xlsx_has_a_summary_then_every_charts_data_with_the_views_figures(view, report):
    wb = openpyxl.load_workbook(io.BytesIO(report["xlsx"]))
    assert wb.sheetnames == ["Summary", *(CHARTS[k][:31] for k in view.charts)]
    ws = wb["Summary"]
    by_label = {r[0].value: r for r in ws.iter_rows() if r[0].value}
    for kpi in view.kpis:
        value = by_label[kpi.label][1].value
        assert value == pytest.approx(kpi.value), kpi.key
    seg = wb[CHARTS["revenue_by_segment"]]
    frame = view.charts["revenue_by_segment"]
    assert seg.max_row - 1 == len(frame)
    assert sum(seg.cell(r, 4).value for r in range(2, seg.max_row + 1)) == pytest.approx(
        frame["revenue_krw"].sum()
    )


def test_pdf_first_page_has_the_filters_freshness_and_every_kpi(view, report):
    text = pdf_text(report["pdf"])
    for label, words in render.filter_lines(view):
        assert label in text and latin(words) in text
    assert render.freshness(view.refreshed_at) in text
    for kpi in view.kpis:
        assert latin(kpi.label) in text
        assert render.number(kpi.value, kpi.unit) in text


def test_pdf_draws_each_chart_as_an_image_after_the_first_page(view, report):
    reader = pypdf.PdfReader(io.BytesIO(report["pdf"]))
    assert len(reader.pages) >= 2
    assert len(reader.pages[0].images) == 0
    images = sum(len(p.images) for p in reader.pages[1:])
    assert images == sum(1 for f in view.charts.values() if not f.empty)
    titles = "".join(p.extract_text() for p in reader.pages[1:])
    for key in view.charts:
        assert CHARTS[key] in titles


def test_pdf_first_page_drawn_to_png(report):
    ARTIFACTS.mkdir(exist_ok=True)
    doc = pypdfium2.PdfDocument(report["pdf"])
    try:
        image = doc[0].render(scale=2).to_pil()
        image.save(ARTIFACTS / "report-first-page.png")
    finally:
        doc.close()
    assert image.size[0] > 1000
    assert image.convert("L").getextrema()[0] < 50  # there is dark text on it


def test_a_sellers_report_names_the_seller_and_leaves_out_spend(engine, view):
    own = dashboard.load(engine, SELLER1, view.filters)
    xlsx, pdf = files.dashboard_files(own)
    assert xlsx.filename.endswith("_seller-1.xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert CHARTS["revenue_vs_spend"] not in wb.sheetnames
    assert wb["Summary"]["A1"].value == "Dashboard report: Seoul Style Co. (#1)"
    assert "Seoul Style Co. (#1)" in pdf_text(pdf.content)


# --- the seller statement --------------------------------------------------------------------

MONTH = date(2026, 9, 1)


def expected(demo: Path, seller_id: int, month: date) -> dict[str, int]:
    """The statement's figures computed straight from shop.sqlite."""
    rows = shop(
        demo,
        """
        SELECT o.status, o.amount, p.amount - p.balance_amount, p.balance_amount
        FROM orders o JOIN payments p ON p.order_id = o.id
        WHERE o.seller_id = ? AND o.ordered_at >= ? AND o.ordered_at < ?
        """,
        seller_id,
        month.isoformat(),
        statement.next_month(month).isoformat(),
    )
    kept = [bal if st in ("approved", "partially_refunded") else 0 for st, _, _, bal in rows]
    fees = [int((Decimal(k) / 10).quantize(Decimal(1), rounding=ROUND_HALF_UP)) for k in kept]
    return {
        "orders": len(rows),
        "gmv": sum(a for st, a, _, _ in rows if st != "rejected"),
        "refunded": sum(r for st, _, r, _ in rows if st in ("refunded", "partially_refunded")),
        "revenue_kept": sum(kept),
        "fee": sum(fees),
        "payout": sum(kept) - sum(fees),
    }


def test_statement_figures_equal_direct_sql(queries, demo):
    s = statement.load_statement(queries, SELLER1, 1, MONTH, config=FEE)
    want = expected(demo, 1, MONTH)
    got = {k: getattr(s, k) for k in want}
    assert got == want
    assert want["orders"] > 100 and want["refunded"] > 0
    assert len(s.lines) == want["orders"]
    assert int(s.lines["fee"].sum()) == s.fee
    assert list(s.lines.columns) == list(statement.LINE_COLUMNS)  # no customer columns


def test_statement_files_open_and_state_the_payout(queries):
    s = statement.load_statement(queries, ADMIN, 2, MONTH, config=FEE)
    started = time.perf_counter()
    xlsx, pdf = statement.statement_files(s)
    print(f"statement files ({len(s.lines)} lines): {time.perf_counter() - started:.2f} s")
    assert [xlsx.filename, pdf.filename] == [
        "statement_seller-2_2026-09.xlsx",
        "statement_seller-2_2026-09.pdf",
    ]
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    values = {r[0].value: r[1].value for r in wb["Statement"].iter_rows() if r[0].value}
    assert values["Payout"] == s.payout and values["Orders"] == s.orders
    assert wb["Orders"].max_row - 1 == len(s.lines)
    first = pdf_text(pdf.content)
    assert "Hangang Electronics (#2)" in first and "September 2026" in first
    assert f"KRW {s.payout:,}" in first and f"KRW {s.fee:,}" in first


def test_statement_months_are_those_with_orders_newest_first(queries, demo):
    months = statement.seller_months(queries, SELLER1, 1)
    [(first, last)] = shop(
        demo, "SELECT min(ordered_at), max(ordered_at) FROM orders WHERE seller_id = 1"
    )
    assert months[0] == date.fromisoformat(last[:8] + "01")
    assert months[-1] == date.fromisoformat(first[:8] + "01")
    assert months == sorted(months, reverse=True)


def test_a_seller_may_not_read_another_sellers_statement(queries):
    with pytest.raises(ActionDenied):
        statement.load_statement(queries, SELLER1, 2, MONTH, config=FEE)
    with pytest.raises(ActionDenied):
        statement.seller_months(queries, SELLER1, 2)


def test_staff_without_the_seller_portal_may_not_read_statements(queries):
    for who in (ANALYST, Principal("op", "Operator", ("operator",)), None):
        with pytest.raises(ActionDenied):
            statement.load_statement(queries, who, 1, MONTH, config=FEE)


def test_admin_asking_for_a_seller_that_does_not_exist_is_told_so(queries):
    with pytest.raises(ValidationFailed, match="no seller #99"):
        statement.load_statement(queries, ADMIN, 99, MONTH, config=FEE)
