"""The Seller portal's monthly statement: a month picker, the month's figures and the
statement as XLSX and PDF (lib.reports.statement; access is checked there, server side).

lib.ui.seller calls `statement_section(principal, seller_id)` under the catalogue with the
seller the portal shows: a seller's own tenant, or the one staff picked.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import streamlit as st

from lib.access.principal import Principal
from lib.config import runtime
from lib.errors import BackofficeError
from lib.reports import statement
from lib.reports.config import ReportsConfig
from lib.ui import export, session_guard
from lib.ui.widgets import escape_markdown, show_error

KEY = "seller_statement"
OPEN = "statement"  # the expander's state, and its URL parameter
TITLE = "Monthly statement"


def default_month(months: list[date], today: date | None = None) -> int:
    """Index of the newest finished month in `months` (newest first); the newest if none
    has finished yet."""
    this_month = (today or datetime.now(UTC).date()).replace(day=1)
    return next((i for i, m in enumerate(months) if m < this_month), 0)


def figures(s: statement.Statement) -> None:
    cells = st.columns(3)
    for i, (label, value, unit) in enumerate(s.figures()):
        text = f"₩{value:,}" if unit == "krw" else f"{value:,}"
        cells[i % 3].metric(label, text)


@session_guard.fragment
def statement_section(principal: Principal, seller_id: int) -> None:
    """Pick a month (those with orders, the newest finished one first), see its figures,
    download the statement. A principal that may not read it gets the refusal in one line.
    In an expander under the catalogue: the page stays the catalogue first."""
    with st.expander(TITLE, icon=":material/receipt_long:", key=OPEN, bind="query-params") as box:
        # Read only when open (its state in the URL, so a shared link opens it too): a month
        # of a large seller is tens of thousands of orders, not for every run of the portal.
        if box.open:
            body(principal, seller_id)


def body(principal: Principal, seller_id: int) -> None:
    try:
        months = statement.seller_months(runtime.source_queries(), principal, seller_id)
        if not months:
            st.info("No orders yet: no statement to show.", icon=":material/receipt_long:")
            return
        month = st.selectbox(
            "Month",
            months,
            index=default_month(months),
            key=f"{KEY}.month.{int(seller_id)}",
            format_func=lambda m: f"{m:%B %Y}",
        )
        config = ReportsConfig.of(runtime.settings().reports)
        s = statement.load_statement(
            runtime.source_queries(), principal, seller_id, month, config=config
        )
    except BackofficeError as exc:
        show_error(exc)
        return
    st.caption(
        escape_markdown(
            f"{s.seller_name} · orders placed in {s.month_words} · platform fee "
            f"{s.fee_pct:g}% of revenue kept · pending orders count once approved"
        )
    )
    figures(s)
    export.file_buttons(
        statement.statement_stem(s),
        {"xlsx": lambda: statement.statement_xlsx(s), "pdf": lambda: statement.statement_pdf(s)},
        label="Download statement ({EXT})",
        key=f"{KEY}.{{ext}}",
        slots=st.columns(2),
        width="stretch",
    )
