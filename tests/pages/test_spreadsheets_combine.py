"""Spreadsheets › Combine through the page: a demo view or a combination of two tables opened
from a shared link, shown as a chart and a table with the keys that did not match reported
above the chart; every choice written back to the link; unknown link values ignored with a
note; personal data in a key masked; a database table outside the user's pages refused from
a link; the result downloadable as XLSX, and a combination of your own exported to a Google
Sheet (the fake Sheets API) by sheet.export from its choices."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from datetime import date

import pytest
from openpyxl import load_workbook

from lib.reading.combine_views import VIEWS
from lib.ui.spreadsheets_combine import PARAMS as COMBINE_PARAMS
from tests.pages.helpers import open_page
from tests.pages.test_hostile_urls import HOSTILE, INTERNAL, renders_markdown, shown_text
from tests.pages.test_spreadsheets_export import google_app  # noqa: F401 (a fixture)

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"


def chart_spec(at) -> dict:
    charts = at.get("vega_lite_chart")
    assert charts, [w.value for w in at.warning] + [i.value for i in at.info]
    return json.loads(charts[0].proto.spec)


def marks(spec: dict) -> list[str]:
    layers = spec.get("layer", [spec])
    return [m["type"] if isinstance(m, dict) else m for m in (la["mark"] for la in layers)]


def kinds_in_order(at) -> list[str]:
    return [el.type for el in at.main]


def test_the_marketing_view_from_a_shared_link_charts_it_and_names_the_months_without_spend(
    app,
):
    at = open_page(app, PAGE, "analyst", section="combine", view="marketing")
    assert at.segmented_control(key="spreadsheets_section").value == "combine"
    assert at.selectbox(key="combine_view").value == "marketing"
    [note] = [w.value for w in at.warning]
    assert note.startswith(
        "28 months in customers and orders have no match in marketing_spend (CSV): 2023-01, 2023-02"
    )
    order = kinds_in_order(at)
    assert order.index("warning") < order.index("vega_lite_chart") < order.index("dataframe")
    spec = chart_spec(at)
    assert marks(spec) == ["bar", "line"]  # spend by channel as bars, new customers as a line
    assert spec["resolve"]["scale"]["y"] == "independent"
    df = at.dataframe[0].value
    assert "search spend" in df.columns and "new_customers" in df.columns
    assert (df["match"] == "right only").sum() == 28
    assert dict(at.query_params) == {"section": "combine", "view": "marketing"}


def test_a_shared_combination_of_a_sheet_and_orders_opens_as_it_was_shared(app):
    params = {
        "section": "combine",
        "view": "custom",
        "left": "sheets.store_sales",
        "right": "shop.orders",
        "lkey": "month",
        "rkey": "ordered_at",
        "lmeasure": "revenue_krw",
        "rmeasure": "amount",
        "bymonth": "1",
        "chart": "line",
    }
    at = open_page(app, PAGE, "admin", **params)
    assert at.selectbox(key="combine_left").value == "sheets.store_sales"
    assert at.multiselect(key="combine_rkey_shop.orders").value == ["ordered_at"]
    assert at.selectbox(key="combine_rmeasure_shop.orders").value == "amount"
    assert [s.value for s in at.success] == ["Every month matched on both sides."]
    assert set(marks(chart_spec(at))) == {"line"}
    df = at.dataframe[0].value
    assert list(df.columns) == ["month", "revenue_krw (store_sales)", "amount (orders)", "match"]
    assert len(df) == 18
    assert dict(at.query_params) == params


def test_keys_only_one_side_has_are_reported_for_a_custom_combination(app):
    at = open_page(
        app, PAGE, "admin", section="combine", view="custom", left="crm.customers",
        lkey="signup_date", lmeasure="*", right="sheets.marketing_spend", rkey="month",
        rmeasure="signups", bymonth="1",
    )  # fmt: skip
    [note] = [w.value for w in at.warning]
    assert note.startswith("28 months in customers have no match in marketing_spend: 2023-01")
    assert at.get("vega_lite_chart")


def test_unknown_values_in_the_link_are_ignored_with_a_note(app):
    at = open_page(
        app, PAGE, "admin", section="combine", view="custom", left="crm__src.main.customers",
        right="shop.orders", rkey='ordered_at";DROP TABLE x', rmeasure="status", chart="donut",
        bymonth="yes",
    )  # fmt: skip
    notes = " ".join(c.value for c in at.caption)
    for name in ("left", "rkey", "rmeasure", "chart", "bymonth"):
        assert f"Ignored {name} '" in notes, (name, notes)
    # The defaults stand in for what was ignored, and the page still combines.
    assert at.selectbox(key="combine_left").value == "sheets.marketing_spend"
    assert at.multiselect(key="combine_rkey_shop.orders").value == ["ordered_at"]
    assert at.selectbox(key="combine_rmeasure_shop.orders").value == "amount"
    assert at.segmented_control(key="combine_chart").value == "bar"
    assert [s.value for s in at.success] == ["Every month matched on both sides."]
    assert at.get("vega_lite_chart")
    assert "DROP" not in at.query_params.get("rkey", "")


def test_changing_the_chart_and_the_months_is_written_to_the_link(app):
    at = open_page(app, PAGE, "analyst", section="combine", view="stores")
    assert [s.value for s in at.success] == ["Every month matched on both sides."]
    assert chart_spec(at)["resolve"]["scale"]["y"] == "shared"  # both in KRW
    at.segmented_control(key="combine_chart").set_value("pie").run()
    assert marks(chart_spec(at)) == ["arc"]
    at.selectbox(key="combine_view").set_value("marketing").run()
    at.date_input(key="combine_from").set_value(date(2025, 1, 1)).run()
    at.date_input(key="combine_to").set_value(date(2026, 1, 1)).run()
    assert not at.exception
    [note] = [w.value for w in at.warning]
    assert note.startswith("4 months in customers and orders have no match")
    assert dict(at.query_params) == {
        "section": "combine",
        "view": "marketing",
        "from": "2025-01-01",
        "to": "2026-01-01",
        "chart": "pie",
    }


@pytest.mark.parametrize(
    ("left", "right", "rkey"),
    [
        ("crm.customers", "shop.sellers", "email"),
        ("crm.customers", "sheets.marketing_spend", "channel"),
    ],
)
def test_personal_data_in_a_key_column_is_masked(app, demo_dir, left, right, rkey):
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as con:
        emails = [e for (e,) in con.execute("SELECT email FROM customers")]
    at = open_page(
        app, PAGE, "admin", section="combine", view="custom", left=left,
        lkey="email", right=right, rkey=rkey, bymonth="0",
    )  # fmt: skip
    assert not at.exception
    shown = " ".join(at.dataframe[0].value["email"].astype(str))
    shown += " ".join(w.value for w in at.warning)
    assert "***" in shown
    assert not [e for e in emails if e in shown]


def test_the_combine_section_survives_hostile_values_in_every_parameter(app):
    """Like test_hostile_urls, with the section itself open: its parameters each get a hostile
    value per round (a custom view in some rounds, a demo view in the others)."""
    names = [p for p in COMBINE_PARAMS if p != "view"]
    at = open_page(app, PAGE, "analyst", section="combine")
    noted = 0
    for round_no, view in enumerate([*["custom", "marketing"] * (len(HOSTILE) // 2), "bogus"]):
        params = {n: HOSTILE[(round_no + i) % len(HOSTILE)] for i, n in enumerate(names)}
        at.query_params.clear()
        at.query_params.update({**params, "section": "combine", "view": view})
        at.switch_page("app_pages/home.py").run()
        at.switch_page(PAGE).run()
        where = f"round {round_no} ({view})"
        assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
        assert at.selectbox(key="combine_view").value in (*VIEWS, "custom"), where
        for text in shown_text(at):
            assert not [w for w in INTERNAL if w in text], f"{where}: {text[:300]!r}"
            assert not renders_markdown(text), f"{where}: {text[:300]!r}"
        noted += any(c.value.startswith("Ignored ") for c in at.caption)
    assert noted >= len(HOSTILE) - 2  # the section read the link each round ("" and " 7 "...)


def test_an_analysts_link_to_customer_tables_is_refused_and_nothing_of_them_shown(app, demo_dir):
    """The reviewer's link: the analyst may not open /customers, so crm tables (an alias
    included) are not theirs to combine (the orders tables are: /orders, read-only); the
    link's table is ignored with a note."""
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as con:
        emails = [e for (e,) in con.execute("SELECT email FROM customers")]
    for table in ("crm.customers_snapshot", "crm.customers"):
        at = open_page(
            app, PAGE, "analyst", section="combine", view="custom", left=table, lkey="email",
        )  # fmt: skip
        assert not at.exception
        notes = " ".join(c.value for c in at.caption)
        assert f"Ignored left '{table}' from the link: not a table you may combine" in notes
        tables = at.selectbox(key="combine_left").options
        assert not [t for t in tables if t.startswith("crm.")]
        assert tables == [  # the sheets and, read-only, what the Orders page shows
            "sheets.marketing_spend",
            "sheets.store_sales",
            "shop.orders",
            "shop.orders_snapshot",
            "shop.payments",
            "shop.payments_snapshot",
        ]
        assert at.selectbox(key="combine_right").value == "shop.orders"  # the next offered
        shown = " ".join(shown_text(at)) + " ".join(
            " ".join(df.value.astype(str).to_numpy().ravel()) for df in at.dataframe
        )
        assert not [e for e in emails if e in shown]
        assert at.query_params["left"] == "sheets.marketing_spend"


def test_the_combine_result_downloads_as_xlsx(app, downloads):
    at = open_page(app, PAGE, "analyst", section="combine", view="stores")
    shown = at.dataframe[0].value
    book = load_workbook(io.BytesIO(downloads["combine_stores.xlsx"]))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == list(shown.columns)
    assert sheet.max_row - 1 == len(shown)
    assert sheet.cell(2, 1).is_date

    at = open_page(
        app, PAGE, "analyst", section="combine", view="custom", left="sheets.marketing_spend",
        lkey="month", right="sheets.store_sales", rkey="month", bymonth="1",
    )  # fmt: skip
    name = "combine_marketing_spend_store_sales.xlsx"
    sheet = load_workbook(io.BytesIO(downloads[name])).worksheets[0]
    assert [c.value for c in sheet[1]] == list(at.dataframe[0].value.columns)


def test_a_custom_result_exports_to_a_google_sheet(google_app):  # noqa: F811
    make, store, key = google_app
    at = open_page(
        make, PAGE, "analyst", section="combine", view="custom", left="sheets.marketing_spend",
        lkey="month", lmeasure="spend_krw", right="sheets.store_sales", rkey="month",
        rmeasure="revenue_krw", bymonth="1",
    )  # fmt: skip
    shown = at.dataframe[0].value
    at.text_input(key="combine_export_spreadsheet").input(key)
    at.text_input(key="combine_export_worksheet").input("Spend vs stores")
    at.button(key="FormSubmitter:combine_export_google-Export to Google Sheet").click().run()
    assert not at.exception, at.exception
    assert "Created worksheet 'Spend vs stores'" in at.success[-1].value
    grid = store[key]["Spend vs stores"]
    assert grid[0] == list(shown.columns)
    assert len(grid) - 1 == len(shown)
    assert isinstance(grid[1][0], date)


def test_a_demo_view_offers_no_google_export_here(google_app):  # noqa: F811
    make, _, _ = google_app
    at = open_page(make, PAGE, "analyst", section="combine", view="stores")
    assert at.dataframe and not at.get("form")  # exported whole from the Export section


def test_without_google_access_a_custom_result_offers_no_google_export(app):
    at = open_page(
        app, PAGE, "analyst", section="combine", view="custom", left="sheets.marketing_spend",
        lkey="month", right="sheets.store_sales", rkey="month", bymonth="1",
    )  # fmt: skip
    assert at.dataframe and not at.get("form")
