"""The dashboard's charts as Altair specs, one builder for the page and the PDF report.

Each chart takes its frame from DashboardData.charts (columns in lib.dashboard.model's
plan) and reads well on the page (its container's width) and as a static ~700 px PNG
(vl-convert): no title inside the spec (the page and the PDF put it beside the chart),
amounts on the axes in short form (1.2B, the currency in the axis title), exact figures in
the tooltips.

Sizes: each spec fits its container's width and takes the height it needs
(autosize fit-x): the plot is HEIGHT px high and the legend goes below it, so Streamlit
neither squeezes the legend into the plot nor leaves room it does not fill. The donuts'
radius follows the plot's size, so a narrow column never cuts them.

Fonts: no "₩" in text drawn by the chart: vl-convert's PNG (the PDF) falls back to a
serif font for any label holding it on a machine without a font that has it; axis titles
say KRW instead, the page's tooltips and the tables keep ₩.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import altair as alt
import pandas as pd

from lib.dashboard.model import CHARTS, GRANULARITIES

SELECTION = "period"  # the point selection's name and field on revenue_by_segment
HEIGHT = 240  # the plot's height; axes and legend come on top of it
DONUT_HEIGHT = 200  # the donut's plot: its diameter, less a small margin
DONUT_MARGIN = 4
# The whole spec as wide as its container (the page) or its width (the PDF), as high as its
# parts: a fixed total height ("fit", Streamlit's default) squeezes the plot under a legend.
AUTOSIZE = alt.AutoSizeParams(type="fit-x", contains="padding")
# A small margin all round: Streamlit adds 20 px below a chart that sets none.
PADDING = {"left": 4, "top": 4, "right": 8, "bottom": 4}
LEGEND_OFFSET = 10  # between the axis title and a legend below it
# Axis labels in the KPI cards' short form without the currency: 1.2B, 518M, 12K.
KRW_AXIS = (
    "abs(datum.value) >= 1e9 ? format(datum.value / 1e9, ',.1~f') + 'B'"
    " : abs(datum.value) >= 1e6 ? format(datum.value / 1e6, ',.1~f') + 'M'"
    " : abs(datum.value) >= 1e3 ? format(datum.value / 1e3, ',.1~f') + 'K'"
    " : format(datum.value, ',.0f')"
)
PERIOD_AXIS_TITLE = {"day": "Day", "week": "Week starting", "month": "Month"}
SERIES = {"revenue_krw": "Revenue kept", "spend_krw": "Marketing spend"}


def period_label(start: date, granularity: str) -> str:
    """How a period is named on the axis and in tables: Jan 2026 / 5 Jan 2026."""
    if granularity == "month":
        return start.strftime("%b %Y")
    return f"{start.day} {start.strftime('%b %Y')}"


def as_dates(values: pd.Series) -> pd.Series:
    """Dates, ISO strings or timestamps as plain dates."""
    return pd.to_datetime(values).dt.date if len(values) else values.astype(object)


def build(
    key: str, frame: pd.DataFrame, granularity: str = "month", *, selectable: bool = False
) -> alt.Chart:
    """The chart for `key` (one of model.CHARTS) over its frame. `selectable` (only
    revenue_by_segment) adds a point selection named "period" on the period's start
    (ISO date): a click on a bar selects its period, read back by st.altair_chart."""
    if key not in CHARTS:
        raise KeyError(f"No chart named {key!r}; known: {', '.join(CHARTS)}")
    if granularity not in GRANULARITIES:
        raise ValueError(f"Granularity {granularity!r} is not one of {', '.join(GRANULARITIES)}")
    builder: Callable[..., alt.Chart] = BUILDERS[key]
    if key == "revenue_by_segment":
        return builder(frame, granularity, selectable)
    return builder(frame)


def _revenue_by_segment(frame: pd.DataFrame, granularity: str, selectable: bool) -> alt.Chart:
    data = frame.reindex(columns=["period", "segment", "orders", "revenue_krw"]).copy()
    starts = as_dates(data["period"])
    data["period"] = [d.isoformat() for d in starts]
    data["label"] = [period_label(d, granularity) for d in starts]
    order = [period_label(d, granularity) for d in sorted(set(starts))]
    many = len(order) > 24
    x = alt.X(
        "label:O",
        sort=order,
        title=PERIOD_AXIS_TITLE[granularity],
        axis=alt.Axis(
            labelAngle=-45 if many else 0, labelOverlap="greedy", labelSeparation=8, labelLimit=90
        ),
    )
    chart = (
        alt.Chart(data, height=HEIGHT, autosize=AUTOSIZE, padding=PADDING)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("revenue_krw:Q", stack="zero", title="Revenue kept (KRW)", axis=_krw_axis()),
            color=alt.Color(
                "segment:N",
                title="Segment",
                legend=alt.Legend(orient="bottom", offset=LEGEND_OFFSET),
            ),
            order=alt.Order("segment:N"),
            tooltip=[
                alt.Tooltip("label:N", title=PERIOD_AXIS_TITLE[granularity]),
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("revenue_krw:Q", title="Revenue kept (₩)", format=",.0f"),
                alt.Tooltip("orders:Q", title="Orders", format=","),
            ],
        )
    )
    if selectable:
        pick = alt.selection_point(name=SELECTION, fields=["period"], on="click", clear="dblclick")
        chart = chart.add_params(pick).encode(
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.45))
        )
    return chart


def _revenue_vs_spend(frame: pd.DataFrame) -> alt.Chart:
    data = frame.reindex(columns=["month", *SERIES]).copy()
    data["month"] = [d.isoformat() for d in as_dates(data["month"])]
    long = data.melt("month", list(SERIES), var_name="series", value_name="krw")
    long["series"] = long["series"].map(SERIES)
    return (
        alt.Chart(long, height=HEIGHT, autosize=AUTOSIZE, padding=PADDING)
        .mark_line(point=True)
        .encode(
            x=alt.X("month:T", timeUnit="yearmonth", title="Month", axis=alt.Axis(format="%b %Y")),
            y=alt.Y("krw:Q", title="KRW per month", axis=_krw_axis()),
            # No legend title ("", not None: Streamlit draws None as a blank title line);
            # with no rows, an untitled legend gives an infinite size.
            color=alt.Color(
                "series:N",
                title="" if len(long) else "Series",
                sort=list(SERIES.values()),
                legend=alt.Legend(orient="bottom", offset=LEGEND_OFFSET),
            ),
            tooltip=[
                alt.Tooltip("month:T", timeUnit="yearmonth", title="Month", format="%b %Y"),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("krw:Q", title="₩", format=",.0f"),
            ],
        )
    )


def _share(name: str, title: str) -> Callable[[pd.DataFrame], alt.Chart]:
    def share(frame: pd.DataFrame) -> alt.Chart:
        data = frame.reindex(columns=[name, "revenue_krw", "share"]).copy()
        data[name] = data[name].astype(str)
        outer = f"max(20, min(width, height) / 2 - {DONUT_MARGIN})"  # fits the plot
        # Under the donut, two entries a row: a narrow screen keeps the whole donut.
        legend = alt.Legend(
            orient="bottom", offset=LEGEND_OFFSET, title=title, columns=2, labelLimit=200
        )
        if len(data):
            legend = alt.Legend(
                orient="bottom",
                offset=LEGEND_OFFSET,
                title=title,
                columns=2,
                labelLimit=200,
                labelExpr=_share_labels(data, name),
            )
        return (
            alt.Chart(data, height=DONUT_HEIGHT, autosize=AUTOSIZE, padding=PADDING)
            .mark_arc(innerRadius=alt.ExprRef(f"{outer} / 2"), outerRadius=alt.ExprRef(outer))
            .encode(
                theta=alt.Theta("revenue_krw:Q", stack=True),
                color=alt.Color(f"{name}:N", legend=legend),
                order=alt.Order("revenue_krw:Q", sort="descending"),
                tooltip=[
                    alt.Tooltip(f"{name}:N", title=title),
                    alt.Tooltip("share:Q", title="Share", format=".1%"),
                    alt.Tooltip("revenue_krw:Q", title="Revenue kept (₩)", format=",.0f"),
                ],
            )
        )

    return share


def _share_labels(data: pd.DataFrame, name: str) -> str:
    """A legend label expression naming each slice with its share: "vip  41.2 %" (the PNG
    has no tooltips). Values are JSON string literals, safe in a Vega expression."""
    expr = "datum.label"
    for value, share in zip(data[name], data["share"], strict=True):
        text = f"{value}  {float(share or 0):.1%}"
        expr = f"datum.label === {json.dumps(value)} ? {json.dumps(text)} : ({expr})"
    return expr


def _refunds_by_reason(frame: pd.DataFrame) -> alt.Chart:
    data = frame.reindex(columns=["category", "refunds", "refunded_krw"]).copy()
    data["category"] = data["category"].astype(str)
    return (
        alt.Chart(data, height=max(120, 36 * len(data)), autosize=AUTOSIZE, padding=PADDING)
        .mark_bar()
        .encode(
            y=alt.Y(
                "category:N",
                sort=alt.EncodingSortField("refunded_krw", order="descending"),
                title=None,
                axis=alt.Axis(labelLimit=200),
            ),
            x=alt.X("refunded_krw:Q", title="Refunded (KRW)", axis=_krw_axis()),
            tooltip=[
                alt.Tooltip("category:N", title="Reason"),
                alt.Tooltip("refunds:Q", title="Refunds", format=","),
                alt.Tooltip("refunded_krw:Q", title="Refunded (₩)", format=",.0f"),
            ],
        )
    )


def _krw_axis() -> alt.Axis:
    return alt.Axis(labelExpr=KRW_AXIS, tickCount=5, titlePadding=10)


BUILDERS: dict[str, Callable[..., alt.Chart]] = {
    "revenue_by_segment": _revenue_by_segment,
    "revenue_vs_spend": _revenue_vs_spend,
    "share_by_segment": _share("segment", "Segment"),
    "share_by_method": _share("method", "Payment method"),
    "refunds_by_reason": _refunds_by_reason,
}
