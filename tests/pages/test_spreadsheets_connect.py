"""Spreadsheets, Connect section: an admin uploads a CSV, the types are inferred and one is
corrected, bad cells are listed by address, Save declares the table (the Sheets section
lists it); an analyst gets no connect form; a malformed file gets its one-line reason and
nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.config.settings import load_settings
from tests.pages.helpers import open_page

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"
CSV = (
    b"month,store_code,revenue_krw,open\n"
    b"2026-01,007,1200000,yes\n"
    b"2026-02,012,98x,no\n"
    b"2026-03,031,1500000,yes\n"
)


def written(demo_dir: Path) -> list[str]:
    return sorted(
        str(p.relative_to(demo_dir))
        for d in ("sheets.d", "uploads")
        if (demo_dir / d).exists()
        for p in (demo_dir / d).iterdir()
    )


def upload(at, name: str, data: bytes):
    at.file_uploader(key="connect_file").set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def types(at) -> dict[str, str]:
    return {s.label: s.value for s in at.selectbox if s.key.startswith("connect_type_")}


def test_admin_uploads_a_csv_corrects_a_type_and_saves(app, demo_dir):
    at = open_page(app, PAGE, "admin", section="connect")
    assert at.segmented_control(key="spreadsheets_section").value == "connect"
    upload(at, "Store revenue 2026.csv", CSV)

    assert at.text_input(key="connect_table").value == "store_revenue_2026"
    # One bad cell makes revenue_krw look like text: every cell fits what was inferred.
    assert types(at) == {
        "month": "date",
        "store_code": "int",
        "revenue_krw": "text",
        "open": "bool",
    }
    assert "Every cell fits its column's type." in [c.value for c in at.caption]

    # The admin corrects it (a whole number) and store_code (labels: "007" stays "007").
    at.selectbox(key="connect_type_2").set_value("int").run()
    at.selectbox(key="connect_type_1").set_value("text").run()
    assert types(at) == {
        "month": "date",
        "store_code": "text",
        "revenue_krw": "int",
        "open": "bool",
    }
    problems = at.dataframe[0].value  # the only grid of the section
    assert problems.to_dict("records") == [
        {"Cell": "C3", "Column": "revenue_krw", "Expected": "a whole number", "Found": "'98x'"}
    ]
    assert "1 cells do not fit" in at.warning[0].value
    at.text_input(key="connect_table").input("store_revenue").run()
    assert written(demo_dir) == []  # nothing before Save
    at.button(key="connect_save").click().run()

    assert not at.exception, at.exception
    assert [s.value for s in at.success] == [
        "Connected store_revenue (4 columns); it is in the Sheets list now."
    ]
    assert written(demo_dir) == ["sheets.d/store_revenue.toml", "uploads/store_revenue.csv"]
    spec = load_settings().source("sheets").options["tables"]["store_revenue"]
    assert spec["columns"] == {
        "month": "date",
        "store_code": "text",
        "revenue_krw": "int",
        "open": "bool",
    }

    at.segmented_control(key="spreadsheets_section").set_value("sheets").run()
    assert not at.exception, at.exception
    listed = at.dataframe[0].value.set_index("sheet")
    assert "store_revenue" in listed.index
    assert listed.loc["store_revenue", "rows"] == 3


def test_an_analyst_sees_no_connect_form(app, demo_dir):
    at = open_page(app, PAGE, "analyst", section="connect")
    assert "connect" not in at.segmented_control(key="spreadsheets_section").options
    assert not at.file_uploader
    assert not [b for b in at.button if b.key == "connect_save"]
    assert written(demo_dir) == []


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (
            "sales.csv",
            "month,store\n2026-01,강남\n".encode("euc-kr"),
            "sales.csv is not UTF-8 text (byte 21); save it as CSV UTF-8",
        ),
        (
            "sales.xlsx",
            b"PK\x03\x04 not really a workbook",
            "sales.xlsx is not a readable XLSX workbook (broken or not a zip file)",
        ),
        ("empty.csv", b"month,store\n", "empty.csv: the sheet has a header but no data rows"),
    ],
)
def test_a_malformed_file_gets_its_reason_and_nothing_is_saved(app, demo_dir, name, data, reason):
    at = open_page(app, PAGE, "admin", section="connect")
    upload(at, name, data)
    assert [e.value for e in at.error] == [reason]
    assert not [b for b in at.button if b.key == "connect_save"]
    assert not [s for s in at.selectbox if s.key.startswith("connect_type_")]
    assert written(demo_dir) == []


def test_a_name_already_taken_is_refused_before_save(app, demo_dir):
    at = open_page(app, PAGE, "admin", section="connect")
    upload(at, "spend.csv", CSV)
    at.text_input(key="connect_table").input("marketing_spend").run()
    assert [e.value for e in at.error] == [
        "table: 'marketing_spend' already exists; choose another name"
    ]
    assert not [b for b in at.button if b.key == "connect_save"]
