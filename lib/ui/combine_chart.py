"""The chart of a combination (lib.reading.combine.Combined): bar, line or pie, in Altair.

The measures are melted into (key, series, value) rows first, so measure names chosen from a
catalogue or a sheet's values ("search spend") are data, never Altair field names.
- bar: the left side's measures as stacked bars, the right side's as lines on the same months;
- line: every measure as a line;
- pie: the first charted measure's share by key.
The two sides get their own y axis unless they are in one unit (`shared_axis`)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from lib.reading.combine import Combined

CHARTS = {"bar": "Bar", "line": "Line", "pie": "Pie"}
MAX_KEYS = 400  # more keys than this make no readable chart; the table still has them all


def long_form(c: Combined, measures: Sequence[str]) -> pd.DataFrame:
    """(key, series, value, side) rows of the charted measures, one key per first key value
    (summed over the other keys); empty values left out."""
    x = c.keys[0]
    df = c.frame[[x, *measures]]
    if len(c.keys) > 1:
        df = df.groupby(x, as_index=False, dropna=False)[list(measures)].sum(min_count=1)
    long = df.melt(id_vars=[x], value_vars=list(measures), var_name="series", value_name="value")
    long = long.rename(columns={x: "key"}).dropna(subset=["value"])
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long["side"] = ["left" if s in c.left_measures else "right" for s in long["series"]]
    return long.reset_index(drop=True)


def _temporal(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series)


def chart(
    c: Combined, measures: Sequence[str], kind: str, *, shared_axis: bool = False
) -> alt.TopLevelMixin | None:
    """The chart of `measures` (None when there is nothing to draw)."""
    long = long_form(c, measures)
    if long.empty:
        return None
    keys = long["key"].drop_duplicates()
    if len(keys) > MAX_KEYS:
        long = long[long["key"].isin(set(keys.iloc[:MAX_KEYS]))]
    temporal = _temporal(long["key"])
    if kind == "pie":
        first = long[long["series"] == measures[0]].copy()
        if temporal:
            fmt = "%Y-%m" if c.by_month else "%Y-%m-%d"
            first["key"] = first["key"].dt.strftime(fmt)
        first["key"] = first["key"].astype(str)
        return (
            alt.Chart(first)
            .mark_arc(innerRadius=40)
            .encode(
                theta=alt.Theta("value:Q", title=measures[0]),
                color=alt.Color("key:N", title=c.keys[0], sort=None),
                tooltip=[alt.Tooltip("key:N", title=c.keys[0]), alt.Tooltip("value:Q", format=",")],
            )
            .properties(title=f"{measures[0]} by {c.keys[0]}")
        )
    if temporal:
        x = alt.X("yearmonth(key):T" if c.by_month else "key:T", title=c.keys[0])
    else:
        long["key"] = long["key"].astype(str)
        x = alt.X("key:N", title=c.keys[0], sort=None)
    tooltip = [
        alt.Tooltip("yearmonth(key):T" if temporal and c.by_month else "key", title=c.keys[0]),
        alt.Tooltip("series:N", title="Measure"),
        alt.Tooltip("value:Q", format=","),
    ]
    color = alt.Color(
        "series:N", title=None, legend=alt.Legend(orient="bottom", columns=2, labelLimit=130)
    )
    layers = []
    for side, title in (("left", c.left), ("right", c.right)):  # each axis names its side
        part = long[long["side"] == side]
        if part.empty:
            continue
        base = alt.Chart(part).encode(x=x, color=color, tooltip=tooltip)
        names = part["series"].unique()
        y = alt.Y("value:Q", title=names[0] if len(names) == 1 else title)
        if kind == "bar" and side == "left":
            layers.append(base.mark_bar().encode(y=y.stack("zero")))
        elif kind == "bar" and len(layers) == 0:  # only the right side: grouped bars
            layers.append(base.mark_bar().encode(y=y, xOffset="series:N"))
        else:
            layers.append(base.mark_line(point=True).encode(y=y))
    if len(layers) == 1:
        return layers[0]
    return alt.layer(*layers).resolve_scale(y="shared" if shared_axis else "independent")
