"""The Spreadsheets page's shell and its Sheets section: every declared sheet with its kind,
rows and types; one opened from the URL as a typed, paged, sortable preview; a bad cell
named by its spreadsheet address while the rest of the sheet still shows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from lib.access.principal import Principal
from lib.ui.navigation import NOT_PERMITTED
from lib.ui.spreadsheets_sheets import PREVIEW
from tests.pages.helpers import open_page, run_page_file

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"
MS = PREVIEW + "marketing_spend"  # the preview's table page name: its widget keys


def csv_rows(demo_dir: Path) -> list[dict[str, str]]:
    with open(demo_dir / "marketing_spend.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def xlsx_rows(demo_dir: Path) -> int:
    wb = load_workbook(demo_dir / "store_sales.xlsx", read_only=True)
    try:
        return sum(1 for r in wb["Sales"].iter_rows(min_row=2, values_only=True) if any(r))
    finally:
        wb.close()


def listing(at):
    return at.dataframe[0].value.set_index("sheet")


def preview(at):
    """The opened sheet's rows (the second grid, after the list)."""
    assert len(at.dataframe) >= 2, [e.value for e in at.error] + [i.value for i in at.info]
    return at.dataframe[1].value


def test_an_analyst_sees_every_declared_sheet_with_its_kind_rows_and_types(app, demo_dir):
    at = open_page(app, PAGE, "analyst")
    assert [t.value for t in at.title] == ["Spreadsheets"]
    assert at.segmented_control(key="spreadsheets_section").value == "sheets"
    sheets = listing(at)
    assert list(sheets.index) == ["marketing_spend", "store_sales"]
    assert sheets.loc["marketing_spend", "kind"] == "CSV"
    assert sheets.loc["store_sales", "kind"] == "XLSX"
    assert sheets.loc["marketing_spend", "rows"] == len(csv_rows(demo_dir))
    assert sheets.loc["store_sales", "rows"] == xlsx_rows(demo_dir)
    assert sheets.loc["marketing_spend", "columns"] == 5
    assert "spend_krw: int" in sheets.loc["marketing_spend", "types"]
    assert "month: date" in sheets.loc["store_sales", "types"]
    assert set(sheets["state"]) == {"ok"}
    # Where a sheet is read from, without the server's directories.
    assert sheets.loc["store_sales", "from"] == "store_sales.xlsx, sheet 'Sales'"
    assert any(c.value.startswith("Sheets read ") for c in at.caption)
    at.button(key="spreadsheets_sheets_refresh").click().run()
    assert not at.exception and listing(at).loc["marketing_spend", "rows"] == 90


def test_a_sheet_opened_from_a_link_is_previewed_typed_paged_and_sorted(app, demo_dir):
    at = open_page(app, PAGE, "analyst", section="sheets", sheet="marketing_spend")
    assert at.selectbox(key="spreadsheets_sheet").value == "marketing_spend"
    assert "marketing_spend (CSV)" in [s.value for s in at.subheader]
    rows = csv_rows(demo_dir)
    df = preview(at)
    assert len(df) == 20 and list(df.columns) == list(rows[0])
    assert str(df["spend_krw"].dtype) == "int64"  # typed, not text
    assert df["month"].iloc[0].isoformat()[:10] == min(r["month"] for r in rows)
    assert any(c.value.startswith(f"Rows 1–20 of {len(rows)}") for c in at.caption)
    # The next page.
    at.button(key=f"{MS}_page_next").click().run()
    assert any(c.value.startswith(f"Rows 21–40 of {len(rows)}") for c in at.caption)
    assert at.query_params["page"] == "2"
    # Sorted by spend, highest first: back to page 1, the sort in the URL.
    at.selectbox(key=f"{MS}_sort_by").set_value("spend_krw")
    at.selectbox(key=f"{MS}_sort_dir").set_value("desc").run()
    df = preview(at)
    assert df["spend_krw"].iloc[0] == max(int(r["spend_krw"]) for r in rows)
    assert list(df["spend_krw"]) == sorted(df["spend_krw"], reverse=True)
    assert at.query_params["sort"] == "-spend_krw"
    assert at.query_params["sheet"] == "marketing_spend"
    assert "page" not in at.query_params
    # The link opens the same view.
    again = open_page(app, PAGE, "analyst", sheet="marketing_spend", sort="-spend_krw")
    assert list(preview(again)["spend_krw"]) == list(df["spend_krw"])
    # Another sheet starts from its own first page and sort.
    at.selectbox(key="spreadsheets_sheet").set_value("store_sales").run()
    assert not at.exception
    assert "store_sales (XLSX)" in [s.value for s in at.subheader]
    assert "sort" not in at.query_params and at.query_params["sheet"] == "store_sales"


def test_a_bad_cell_is_named_by_its_address_and_the_rest_of_the_sheet_shows(app, demo_dir):
    path = demo_dir / "marketing_spend.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    month, channel, _, *rest = lines[6].split(",")  # spreadsheet row 7: header is row 1
    lines[6] = ",".join([month, channel, '"12,3x"', *rest])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = open_page(app, PAGE, "analyst", sheet="marketing_spend")
    assert listing(at).loc["marketing_spend", "state"] == "1 bad cell"
    assert listing(at).loc["store_sales", "state"] == "ok"
    problems = at.dataframe[2].value
    assert problems.to_dict("records") == [
        {
            "cell": "C7",
            "row": 7,
            "column": "C",
            "header": "spend_krw",
            "expected": problems["expected"].iloc[0],
            "found": problems["found"].iloc[0],
        }
    ]
    assert "whole number" in problems["expected"].iloc[0]
    assert "12,3x" in problems["found"].iloc[0]
    assert any("do not fit their declared type" in w.value for w in at.warning)
    # Every row is there, the bad cell empty.
    assert any(c.value.startswith("Rows 1–20 of 90") for c in at.caption)
    at.selectbox(key=f"{MS}_sort_by").set_value("spend_krw").run()
    df = preview(at)  # ascending, NULLs last: the bad cell is on the last page
    assert df["spend_krw"].notna().all()


def test_an_unreadable_sheet_says_why_in_one_line_and_the_others_still_list(app, demo_dir):
    (demo_dir / "store_sales.xlsx").write_bytes(b"not a workbook")
    at = open_page(app, PAGE, "analyst", sheet="store_sales")
    (error,) = [e.value for e in at.error]
    assert "store" in error and "XLSX" in error and str(demo_dir) not in error
    sheets = listing(at)
    assert list(sheets.index) == ["marketing_spend", "store_sales"]
    assert sheets.loc["store_sales", "state"] == (
        "cannot be read: store_sales.xlsx is not an XLSX workbook"
    )
    assert sheets.loc["marketing_spend", "kind"] == "CSV"
    # The other sheet of the source still loads: its rows, types and a preview.
    assert sheets.loc["marketing_spend", "rows"] == len(csv_rows(demo_dir))
    assert sheets.loc["marketing_spend", "state"] == "ok"
    assert "spend_krw: int" in sheets.loc["marketing_spend", "types"]
    at.selectbox(key="spreadsheets_sheet").set_value("marketing_spend").run()
    assert not at.error and len(preview(at)) == 20


def test_a_missing_sheet_file_leaves_the_other_sheet_and_pages_working(app, demo_dir):
    (demo_dir / "marketing_spend.csv").unlink()
    at = open_page(app, PAGE, "analyst")
    assert not at.error  # nothing opened: the reason is in the list
    sheets = listing(at)
    assert sheets.loc["marketing_spend", "state"] == (
        "cannot be read: file not found: marketing_spend.csv"
    )
    assert sheets.loc["store_sales", "rows"] == xlsx_rows(demo_dir)
    at.selectbox(key="spreadsheets_sheet").set_value("store_sales").run()
    assert not at.error and "store_sales (XLSX)" in [s.value for s in at.subheader]


def test_a_broken_declaration_file_is_named_and_the_app_still_works(app, demo_dir):
    (demo_dir / "sheets.d").mkdir(exist_ok=True)
    (demo_dir / "sheets.d" / "budget.toml").write_text("columns = [", encoding="utf-8")
    at = open_page(app, PAGE, "analyst")
    (warning,) = [w.value for w in at.warning]
    assert "budget.toml is skipped: cannot be read (TOMLDecodeError)" in warning
    assert str(demo_dir) not in warning
    sheets = listing(at)  # the declared sheets are all there and load
    assert list(sheets.index) == ["marketing_spend", "store_sales"]
    assert set(sheets["state"]) == {"ok"}
    # Another page works too.
    orders = open_page(app, "app_pages/orders.py", "operator")
    assert not orders.error and orders.dataframe


def test_a_hostile_sheet_or_section_in_the_link_is_ignored_with_a_note(app):
    at = open_page(app, PAGE, "analyst", section="**x**", sheet="orders; DROP TABLE x")
    notes = [c.value for c in at.caption]
    assert any(n.startswith("Ignored section") for n in notes)
    assert any(n.startswith("Ignored sheet 'orders; DROP TABLE x'") for n in notes)
    assert at.selectbox(key="spreadsheets_sheet").value is None
    assert len(at.dataframe) == 1  # the list only, no preview
    assert "sheet" not in at.query_params and "section" not in at.query_params


@pytest.mark.parametrize(
    "principal",
    [
        Principal("support", "Support", ("support",)),
        Principal("operator", "Operator", ("operator",)),
        Principal("seller1", "Seller One", ("seller",), tenant=1),
    ],
    ids=lambda p: p.username,
)
def test_other_roles_cannot_open_the_page(app, principal):
    at = run_page_file(principal, PAGE)
    assert [e.value for e in at.error] == [NOT_PERMITTED]
    assert not at.title and not at.dataframe


def test_a_hostile_sort_or_page_on_an_opened_sheet_opens_its_first_page(app):
    at = open_page(app, PAGE, "analyst", sheet="marketing_spend", sort='-"x; --', page="9" * 40)
    assert any(c.value.startswith("Rows 1–20 of 90") for c in at.caption)
    at = open_page(app, PAGE, "analyst", sheet="marketing_spend", page="99")
    assert any(c.value.startswith("Rows 81–90 of 90") for c in at.caption)  # the last page


# --- each section's URL parameters ------------------------------------------------------


def switch(at, section: str):
    at.segmented_control(key="spreadsheets_section").set_value(section).run()
    assert not at.exception, at.exception
    return at


def test_a_switch_of_section_leaves_the_previous_sections_parameters_behind(app):
    at = open_page(app, PAGE, "admin", section="combine", view="stores", chart="line")
    assert at.query_params["view"] == "stores"
    switch(at, "import")
    assert at.query_params["section"] == "import"
    assert "view" not in at.query_params and "chart" not in at.query_params
    assert set(at.query_params) == {"section", "sheet", "target"}


def test_a_sheet_picked_in_import_does_not_open_in_sheets(app):
    at = open_page(app, PAGE, "admin", section="import", sheet="store_sales")
    assert at.query_params["sheet"] == "store_sales"
    switch(at, "sheets")
    assert at.selectbox(key="spreadsheets_sheet").value is None  # Sheets' own: none opened
    assert "sheet" not in at.query_params and "target" not in at.query_params
    assert len(at.dataframe) == 1  # the list only, no preview
    at.selectbox(key="spreadsheets_sheet").set_value("store_sales").run()
    assert at.query_params["sheet"] == "store_sales"
    switch(at, "import")  # and back: Import starts from its own defaults, not Sheets' pick
    assert at.selectbox(key="import_sheet").value == "marketing_spend"  # the first sheet
    assert set(at.query_params) == {"section", "sheet", "target"}


def test_a_link_keeps_only_the_open_sections_parameters(app):
    at = open_page(app, PAGE, "analyst", section="import", sheet="store_sales", view="x", page="3")
    assert at.selectbox(key="import_sheet").value == "store_sales"  # its own is read
    assert set(at.query_params) == {"section", "sheet", "target"}
    at = open_page(app, PAGE, "analyst", sheet="marketing_spend", target="store_sales")
    assert any(c.value.startswith("Rows 1–20 of 90") for c in at.caption)  # Sheets' preview
    assert "target" not in at.query_params and at.query_params["sheet"] == "marketing_spend"


def test_a_link_to_another_section_opened_on_a_later_visit_keeps_its_parameters(app):
    at = open_page(app, PAGE, "admin")  # Sheets, remembered as the open section
    assert at.session_state["spreadsheets_open"] == "sheets"
    at.switch_page("app_pages/orders.py").run()  # another page: the section control is gone
    assert not at.exception, at.exception
    for name in list(at.query_params):
        del at.query_params[name]
    # Then a link to Combine, with its own parameters, is opened in the same session.
    for name, value in {"section": "combine", "view": "stores", "chart": "line"}.items():
        at.query_params[name] = value
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.session_state["spreadsheets_section"] == "combine"
    assert at.query_params["view"] == "stores" and at.query_params["chart"] == "line"
