"""The dashboard's chart specs: the right mark, encodings and selection; valid with no rows."""

import json
import re
from datetime import date

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc

from lib.dashboard import charts
from lib.dashboard.model import CHARTS

MONTHS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
FRAMES = {
    "revenue_by_segment": pd.DataFrame(
        {
            "period": [m for m in MONTHS for _ in range(2)],
            "segment": ["vip", "regular"] * 3,
            "orders": [10, 20, 11, 21, 12, 22],
            "revenue_krw": [1_000_000, 2_000_000, 1_100_000, 2_100_000, 1_200_000, 2_200_000],
        }
    ),
    "revenue_vs_spend": pd.DataFrame(
        {"month": MONTHS, "revenue_krw": [3e9, 4e9, 5e9], "spend_krw": [3e8, 4e8, None]}
    ),
    "share_by_segment": pd.DataFrame(
        {"segment": ["vip", 'it\'s "new"'], "revenue_krw": [750, 250], "share": [0.75, 0.25]}
    ),
    "share_by_method": pd.DataFrame(
        {"method": ["card", "bank_transfer"], "revenue_krw": [600, 400], "share": [0.6, 0.4]}
    ),
    "refunds_by_reason": pd.DataFrame(
        {"category": ["changed mind", "other"], "refunds": [5, 1], "refunded_krw": [50_000, 9_000]}
    ),
}


def spec(key: str, frame: pd.DataFrame, **kwargs: object) -> dict:
    chart = charts.build(key, frame, **kwargs)
    assert isinstance(chart, alt.Chart)
    return chart.to_dict()  # validates against the Vega-Lite schema


def rows(spec_: dict) -> list[dict]:
    return next(iter(spec_["datasets"].values()))


def mark(spec_: dict) -> str:
    m = spec_["mark"]
    return m["type"] if isinstance(m, dict) else m


def test_revenue_by_segment_is_a_stacked_bar_per_period_coloured_by_segment():
    s = spec("revenue_by_segment", FRAMES["revenue_by_segment"])
    assert mark(s) == "bar"
    enc = s["encoding"]
    assert enc["x"]["field"] == "label"
    assert enc["x"]["sort"] == ["Jan 2026", "Feb 2026", "Mar 2026"]
    assert enc["y"]["field"] == "revenue_krw" and enc["y"]["stack"] == "zero"
    assert enc["color"]["field"] == "segment"
    assert "params" not in s  # not clickable unless asked


def test_the_period_axis_follows_the_granularity():
    weekly = FRAMES["revenue_by_segment"].assign(period=[date(2026, 1, 5)] * 6)
    s = spec("revenue_by_segment", weekly, granularity="week")
    assert s["encoding"]["x"]["title"] == "Week starting"
    assert s["encoding"]["x"]["sort"] == ["5 Jan 2026"]
    assert {r["period"] for r in rows(s)} == {"2026-01-05"}


def test_a_selectable_revenue_chart_selects_a_period_by_its_start_date():
    s = spec("revenue_by_segment", FRAMES["revenue_by_segment"], selectable=True)
    (param,) = s["params"]
    assert param["name"] == charts.SELECTION
    assert param["select"]["type"] == "point" and param["select"]["fields"] == ["period"]
    assert {r["period"] for r in rows(s)} == {m.isoformat() for m in MONTHS}
    assert s["encoding"]["opacity"]["condition"]["param"] == charts.SELECTION


def test_revenue_vs_spend_is_two_monthly_lines():
    s = spec("revenue_vs_spend", FRAMES["revenue_vs_spend"])
    assert mark(s) == "line"
    assert s["encoding"]["x"]["timeUnit"] == "yearmonth"
    assert {r["series"] for r in rows(s)} == {"Revenue kept", "Marketing spend"}
    assert len(rows(s)) == 6


@pytest.mark.parametrize(
    ("key", "name"), [("share_by_segment", "segment"), ("share_by_method", "method")]
)
def test_shares_are_donuts_with_percentages_in_tooltips_and_legend(key, name):
    s = spec(key, FRAMES[key])
    assert mark(s) == "arc"
    # The ring follows the plot's size: a narrow column never cuts it.
    assert "min(width, height)" in s["mark"]["outerRadius"]["expr"]
    assert s["mark"]["outerRadius"]["expr"] in s["mark"]["innerRadius"]["expr"]
    assert s["encoding"]["theta"]["field"] == "revenue_krw"
    assert s["encoding"]["color"]["field"] == name
    share = next(t for t in s["encoding"]["tooltip"] if t["field"] == "share")
    assert share["format"] == ".1%"
    first = FRAMES[key][name].iloc[0]
    assert (
        f"{first}  {FRAMES[key]['share'].iloc[0]:.1%}"
        in s["encoding"]["color"]["legend"]["labelExpr"]
    )


def test_share_legend_labels_render_names_with_quotes():
    chart = charts.build("share_by_segment", FRAMES["share_by_segment"])
    svg = vlc.vegalite_to_svg(chart.to_json())
    assert "25.0%" in svg and "75.0%" in svg and "new" in svg


@pytest.mark.parametrize("key", list(CHARTS))
def test_charts_fit_their_width_take_the_height_they_need_and_draw_no_won_sign(key):
    s = spec(key, FRAMES[key])
    assert s["autosize"] == {"type": "fit-x", "contains": "padding"}
    assert s["padding"]["bottom"] < 20  # Streamlit's own 20 px gap under the legend
    # ₩ makes vl-convert's PNG fall back to a serif font: axes say KRW in their titles.
    drawn = json.dumps({k: v for k, v in s["encoding"].items() if k != "tooltip"})
    assert "₩" not in drawn
    svg = vlc.vegalite_to_svg(charts.build(key, FRAMES[key]).properties(width=500).to_json())
    assert not re.findall("<text[^>]*>[^<]*₩", svg)  # (aria labels may keep it: not drawn)


def test_amount_axes_read_in_short_form_with_the_currency_in_the_title():
    chart = charts.build("revenue_vs_spend", FRAMES["revenue_vs_spend"])
    svg = vlc.vegalite_to_svg(chart.properties(width=500).to_json())
    assert "KRW per month" in svg and "4B" in svg


def test_refunds_by_reason_is_a_bar_per_category_largest_first():
    s = spec("refunds_by_reason", FRAMES["refunds_by_reason"])
    assert mark(s) == "bar"
    assert s["encoding"]["y"]["field"] == "category"
    assert s["encoding"]["y"]["sort"] == {"field": "refunded_krw", "order": "descending"}
    assert s["encoding"]["x"]["field"] == "refunded_krw"


@pytest.mark.parametrize("key", list(CHARTS))
def test_every_chart_renders_with_rows_and_without(key):
    for frame in (FRAMES[key], FRAMES[key].iloc[0:0], pd.DataFrame()):
        chart = charts.build(key, frame, selectable=key == "revenue_by_segment")
        png = vlc.vegalite_to_png(chart.properties(width=700).to_json())
        assert png.startswith(b"\x89PNG")


def test_an_unknown_chart_or_granularity_is_refused():
    with pytest.raises(KeyError):
        charts.build("nope", pd.DataFrame())
    with pytest.raises(ValueError):
        charts.build("revenue_by_segment", FRAMES["revenue_by_segment"], "year")
