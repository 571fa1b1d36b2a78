"""A dashboard view's report files, named for what they hold, ready to attach or download.

for a in dashboard_files(data):   # dashboard_2025-11-01_2026-10-31.xlsx, then .pdf
    st.download_button(..., a.content, file_name=a.filename, mime=a.mime)
"""

from __future__ import annotations

from lib.dashboard.model import DashboardData
from lib.export import PDF_MIME, XLSX_MIME
from lib.notify.model import Attachment
from lib.reports.pdf import ChartBuilder, dashboard_pdf
from lib.reports.xlsx import dashboard_xlsx


def dashboard_stem(data: DashboardData) -> str:
    """dashboard_<from>_<to>, with _seller-<id> when the view is one seller's."""
    f = data.filters
    stem = f"dashboard_{f.date_from.isoformat()}_{f.date_to.isoformat()}"
    return stem if f.seller_id is None else f"{stem}_seller-{int(f.seller_id)}"


def xlsx_file(stem: str, content: bytes) -> Attachment:
    return Attachment(f"{stem}.xlsx", XLSX_MIME, content)


def pdf_file(stem: str, content: bytes) -> Attachment:
    return Attachment(f"{stem}.pdf", PDF_MIME, content)


def dashboard_files(data: DashboardData, *, build: ChartBuilder | None = None) -> list[Attachment]:
    """[the XLSX workbook, the PDF] of this view."""
    stem = dashboard_stem(data)
    return [
        xlsx_file(stem, dashboard_xlsx(data)),
        pdf_file(stem, dashboard_pdf(data, build=build)),
    ]
