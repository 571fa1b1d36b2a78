"""What the download buttons hand out: spreadsheet formulas in text cells are neutralised."""

from __future__ import annotations

import io
import shutil
import sqlite3
import uuid
from pathlib import Path

import openpyxl
import pypdf
import pytest

from lib.actions import context
from lib.audit import AuditEntry
from tests.pages.helpers import open_page, rows_of, sign_in

pytestmark = pytest.mark.pages

FORMULA = '=HYPERLINK("http://evil.example","open me")'


@pytest.fixture
def demo_dir(demo_dir: Path, tmp_path: Path) -> Path:
    """A copy of the demo data in which a customer segment is a formula."""
    copy = tmp_path / "demo"
    shutil.copytree(demo_dir, copy)
    con = sqlite3.connect(copy / "crm.sqlite")
    with con:
        con.execute("UPDATE customers SET segment = ? WHERE segment = 'vip'", (FORMULA,))
    con.close()
    return copy


def test_the_audit_csv_neutralises_a_formula_in_a_reason(app, downloads):
    actor = f"tester-{uuid.uuid4().hex[:8]}"
    at = app()
    at.query_params["actor"] = actor
    sign_in(at, "auditor", "auditor-demo")
    context.current().audit.append(
        AuditEntry(actor, ("operator",), "order.reject", "order", "7", "ok", reason=FORMULA)
    )
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception
    header, *rows = rows_of(downloads["audit_log.csv"])
    assert len(rows) == 1
    assert rows[0][header.index("reason")] == "'" + FORMULA
    assert rows[0][header.index("actor")] == actor


def test_the_dashboard_downloads_neutralise_text_and_keep_numbers(app, downloads):
    open_page(
        app, "app_pages/dashboard.py", "analyst", **{"from": "2026-01-01", "to": "2026-03-31"}
    )
    # A chart's data (its "Data" button): the segment as text, the numbers as numbers.
    header, *rows = rows_of(downloads["revenue_by_segment_2026-01-01_2026-03-31.csv"])
    segments = {row[header.index("segment")] for row in rows}
    assert "'" + FORMULA in segments and FORMULA not in segments
    assert all(int(row[header.index("orders")]) > 0 for row in rows)
    # The report workbook: the same text neutralised in its sheets, the amounts numbers.
    book = openpyxl.load_workbook(io.BytesIO(downloads["dashboard_2026-01-01_2026-03-31.xlsx"]))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert "'" + FORMULA in texts and FORMULA not in texts
    assert not any(c.data_type == "f" for c in cells)
    assert any(isinstance(c.value, int | float) and c.value > 1_000_000 for c in cells)
    # The PDF report opens and names the view.
    pdf = pypdf.PdfReader(io.BytesIO(downloads["dashboard_2026-01-01_2026-03-31.pdf"]))
    assert "2026-01-01" in pdf.pages[0].extract_text()
