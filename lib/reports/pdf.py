"""The dashboard as a PDF: the view, its freshness and the KPIs on the first page, then the
charts as images (lib.dashboard.charts.build, rendered by render.chart_png).

Fonts: fpdf2's core Helvetica, embedded nowhere and present in every PDF reader, so a
clean machine (CI, a server without fonts-nanum or DejaVu) builds the same file. Core
fonts are latin-1 only: amounts read "KRW 1,234" (not ₩) and any other character outside
latin-1 (Hangul in a product name, say) prints as "?"; the XLSX keeps every character.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import altair as alt
import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from PIL import Image

from lib.dashboard.model import CHARTS, DashboardData
from lib.reports import render

ChartBuilder = Callable[[str, pd.DataFrame, str], alt.TopLevelMixin]
REPLACEMENTS = {"–": "-", "—": "-", "…": "...", "’": "'", "‘": "'", "·": "-"}
MARGIN = 15.0
SCALE = 2  # PNG pixels per CSS pixel: sharp in print
MM_PER_PX = 25.4 / 96
MAX_CHART_MM = 115.0  # two charts to a page
CHART_WIDTH = 560  # CSS pixels of a chart's plot when the page left it to its container
HEADINGS = FontFace(emphasis="BOLD", fill_color=(232, 238, 245))


def latin(text: object) -> str:
    """`text` in the core fonts' latin-1: a few common marks spelled out, anything else '?'."""
    out = re.sub("₩ ?(?=[0-9])", "KRW ", str(text)).replace("₩", "KRW")
    for mark, words in REPLACEMENTS.items():
        out = out.replace(mark, words)
    return out.encode("latin-1", "replace").decode("latin-1")


class ReportPdf(FPDF):
    """A4 portrait, Helvetica, a footer with the report's name and the page number."""

    def __init__(self, name: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_name = latin(name)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN + 5)
        self.set_title(self.report_name)
        self.set_creator("Backoffice")
        self.add_page()

    @property
    def width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def footer(self) -> None:
        self.set_y(-MARGIN)
        self.set_font("Helvetica", size=8)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.report_name} - page {self.page_no()}", align="C")
        self.set_text_color(0)

    def heading(self, text: str, size: int = 16) -> None:
        self.set_font("Helvetica", "B", size)
        self.multi_cell(0, size * 0.5, latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def note(self, text: str) -> None:
        self.set_font("Helvetica", size=9)
        self.set_text_color(90)
        self.multi_cell(0, 5, latin(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)

    def pairs(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label: value lines (the filters, a statement's header)."""
        for label, value in rows:
            self.set_font("Helvetica", "B", 10)
            self.cell(45, 6, latin(label))
            self.set_font("Helvetica", size=10)
            self.multi_cell(0, 6, latin(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def grid(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float],
        align: Sequence[str],
        size: int = 10,
    ) -> None:
        """A table with a shaded header row repeated on each page it runs over."""
        self.set_font("Helvetica", size=size)
        with self.table(
            col_widths=tuple(widths),
            width=self.width,
            text_align=tuple(align),
            line_height=size * 0.55,
            headings_style=HEADINGS,
            repeat_headings=1,
            padding=1,
        ) as table:
            head = table.row()
            for text in headings:
                head.cell(latin(text))
            for values in rows:
                row = table.row()
                for text in values:
                    row.cell(latin(text))
        self.ln(4)

    def picture(self, title: str, png: bytes | None, scale: float = SCALE) -> None:
        """A chart's title and image at its own size (CSS pixels at 96 dpi), shrunk to fit
        the text width and MAX_CHART_MM high, centred; on a new page if it does not fit
        below what is there; "No data" instead of an empty image."""
        width = height = 0.0
        if png is not None:
            with Image.open(io.BytesIO(png)) as img:
                px_w, px_h = img.size
            width, height = px_w / scale * MM_PER_PX, px_h / scale * MM_PER_PX
            shrink = min(1.0, self.width / width, MAX_CHART_MM / height)
            width, height = width * shrink, height * shrink
        if self.get_y() + 10 + height > self.h - self.b_margin:
            self.add_page()
        self.set_font("Helvetica", "B", 12)
        self.cell(0, 8, latin(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if png is None:
            self.note("No data for this view.")
        else:
            x = self.l_margin + (self.width - width) / 2
            self.image(io.BytesIO(png), x=x, w=width, h=height, alt_text=latin(title))
        self.ln(6)

    def bytes(self) -> bytes:
        return bytes(self.output())


def default_builder() -> ChartBuilder:
    from lib.dashboard import charts  # the page's own charts: the PDF draws what it shows

    return lambda key, frame, granularity: charts.build(key, frame, granularity)


def sized(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """The chart with a fixed width where it has none (the page's fill their container);
    a pie keeps its own size, its legend beside it."""
    mark = getattr(chart, "mark", None)
    if (mark if isinstance(mark, str) else getattr(mark, "type", None)) == "arc":
        return chart
    if isinstance(chart, alt.Chart) and chart.width in (alt.Undefined, "container"):
        return chart.properties(width=CHART_WIDTH)
    return chart


def kpi_rows(data: DashboardData) -> list[list[str]]:
    rows = []
    for kpi in data.kpis:
        label = f"{kpi.label} ({kpi.note})" if kpi.note else kpi.label
        rows.append(
            [
                label,
                render.number(kpi.value, kpi.unit),
                render.number(kpi.previous, kpi.unit),
                render.change(kpi),
            ]
        )
    return rows


def dashboard_pdf(data: DashboardData, *, build: ChartBuilder | None = None) -> bytes:
    """First page: title, the filters in words, the data's freshness, the KPI table (value,
    previous period, change). Then each chart of data.charts drawn as the page draws it."""
    build = build or default_builder()
    pdf = ReportPdf(render.title(data))
    pdf.heading(render.title(data))
    generated = datetime.now(UTC)
    pdf.note(f"Generated {render.freshness(generated)}")
    pdf.ln(2)
    pdf.pairs([*render.filter_lines(data), ("Data as of", render.freshness(data.refreshed_at))])
    pdf.heading("Key figures", size=13)
    pdf.grid(
        ["KPI", "Value", "Previous period", "Change"],
        kpi_rows(data),
        widths=(70, 42, 42, 26),
        align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    first = True
    for key, frame in data.charts.items():
        if first:
            pdf.add_page()  # the first page is the summary; charts start on the next
            first = False
        png = None
        if not frame.empty:
            png = render.chart_png(sized(build(key, frame, data.filters.granularity)), SCALE)
        pdf.picture(CHARTS.get(key, key), png)
    return pdf.bytes()
