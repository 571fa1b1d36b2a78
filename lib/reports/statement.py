"""A seller's monthly statement: what it sold in a month, what was refunded, what it keeps,
the platform's fee and the payout; with the order lines (no customer data).

    s = load_statement(queries, principal, seller_id=1, month=date(2026, 10, 1))
    s.payout, s.lines            # figures; one row per order placed in the month (read then)
    statement_files(s)           # [statement_seller-1_2026-10.xlsx, ….pdf]

Figures (orders placed in the month, by ordered_at):
- orders: every order, any status; gmv: amount of orders not rejected;
- refunded: amount less the payment's balance of refunded and partially refunded orders;
- revenue_kept: the payment's balance of approved and partially refunded orders (pending
  orders are not settled yet and count on no statement until approved);
- fee: [reports] seller_fee_pct of each line's kept amount, rounded half up to the won,
  summed (so the lines add up to the total); payout = revenue_kept - fee.

Read from the live shop tables in the shop's own database (source queries, `queries`:
lib.reading.source_query), not the dashboard's snapshots: money is paid on this, so a refund
made a minute ago must be on it. One seller's month is one range of
idx_orders_seller_ordered_at; the month picker walks back from the latest order one index
probe a month, never reading every order the seller had.

Access is decided here, server side: a seller reads its own tenant only; staff who may open
the Seller portal (admin) read any seller; anyone else is refused (ActionDenied).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

import pandas as pd
from openpyxl import Workbook

from lib.access import policy
from lib.access.principal import Principal
from lib.dates import month_end, month_start, next_month
from lib.errors import ActionDenied, ValidationFailed
from lib.export import neutralise
from lib.notify.model import Attachment
from lib.reading.source_query import SourceQueries
from lib.reports import render
from lib.reports.config import ReportsConfig
from lib.reports.files import pdf_file, xlsx_file
from lib.reports.pdf import ReportPdf
from lib.reports.xlsx import (
    COUNT,
    DATETIME,
    HEAD_FONT,
    KRW,
    TITLE_FONT,
    cell_value,
    fit_columns,
    write_table,
)

MAX_MONTHS = 120  # the month picker goes back ten years at most
PAGE = "seller"  # staff who may open this page may read any seller's statement
LINE_COLUMNS: dict[str, tuple[str, str | None]] = {
    "order_id": ("Order", "0"),
    "ordered_at": ("Ordered at", DATETIME),
    "product": ("Product", None),
    "quantity": ("Qty", COUNT),
    "amount": ("Amount (₩)", KRW),
    "status": ("Status", None),
    "refunded": ("Refunded (₩)", KRW),
    "kept": ("Kept (₩)", KRW),
    "fee": ("Fee (₩)", KRW),
}


@dataclass(frozen=True)
class Statement:
    seller_id: int
    seller_name: str
    month: date  # its first day
    fee_pct: float
    orders: int
    gmv: int
    refunded: int
    revenue_kept: int
    fee: int
    payout: int
    generated_at: datetime
    # LINE_COLUMNS, one row per order placed in the month: read when a file is made (a big
    # seller's month is tens of thousands of rows; the figures come from a summary)
    load_lines: Callable[[], pd.DataFrame] = field(repr=False, compare=False)

    @cached_property
    def lines(self) -> pd.DataFrame:
        return self.load_lines()

    @property
    def month_words(self) -> str:
        return f"{self.month:%B %Y}"

    def figures(self) -> list[tuple[str, int, str]]:
        """(label, value, unit) of the summary, in the order a statement lists them."""
        return [
            ("Orders", self.orders, "count"),
            ("GMV", self.gmv, "krw"),
            ("Refunded", self.refunded, "krw"),
            ("Revenue kept", self.revenue_kept, "krw"),
            (f"Platform fee ({self.fee_pct:g}% of kept)", self.fee, "krw"),
            ("Payout", self.payout, "krw"),
        ]


def fee_of(kept: int, pct: float) -> int:
    """pct % of kept, rounded half up to the won."""
    exact = Decimal(int(kept)) * Decimal(str(pct)) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_access(principal: Principal | None, seller_id: int) -> None:
    """ActionDenied unless this principal may read `seller_id`'s statement."""
    if principal is None or not policy.may_open(principal, PAGE):
        raise ActionDenied("You may not read seller statements.")
    if not policy.may_touch_tenant(principal, int(seller_id)):
        raise ActionDenied("You may read your own seller statement only.")


def seller_months(
    queries: SourceQueries, principal: Principal | None, seller_id: int
) -> list[date]:
    """The months in which this seller has orders, newest first (access checked)."""
    check_access(principal, seller_id)
    months: list[date] = []
    before: datetime | None = None
    while len(months) < MAX_MONTHS:
        df = queries.run("seller_statement_last_order", seller_id=int(seller_id), before=before)
        last = df["last_ordered_at"].iloc[0] if len(df) else None
        if last is None or pd.isna(last):
            break
        months.append(month_start(pd.Timestamp(last).date()))
        before = datetime.combine(months[-1], datetime.min.time())
    return months


def load_statement(
    queries: SourceQueries,
    principal: Principal | None,
    seller_id: int,
    month: date,
    *,
    config: ReportsConfig | None = None,
) -> Statement:
    """One seller's statement for the month holding `month`. ActionDenied for a principal
    that may not read it; ValidationFailed for a seller that does not exist."""
    check_access(principal, seller_id)
    if config is None:
        from lib.config import runtime

        config = ReportsConfig.of(runtime.settings().reports)
    name = queries.run("seller_sellers", seller_id=int(seller_id))["name"]
    if name.empty:
        raise ValidationFailed(f"There is no seller #{int(seller_id)}.")
    start = month_start(month)
    window = {
        "seller_id": int(seller_id),
        "month_start": datetime.combine(start, datetime.min.time()),
        "month_end": datetime.combine(next_month(start), datetime.min.time()),
    }
    pct = config.seller_fee_pct
    summary = queries.run("seller_statement_summary", **window)
    numbers = {c: summary[c].astype("int64") for c in ("kept", "orders", "amount", "refunded")}
    kept = int((numbers["kept"] * numbers["orders"]).sum())
    fee = sum(fee_of(k, pct) * n for k, n in zip(numbers["kept"], numbers["orders"], strict=True))

    def lines() -> pd.DataFrame:
        df = queries.run("seller_statement_orders", **window)
        for column in ("quantity", "amount", "refunded", "kept"):
            df[column] = df[column].astype("int64")
        df["fee"] = [fee_of(k, pct) for k in df["kept"]]
        return df[list(LINE_COLUMNS)]

    return Statement(
        seller_id=int(seller_id),
        seller_name=str(name.iloc[0]),
        month=start,
        fee_pct=pct,
        orders=int(numbers["orders"].sum()),
        gmv=int(numbers["amount"][summary["status"] != "rejected"].sum()),
        refunded=int(numbers["refunded"].sum()),
        revenue_kept=kept,
        fee=int(fee),
        payout=kept - int(fee),
        generated_at=datetime.now(UTC),
        load_lines=lines,
    )


# --- files -----------------------------------------------------------------------------------


def statement_stem(s: Statement) -> str:
    return f"statement_seller-{s.seller_id}_{s.month:%Y-%m}"


def title(s: Statement) -> str:
    return f"Seller statement: {s.seller_name} (#{s.seller_id}), {s.month_words}"


def header_lines(s: Statement) -> list[tuple[str, Any, str | None]]:
    return [
        ("Seller", f"{s.seller_name} (#{s.seller_id})", None),
        ("Month", s.month, "yyyy-mm"),
        ("Orders placed", f"{s.month} to {month_end(s.month)}", None),
        ("Platform fee", s.fee_pct / 100, "0.0#%"),
        ("Generated (UTC)", s.generated_at, DATETIME),
    ]


def statement_xlsx(s: Statement) -> bytes:
    """Sheet "Statement" (who, which month, the figures typed in ₩), sheet "Orders" (lines)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Statement"
    ws["A1"] = neutralise(title(s))
    ws["A1"].font = TITLE_FONT
    rows: list[tuple[str, Any, str | None]] = header_lines(s)
    rows.append(("", None, None))
    rows += [(label, value, KRW if unit == "krw" else COUNT) for label, value, unit in s.figures()]
    for r, (label, value, fmt) in enumerate(rows, start=3):
        ws.cell(r, 1, label).font = HEAD_FONT
        cell = ws.cell(r, 2, cell_value(value))
        if fmt and cell.value is not None and not isinstance(cell.value, str):
            cell.number_format = fmt
    fit_columns(ws)
    orders = wb.create_sheet("Orders")
    headings = [heading for heading, _ in LINE_COLUMNS.values()]
    formats = [fmt for _, fmt in LINE_COLUMNS.values()]
    write_table(orders, 1, headings, s.lines.itertuples(index=False, name=None), formats)
    orders.freeze_panes = "A2"
    fit_columns(orders)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def line_texts(s: Statement) -> list[Sequence[str]]:
    return [
        [
            str(r.order_id),
            f"{pd.Timestamp(r.ordered_at):%Y-%m-%d %H:%M}",
            str(r.product),
            str(r.quantity),
            f"{r.amount:,}",
            str(r.status).replace("_", " "),
            f"{r.refunded:,}" if r.refunded else "-",
            f"{r.kept:,}",
            f"{r.fee:,}",
        ]
        for r in s.lines.itertuples(index=False)
    ]


def statement_pdf(s: Statement) -> bytes:
    """Page 1: who, which month and the figures; then the order lines (amounts in KRW)."""
    pdf = ReportPdf(title(s))
    pdf.heading(title(s))
    words = [
        (label, f"{value:%Y-%m-%d %H:%M} UTC" if isinstance(value, datetime) else str(value))
        for label, value, _ in header_lines(s)
    ]
    words[1] = ("Month", s.month_words)
    words[3] = ("Platform fee", f"{s.fee_pct:g}% of revenue kept")
    pdf.pairs(words)
    pdf.heading("Summary", size=13)
    pdf.grid(
        ["Figure", "Amount"],
        [[label, render.number(value, unit)] for label, value, unit in s.figures()],
        widths=(110, 70),
        align=("LEFT", "RIGHT"),
    )
    pdf.heading(f"Orders ({len(s.lines):,}), amounts in KRW", size=13)
    if s.lines.empty:
        pdf.note("No orders in this month.")
    else:
        pdf.grid(
            [heading.replace(" (₩)", "") for heading, _ in LINE_COLUMNS.values()],
            line_texts(s),
            widths=(14, 25, 45, 9, 19, 22, 17, 17, 14),
            align=("RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
            size=7,
        )
    return pdf.bytes()


def statement_files(s: Statement) -> list[Attachment]:
    """[the XLSX, the PDF], named statement_seller-<id>_<yyyy-mm>."""
    stem = statement_stem(s)
    return [xlsx_file(stem, statement_xlsx(s)), pdf_file(stem, statement_pdf(s))]
