"""The dashboard's XLSX report: typed numbers, a Summary that says what the view is, text
that cannot run as a formula; the [reports] settings."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import openpyxl
import pandas as pd
import pytest

from lib.dashboard.model import DashboardData, Filters, Kpi
from lib.errors import ConfigError
from lib.reports import files, render
from lib.reports.config import ReportsConfig
from lib.reports.xlsx import dashboard_xlsx

HOSTILE = '=HYPERLINK("http://evil","x")'


def sample(seller: int | None = 2) -> DashboardData:
    """A hand-made view: every KPI unit, every chart shape, one hostile reason text."""
    filters = Filters(date(2025, 11, 1), date(2026, 10, 31), "month", seller, "vip", None)
    months = pd.date_range("2025-11-01", periods=12, freq="MS")
    kpis = (
        Kpi("gmv", "GMV", 1_234_567_000.0, 1_000_000_000.0, "krw"),
        Kpi("orders", "Orders", 4321.0, 4000.0, "count"),
        Kpi("refund_rate", "Refund rate", 0.0523, 0.05, "percent"),
        Kpi("revenue_per_spend", "Revenue per won of spend", 3.21, 0.0, "ratio"),
        Kpi("backlog", "Approval backlog", 57.0, None, "count", note="oldest waiting 3 d 4 h"),
    )
    charts = {
        "revenue_by_segment": pd.DataFrame(
            {
                "period": list(months),
                "segment": ["vip", "regular", "new"] * 4,
                "orders": range(100, 112),
                "revenue_krw": [10_000_000 + 1000 * i for i in range(12)],
            }
        ),
        "share_by_segment": pd.DataFrame(
            {"segment": ["vip", "regular"], "revenue_krw": [750, 250], "share": [0.75, 0.25]}
        ),
        "refunds_by_reason": pd.DataFrame(
            {
                "category": ["damaged/defective", HOSTILE],
                "refunds": [3, 1],
                "refunded_krw": [9000, 100],
            }
        ),
    }
    return DashboardData(
        filters=filters,
        kpis=kpis,
        charts=charts,
        refreshed_at=datetime(2026, 11, 30, 9, 15, tzinfo=UTC),
        sources=("shop",),
        tenant=seller,
        labels={"seller": "Hangang Electronics"} if seller else {},
    )


def workbook(data: DashboardData) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(dashboard_xlsx(data)))


def summary_values(ws) -> dict[str, object]:
    """Column A label -> column B value of the Summary sheet."""
    return {r[0].value: r[1].value for r in ws.iter_rows(min_row=2) if r[0].value}


def test_workbook_has_summary_first_then_one_sheet_per_chart():
    wb = workbook(sample())
    assert wb.sheetnames == [
        "Summary",
        "Revenue by period and segment",
        "Share by segment",
        "Refunds by reason",
    ]


def test_summary_says_the_view_its_freshness_and_comparison_in_words():
    data = sample()
    ws = workbook(data)["Summary"]
    assert ws["A1"].value == "Dashboard report: Hangang Electronics (#2)"
    values = summary_values(ws)
    assert values["From"] == datetime(2025, 11, 1)
    assert ws["B3"].number_format == "yyyy-mm-dd"
    assert values["To"] == datetime(2026, 10, 31)
    assert values["Seller"] == "Hangang Electronics (#2)"
    assert values["Customer segment"] == "vip"
    assert values["Payment method"] == "All payment methods"
    assert values["Granularity"] == "Monthly"
    assert values["Compared with"] == "2024-11-01 to 2025-10-31 (365 days)"
    assert values["Data as of (UTC)"] == datetime(2026, 11, 30, 9, 15)


def test_summary_kpis_are_typed_numbers_equal_to_the_data():
    data = sample()
    ws = workbook(data)["Summary"]
    rows = {r[0].value: r for r in ws.iter_rows() if r[0].value in {k.label for k in data.kpis}}
    assert len(rows) == len(data.kpis)
    for kpi in data.kpis:
        label, value, previous, change, note = rows[kpi.label]
        assert value.value == pytest.approx(kpi.value)
        assert isinstance(value.value, int | float)
        assert (previous.value is None) == (kpi.previous is None)
        if kpi.previous is not None:
            assert previous.value == pytest.approx(kpi.previous)
        if kpi.change is None:
            assert change.value is None
        else:
            assert change.value == pytest.approx(kpi.change)
            assert change.number_format == "+0.0%;-0.0%;0.0%"
    assert rows["GMV"][1].number_format == '"₩"#,##0'
    assert rows["Refund rate"][1].number_format == "0.0%"
    assert rows["Orders"][1].number_format == "#,##0"
    assert rows["Approval backlog"][4].value == "oldest waiting 3 d 4 h"


def test_chart_sheets_hold_dates_as_dates_and_numbers_as_numbers():
    data = sample()
    ws = workbook(data)["Revenue by period and segment"]
    header = [c.value for c in ws[1]]
    assert header == ["Period", "Segment", "Orders", "Revenue (₩)"]
    first = ws[2]
    assert first[0].value == datetime(2025, 11, 1) and first[0].number_format == "yyyy-mm-dd"
    assert first[2].value == 100
    assert first[3].value == 10_000_000 and first[3].number_format == '"₩"#,##0'
    assert ws.max_row == 13
    share = workbook(data)["Share by segment"]
    assert share["C2"].value == 0.75 and share["C2"].number_format == "0.0%"


def test_a_text_cell_that_starts_a_formula_is_neutralised():
    ws = workbook(sample())["Refunds by reason"]
    reasons = [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)]
    assert reasons == ["damaged/defective", "'" + HOSTILE]
    assert all(ws.cell(r, 1).data_type == "s" for r in range(2, ws.max_row + 1))


def test_columns_are_wide_enough_for_their_values():
    ws = workbook(sample())["Summary"]
    assert ws.column_dimensions["A"].width >= len("Data as of (UTC)")
    assert ws.column_dimensions["B"].width >= len("2024-11-01 to 2025-10-31 (365 days)")


def test_all_sellers_view_says_so_and_file_names_carry_dates_and_seller():
    everyone = sample(seller=None)
    assert dict(render.filter_lines(everyone))["Seller"] == "All sellers"
    assert files.dashboard_stem(everyone) == "dashboard_2025-11-01_2026-10-31"
    assert files.dashboard_stem(sample(2)) == "dashboard_2025-11-01_2026-10-31_seller-2"


def test_report_numbers_read_as_people_write_them():
    assert render.number(1_234_567.0, "krw") == "KRW 1,234,567"
    assert render.number(0.0523, "percent") == "5.2%"
    assert render.number(None, "krw") == "-"
    assert render.change(Kpi("x", "X", 110.0, 100.0, "count")) == "+10.0%"
    assert render.change(Kpi("x", "X", 1.0, 0.0, "count")) == "-"


def test_reports_config_reads_the_shipped_values_and_refuses_bad_ones():
    cfg = ReportsConfig.of({"seller_fee_pct": 12.5, "tick_s": 30, "max_attempts": 3})
    assert (cfg.seller_fee_pct, cfg.tick_s, cfg.max_attempts) == (12.5, 30.0, 3)
    assert ReportsConfig.of({}).seller_fee_pct == 10
    for bad, key in (
        ({"seller_fee_pct": 101}, "seller_fee_pct"),
        ({"seller_fee_pct": -1}, "seller_fee_pct"),
        ({"seller_fee_pct": "10"}, "seller_fee_pct"),
        ({"tick_s": 0}, "tick_s"),
        ({"max_attempts": 1.5}, "max_attempts"),
        ({"fee": 1}, "fee"),
    ):
        with pytest.raises(ConfigError, match=key):
            ReportsConfig.of(bad)
