"""Spreadsheets, Connect section: an admin uploads a CSV, the types are inferred and one is
corrected, bad cells are listed by address, Save declares the table (the Sheets section
lists it); an analyst gets no connect form; a malformed file gets its one-line reason and
nothing is written."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import openpyxl
import pytest

from lib.config.settings import load_settings
from tests.fakes.server import start_app_in_thread
from tests.fakes.sheets_api import create_app
from tests.pages.helpers import apps_for, open_page
from tests.stack import write_config

pytestmark = pytest.mark.pages

PAGE = "app_pages/spreadsheets.py"
CSV = (
    b"month,store_code,revenue_krw,open\n"
    b"2026-01,007,1200000,yes\n"
    b"2026-02,012,98x,no\n"
    b"2026-03,031,1500000,yes\n"
)


def formula_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["store", "a", "b", "total"])
    wb.active.append(["Gangnam", 1, 2, "=B2+C2"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


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
    declared, kept = written(demo_dir)
    assert declared == "sheets.d/store_revenue.toml"
    assert re.fullmatch(r"uploads/store_revenue\.[0-9a-f]{32}\.csv", kept)  # this save's own
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
        (
            "totals.xlsx",
            formula_xlsx(),
            "totals.xlsx: cell D2 holds a formula; paste values only (Paste special → Values) "
            "and upload again",
        ),
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


# --- A Google Sheet, through the service account (the local fake of the Sheets v4 API) ----

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
EMAIL = "backoffice-reader@demo-project.iam.gserviceaccount.com"


@pytest.fixture
def google_app(tmp_path, demo_dir, monkeypatch):
    store = {
        KEY: {"Intro": [["read me"], ["x"]], "Budget": [["month", "amount"], ["2026-01", "5"]]}
    }
    url, stop = start_app_in_thread(create_app(store))
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8").replace(
        '[sources.sheets]\nkind = "sheet"\n',
        f'[sources.sheets]\nkind = "sheet"\nsheets_api_url = "{url}"\n'
        'service_account_json_secret = "gcp_service_account"\n',
    )
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("BACKOFFICE_SECRET_GCP_SERVICE_ACCOUNT", json.dumps({"client_email": EMAIL}))
    with apps_for(config, monkeypatch) as make:
        yield make
    stop()


def read_link(at, link: str):
    at.radio(key="connect_from").set_value("Google Sheets link").run()
    at.text_input(key="connect_url").input(link).run()
    at.button(key="connect_read").click().run()
    assert not at.exception, at.exception
    return at


def test_admin_connects_a_google_sheet_by_its_link(google_app, demo_dir):
    at = open_page(google_app, PAGE, "admin", section="connect")
    read_link(at, f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=1")
    assert types(at) == {"month": "date", "amount": "int"}
    assert at.text_input(key="connect_table").value == "budget"
    at.button(key="connect_save").click().run()
    assert not at.exception, at.exception
    assert written(demo_dir) == ["sheets.d/budget.toml"]
    assert load_settings().source("sheets").options["tables"]["budget"] == {
        "spreadsheet_key": KEY,
        "worksheet": "Budget",
        "columns": {"month": "date", "amount": "int"},
    }


def test_a_sheet_not_shared_with_the_service_account_says_with_whom_to_share(google_app, demo_dir):
    at = open_page(google_app, PAGE, "admin", section="connect")
    read_link(at, "https://docs.google.com/spreadsheets/d/1NotSharedWithUs0000000/edit")
    assert [e.value for e in at.error] == [
        "The service account cannot open spreadsheet 1NotSharedWithUs0000000: share it with "
        f"{EMAIL} (Viewer is enough) and try again."
    ]
    assert not [b for b in at.button if b.key == "connect_save"]
    assert written(demo_dir) == []
