"""The Spreadsheets page's Import section: a declared sheet into the shop database through
sheet.import_rows — a dry run first (new / changed / unchanged, every invalid cell by its
address), then all or nothing, and a re-import that changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook

from lib.config import runtime
from lib.ui.spreadsheets_import import DRY_KEY, GO_KEY, SHEET_KEY, TARGET_KEY
from tests.pages.helpers import open_page
from tests.stack import shop

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"


def sheet_rows(demo_dir: Path) -> int:
    with open(demo_dir / "marketing_spend.csv", newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def counts(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def click(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def imported(demo_dir: Path) -> list[tuple]:
    return shop(
        demo_dir, "SELECT month, channel, spend_krw, import_request_id FROM marketing_spend"
    )


def test_dry_run_then_import_then_a_re_import_changes_nothing(app, demo_dir):
    n = sheet_rows(demo_dir)
    at = open_page(app, PAGE, "analyst", section="import")
    assert at.selectbox(key=SHEET_KEY).value == "marketing_spend"
    assert at.selectbox(key=TARGET_KEY).value == "marketing_spend"  # same name by default
    assert at.button(key=GO_KEY).disabled  # a dry run comes first
    # Each target column mapped to the sheet's column of the same name.
    assert at.selectbox(key="import_map_marketing_spend_marketing_spend_clicks").value == "clicks"
    assert at.query_params["section"] == "import"
    assert at.query_params["sheet"] == "marketing_spend"
    assert at.query_params["target"] == "marketing_spend"

    click(at, DRY_KEY)
    assert counts(at) == {"New rows": f"{n}", "Changed rows": "0", "Unchanged rows": "0"}
    assert not at.button(key=GO_KEY).disabled

    click(at, GO_KEY)
    [done] = at.success
    assert done.value.startswith(f"Imported {n} rows into marketing_spend: {n} new")
    rows = imported(demo_dir)
    assert len(rows) == n
    request_id = rows[0][3]
    assert f"Audit row: request {request_id}." in done.value
    assert at.button(key=GO_KEY).disabled  # the dry run's counts are stale now

    click(at, DRY_KEY)
    assert counts(at) == {"New rows": "0", "Changed rows": "0", "Unchanged rows": f"{n}"}
    assert any("Nothing would change" in i.value for i in at.info)
    click(at, GO_KEY)
    [again] = at.success
    assert again.value.startswith(f"Nothing changed: all {n} rows are already in marketing")
    assert imported(demo_dir) == rows  # the same rows, the first import's request id


def test_every_invalid_cell_is_listed_and_nothing_can_be_imported(app, demo_dir):
    path = demo_dir / "marketing_spend.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    month, channel, _, *rest = lines[6].split(",")  # spreadsheet row 7: header is row 1
    lines[6] = ",".join([month, channel, '"12,3x"', *rest])
    month, channel, spend, _, signups = lines[9].split(",")  # row 10
    lines[9] = ",".join([month, channel, spend, "many", signups])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    at = open_page(app, PAGE, "analyst", section="import", sheet="marketing_spend")
    click(at, DRY_KEY)
    [grid] = at.dataframe  # the only grid of the section: the problems
    problems = grid.value
    assert list(problems["Cell"]) == ["C7", "D10"]
    assert list(problems["Column"]) == ["spend_krw", "clicks"]
    assert "12,3x" in problems["Found"].iloc[0]
    assert "whole number" in problems["Expected"].iloc[1]
    assert any("2 invalid cells" in e.value for e in at.error)
    assert at.button(key=GO_KEY).disabled
    assert shop(demo_dir, "SELECT name FROM sqlite_master WHERE name = 'marketing_spend'") == []


def test_problems_name_the_real_row_when_the_sheet_has_blank_rows(app, demo_dir):
    path = demo_dir / "marketing_spend.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1:1] = ["", ",,,,"]  # spreadsheet rows 2 and 3 blank: not loaded into DuckDB
    month, channel, _, *rest = lines[6].split(",")  # spreadsheet row 7, the 4th loaded
    lines[6] = ",".join([month, channel, "", *rest])  # required: only the target refuses it
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    at = open_page(app, PAGE, "analyst", section="import", sheet="marketing_spend")
    click(at, DRY_KEY)
    [grid] = at.dataframe
    assert list(grid.value["Cell"]) == ["C7"]  # not C5, its place among the loaded rows
    assert at.button(key=GO_KEY).disabled
    options = at.selectbox(key="import_map_marketing_spend_marketing_spend_clicks").options
    assert "_row" not in options  # the hidden row number is not a column to map


def test_a_changed_row_in_the_sheet_is_updated_by_its_key(app, demo_dir):
    at = open_page(app, PAGE, "admin", section="import", sheet="store_sales")
    assert at.selectbox(key=TARGET_KEY).value == "store_sales"
    click(click(at, DRY_KEY), GO_KEY)
    before = shop(demo_dir, "SELECT month, store, revenue_krw FROM store_sales ORDER BY id")

    wb = load_workbook(demo_dir / "store_sales.xlsx")
    ws = wb["Sales"]
    header = [c.value for c in ws[1]]
    ws.cell(row=2, column=header.index("revenue_krw") + 1, value=1)
    wb.save(demo_dir / "store_sales.xlsx")
    runtime.engine().refresh("sheets")  # the engine is per process; its TTL would keep the old

    at = open_page(app, PAGE, "admin", section="import", sheet="store_sales")
    click(at, DRY_KEY)
    total = len(before)
    assert counts(at) == {"New rows": "0", "Changed rows": "1", "Unchanged rows": f"{total - 1}"}
    click(at, GO_KEY)
    assert at.success[0].value.startswith("Imported 1 rows into store_sales: 0 new, 1 changed")
    after = shop(demo_dir, "SELECT month, store, revenue_krw FROM store_sales ORDER BY id")
    assert after[0][2] == 1 and after[1:] == before[1:]


def test_a_hostile_sheet_or_target_in_the_link_is_ignored_with_a_note(app):
    at = open_page(
        app, PAGE, "analyst", section="import", sheet="../etc/passwd", target="customers"
    )
    notes = [c.value for c in at.caption]
    assert any("Ignored sheet" in n for n in notes)
    assert any("Ignored target 'customers'" in n for n in notes)
    assert at.selectbox(key=SHEET_KEY).value == "marketing_spend"
    assert at.selectbox(key=TARGET_KEY).value == "marketing_spend"
