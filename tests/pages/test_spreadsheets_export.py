"""The Spreadsheets page's Export section: a masked preview, the XLSX download (typed cells,
masked), and the Google Sheet export through sheet.export against the fake Sheets API; only
what the pages the role may open show is offered (an analyst gets the Orders list, masked,
and no Customers list), and the demo's combined views can be exported."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.actions.export_target import shared_fake
from tests.pages.helpers import apps_for, open_page
from tests.stack import crm, write_config

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"


@pytest.fixture
def google_app(tmp_path: Path, demo_dir: Path, monkeypatch) -> Iterator[tuple]:
    """The app configured with the fake Sheets API as the sheets source's Google endpoint."""
    url, store = shared_fake()
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        '[sources.sheets]\nkind = "sheet"\n',
        f'[sources.sheets]\nkind = "sheet"\nsheets_api_url = "{url}"\n',
    )
    config.write_text(text, encoding="utf-8")
    key = f"page-{tmp_path.name}"
    store[key] = {"Sheet1": []}
    with apps_for(config, monkeypatch) as make:
        yield make, store, key
    store.pop(key, None)


def test_the_export_section_previews_masked_rows_and_offers_a_typed_xlsx(app, demo_dir, downloads):
    at = open_page(app, PAGE, "admin", section="export")
    assert at.selectbox(key="export_what").value == "customers"
    preview = at.dataframe[0].value
    raw = dict(crm(demo_dir, "SELECT id, email FROM customers"))
    assert len(preview) == 20
    assert all(e != raw[i] for i, e in zip(preview["id"], preview["email"], strict=True))
    assert at.query_params["what"] == "customers"
    assert not at.get("form")  # no Google Sheets access configured: no export to it

    book = load_workbook(io.BytesIO(downloads["customers.xlsx"]))
    sheet = book.worksheets[0]
    header, first = [c.value for c in sheet[1]], [c for c in sheet[2]]
    assert header[:3] == ["id", "name", "email"]
    cells = dict(zip(header, first, strict=True))
    assert isinstance(cells["id"].value, int)
    assert isinstance(cells["signup_date"].value, datetime) and cells["signup_date"].is_date
    assert cells["email"].value != raw[cells["id"].value]
    assert sheet.max_row - 1 == len(raw)


def test_what_comes_from_the_url_and_a_hostile_one_is_ignored(app):
    at = open_page(app, PAGE, "analyst", section="export", what="sheets.marketing_spend")
    assert at.selectbox(key="export_what").value == "sheets.marketing_spend"
    assert list(at.dataframe[0].value.columns)[:2] == ["month", "channel"]
    at = open_page(app, PAGE, "admin", section="export", what="**bold** crm.customers")
    assert at.selectbox(key="export_what").value == "customers"
    assert any("Ignored what" in c.value for c in at.caption)


def export_to_google(make, user: str, what: str, key: str, title: str):
    """The section opened for `user` on `what`, its Google form filled and sent."""
    at = open_page(make, PAGE, user, section="export", what=what)
    at.text_input(key="export_spreadsheet").input(key)
    at.text_input(key="export_worksheet").input(title)
    at.button(key="FormSubmitter:export_google-Export to Google Sheet").click().run()
    assert not at.exception, at.exception
    return at


def test_export_to_a_google_sheet_runs_the_action(google_app):
    make, store, key = google_app
    at = export_to_google(make, "admin", "orders", key, "Orders")
    assert [s.value for s in at.success] and "Created worksheet 'Orders'" in at.success[0].value
    grid = store[key]["Orders"]
    assert grid[0][:2] == ["id", "ordered_at"]
    header = grid[0]
    assert all(
        "*" in row[header.index("customer")] for row in grid[1:] if row[header.index("customer")]
    )


def test_an_analyst_is_offered_the_orders_list_masked_and_no_customers(app, demo_dir):
    """The analyst may open /orders (read-only) but not /customers: the section offers the
    Orders list with its customer names masked, the sheets and the combined views, and a
    link asking for the customers list shows none of its rows."""
    raw = dict(crm(demo_dir, "SELECT id, email FROM customers"))
    names = dict(crm(demo_dir, "SELECT id, name FROM customers"))
    at = open_page(app, PAGE, "analyst", section="export", what="customers")
    assert not at.exception
    options = at.selectbox(key="export_what").options  # as labelled
    assert not [o for o in options if o.startswith("Customers")]
    assert "Orders & payments (list)" in options
    assert "Sheet: marketing_spend" in options
    assert "View: Marketing spend by channel vs new customers and revenue" in options
    assert at.selectbox(key="export_what").value == "orders"  # the first one offered
    assert any("Ignored what 'customers'" in c.value for c in at.caption)
    text = " ".join(" ".join(df.value.astype(str).to_numpy().ravel()) for df in at.dataframe)
    assert not [e for e in raw.values() if e in text]

    at = open_page(app, PAGE, "analyst", section="export", what="orders")
    assert at.selectbox(key="export_what").value == "orders"
    preview = at.dataframe[0].value
    assert list(preview.columns)[:2] == ["id", "ordered_at"]
    assert all("*" in c for c in preview["customer"] if c)
    assert not [n for i, n in zip(preview["customer_id"], preview["customer"], strict=True)
                if n == names[i]]  # fmt: skip


def test_a_combined_view_downloads_as_xlsx(app, downloads):
    at = open_page(app, PAGE, "analyst", section="export", what="combine.stores")
    assert at.selectbox(key="export_what").value == "combine.stores"
    preview = at.dataframe[0].value
    assert list(preview.columns)[0] == "month" and "online_revenue_krw" in preview.columns
    sheet = load_workbook(io.BytesIO(downloads["combine_stores.xlsx"])).worksheets[0]
    assert [c.value for c in sheet[1]] == list(preview.columns)
    assert sheet.cell(2, 1).is_date


def test_an_analyst_exports_a_combined_view_to_a_google_sheet(google_app):
    make, store, key = google_app
    at = export_to_google(make, "analyst", "combine.marketing", key, "Marketing")
    assert "Created worksheet 'Marketing'" in at.success[0].value
    grid = store[key]["Marketing"]
    assert grid[0][0] == "month" and "new_customers" in grid[0] and grid[0][-1] == "match"
