"""Report text outside the PDF core fonts' latin-1 (Hangul, ₩) and hostile text in a
statement: the files still build, say what they can, and the XLSX keeps every character."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

import openpyxl
import pandas as pd
import pypdf

from lib.reports import statement
from lib.reports.pdf import dashboard_pdf, latin
from lib.ui.seller_statement import default_month
from tests.unit.test_reports_xlsx import sample

HOSTILE = '=HYPERLINK("http://evil","x")'


def first_page(content: bytes) -> str:
    return pypdf.PdfReader(io.BytesIO(content)).pages[0].extract_text()


def test_text_outside_latin1_is_spelled_or_replaced_not_an_error():
    assert latin("Revenue per ₩ spent") == "Revenue per KRW spent"
    assert latin("₩1,000") == "KRW 1,000"
    assert latin("김치 2kg – fresh") == "?? 2kg - fresh"


def test_dashboard_pdf_with_a_hangul_seller_name_builds_and_lists_the_kpis():
    data = replace(sample(), charts={}, labels={"seller": "제주 마켓"})
    text = first_page(dashboard_pdf(data, build=lambda *a: None))
    assert "Dashboard report: ?? ?? (#2)" in text
    assert "KRW 1,234,567,000" in text and "+23.5%" in text
    assert "oldest waiting 3 d 4 h" in text


def hand_statement() -> statement.Statement:
    lines = pd.DataFrame(
        {
            "order_id": [7, 8],
            "ordered_at": [datetime(2026, 10, 2, 9, 30), datetime(2026, 10, 3, 18, 0)],
            "product": ["김치 2kg", HOSTILE],
            "quantity": [1, 2],
            "amount": [30_000, 20_000],
            "status": ["approved", "partially_refunded"],
            "refunded": [0, 5_000],
            "kept": [30_000, 15_000],
            "fee": [3_000, 1_500],
        }
    )
    return statement.Statement(
        seller_id=3,
        seller_name="Jeju Market",
        month=date(2026, 10, 1),
        fee_pct=10,
        orders=2,
        gmv=50_000,
        refunded=5_000,
        revenue_kept=45_000,
        fee=4_500,
        payout=40_500,
        load_lines=lambda: lines,
        generated_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
    )


def test_statement_xlsx_keeps_hangul_and_neutralises_a_formula_product():
    s = hand_statement()
    wb = openpyxl.load_workbook(io.BytesIO(statement.statement_xlsx(s)))
    orders = wb["Orders"]
    assert [c.value for c in orders[1]][:3] == ["Order", "Ordered at", "Product"]
    assert [orders.cell(r, 3).value for r in (2, 3)] == ["김치 2kg", "'" + HOSTILE]
    assert orders["B2"].value == datetime(2026, 10, 2, 9, 30)
    assert orders["I3"].value == 1_500 and orders["I3"].number_format == '"₩"#,##0'
    figures = {r[0].value: r[1].value for r in wb["Statement"].iter_rows() if r[0].value}
    assert figures["Payout"] == 40_500 and figures["Platform fee (10% of kept)"] == 4_500
    assert figures["Month"] == datetime(2026, 10, 1)


def test_statement_pdf_states_the_figures_in_krw():
    text = first_page(statement.statement_pdf(hand_statement()))
    assert "Seller statement: Jeju Market (#3), October 2026" in text
    for figure in ("KRW 50,000", "KRW 5,000", "KRW 45,000", "KRW 4,500", "KRW 40,500"):
        assert figure in text
    assert "?? 2kg" in text


def test_fee_is_rounded_half_up_to_the_won():
    assert statement.fee_of(12_345, 10) == 1_235
    assert statement.fee_of(12_344, 10) == 1_234
    assert statement.fee_of(10_000, 12.5) == 1_250
    assert statement.fee_of(0, 10) == 0


def test_the_default_month_is_the_newest_finished_one():
    months = [date(2026, 11, 1), date(2026, 10, 1), date(2026, 9, 1)]
    assert default_month(months, today=date(2026, 11, 30)) == 1
    assert default_month(months, today=date(2026, 12, 1)) == 0
    assert default_month([date(2026, 11, 1)], today=date(2026, 11, 5)) == 0
