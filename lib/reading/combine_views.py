"""The demo's combined views: named queries (queries/spreadsheets_*.sql) whose rows carry the
`match` flag of lib.reading.combine, read into the same `Combined` result.

A view's query returns one row per month and breakdown value (channel, store); the breakdown
is spread into one column per value here, because DuckDB's PIVOT cannot take its columns
from the data when the query has bound parameters (the date range).

Who may see them: anyone who may open the Spreadsheets page. They read crm.customers and
shop.orders, but show only monthly counts and sums (what the dashboard shows), never a row;
they are not bound by lib.reading.combine_access, which governs whole tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from lib.access.masking import named_columns
from lib.reading.combine import MATCH, RIGHT_ONLY, Combined, from_frame
from lib.reading.engine import Engine


@dataclass(frozen=True)
class View:
    name: str  # its value in the URL
    title: str
    query: str  # queries/<query>.sql, with $date_from and $date_to
    left: str  # how each side is named to people
    right: str
    spread: str  # the breakdown column: one measure column per value
    spread_measure: str  # the left measure spread by it
    spread_label: str  # its columns are "<value> <label>": "search spend"
    right_measures: tuple[str, ...]
    chart: tuple[str, ...] = ()  # the measures charted first (all spread columns + these)
    shared_axis: bool = False  # both sides in the same unit: one y axis
    about: str = ""


VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View(
            name="marketing",
            title="Marketing spend by channel vs new customers and revenue",
            query="spreadsheets_marketing_vs_customers",
            left="marketing_spend (CSV)",
            right="customers and orders",
            spread="channel",
            spread_measure="spend_krw",
            spread_label="spend",
            right_measures=("new_customers", "revenue_krw"),
            chart=("new_customers",),
            about="Monthly spend per channel from the marketing sheet beside the customers "
            "who signed up and the revenue kept (approved and partly refunded orders).",
        ),
        View(
            name="stores",
            title="Store sales (XLSX) vs online sales",
            query="spreadsheets_store_vs_online",
            left="store_sales (XLSX)",
            right="online orders",
            spread="store",
            spread_measure="store_revenue_krw",
            spread_label="store revenue",
            right_measures=("online_revenue_krw", "online_orders"),
            chart=("online_revenue_krw",),
            shared_axis=True,
            about="Revenue per offline store from the store sales workbook beside the revenue "
            "kept from online orders, by month.",
        ),
    )
}
KEY = "month"


def spread(
    df: pd.DataFrame, column: str, measure: str, label: str
) -> tuple[pd.DataFrame, list[str]]:
    """One row per month: `measure` spread into a column per `column` value ("search
    spend"), the month's other columns kept. Returns the frame and the new columns."""
    base = df.drop(columns=[column, measure]).drop_duplicates(subset=[KEY])
    rows = df[df[MATCH] != RIGHT_ONLY].copy()  # a month with no sheet row has nothing to spread
    rows[column] = rows[column].fillna("(empty)")  # a sheet row without a channel still counts
    if rows.empty:
        return base.reset_index(drop=True), []
    wide = rows.pivot_table(index=KEY, columns=column, values=measure, aggfunc="sum", sort=True)
    names = [f"{value} {label}" for value in wide.columns]
    wide.columns = names
    out = base.merge(wide.reset_index(), on=KEY, how="left")
    # The spread columns sit right after the month, the right side's measures after them.
    rest = [c for c in out.columns if c not in (KEY, *names, MATCH)]
    return out[[KEY, *names, *rest, MATCH]].sort_values(KEY).reset_index(drop=True), names


def run_view(
    engine: Engine, view: View, date_from: date | None = None, date_to: date | None = None
) -> Combined:
    """The view's rows for months in [date_from, date_to) (either may be open)."""
    df = engine.query(
        view.query,
        date_from=date_from.isoformat() if date_from else None,
        date_to=date_to.isoformat() if date_to else None,
    )
    wide, names = spread(df, view.spread, view.spread_measure, view.spread_label)
    return from_frame(
        wide, [KEY], names, list(view.right_measures), view.left, view.right,
        by_month=True, pii=named_columns(wide.columns),  # none today; masked if one comes
    )  # fmt: skip
