"""Uploaded CSV/XLSX files read into rows, each malformed case refused in one line, and
Google Sheets links read into their key and gid."""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import replace
from datetime import datetime

import openpyxl
import pytest

from lib.actions import sheet_export
from lib.reading.sources import google_sheets, sheet_upload
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.sheet_upload import (
    UploadInvalid,
    parse_google_url,
    read_google,
    read_sheet,
    read_upload,
)
from tests.fakes.server import start_app_in_thread
from tests.fakes.sheets_api import create_app

MB = 1_000_000
CSV = b"month,channel,spend_krw\n2026-01,search,1000\n2026-02,social,2000\n"


def read(name: str, data: bytes, **kw) -> list[list]:
    return read_upload(name, data, max_bytes=kw.pop("max_bytes", MB), timeout_s=5, **kw)


def xlsx(rows: list[list], *, merge: str | None = None, title: str = "Sales") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def refused(name: str, data: bytes, **kw) -> str:
    with pytest.raises(UploadInvalid) as err:
        read(name, data, **kw)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_csv_rows_header_first_byte_order_mark_dropped():
    assert read("spend.csv", b"\xef\xbb\xbf" + CSV) == [
        ["month", "channel", "spend_krw"],
        ["2026-01", "search", "1000"],
        ["2026-02", "social", "2000"],
    ]


def test_xlsx_rows_keep_cell_types_and_name_the_worksheet():
    data = xlsx([["month", "revenue"], [datetime(2026, 1, 1), 1200], [datetime(2026, 2, 1), 900]])
    got = read_sheet("sales.xlsx", data, max_bytes=MB, timeout_s=5)
    assert got.rows == [
        ["month", "revenue"],
        [datetime(2026, 1, 1), 1200],
        [datetime(2026, 2, 1), 900],
    ]
    assert (got.sheet, got.sheets) == ("Sales", ("Sales",))


def test_too_big_is_refused_before_reading():
    assert refused("spend.csv", CSV, max_bytes=10) == (
        f"spend.csv is {len(CSV) / MB:.1f} MB; the limit is 0.0 MB per upload"
    )
    assert "the limit is 20.0 MB" in refused("big.csv", b"x" * (20 * MB + 1), max_bytes=20 * MB)


@pytest.mark.parametrize("name", ["notes.txt", "macro.xlsm", "old.xls", "noextension"])
def test_unknown_extension(name):
    assert "upload a .csv or .xlsx file" in refused(name, CSV)


def test_not_utf8_names_the_byte():
    data = "month,store\n2026-01,강남\n".encode("euc-kr")
    assert refused("sales.csv", data) == (
        "sales.csv is not UTF-8 text (byte 21); save it as CSV UTF-8"
    )


@pytest.mark.parametrize(
    "data", [b"this is not a zip", xlsx([["a"], [1]])[:200], b"PK\x03\x04broken"]
)
def test_broken_zip(data):
    assert refused("sales.xlsx", data) == (
        "sales.xlsx is not a readable XLSX workbook (broken or not a zip file)"
    )


def test_a_zip_that_is_not_a_workbook():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    assert "not a readable XLSX workbook" in refused("sales.xlsx", buf.getvalue())


def test_zip_that_inflates_far_beyond_the_limit():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/big.xml", b"0" * (5 * MB))
    assert "too large to read" in refused("bomb.xlsx", buf.getvalue(), max_bytes=100_000)


def test_the_unpacked_size_is_capped_at_five_times_the_limit_and_absolutely():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/big.xml", b"0" * (6 * 100_000))
    assert "unpacks to 0.6 MB" in refused("bomb.xlsx", buf.getvalue(), max_bytes=100_000)
    assert sheet_upload.MAX_UNPACKED <= 100_000_000


def test_the_same_upload_is_parsed_once(monkeypatch):
    real, calls = sheet_upload._xlsx, []

    def counted(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(sheet_upload, "_xlsx", counted)
    data = xlsx([["store", "n"], ["a", 1]])
    first = read("sales.xlsx", data)
    assert read("sales.xlsx", data) == first  # the page's rerun, then the action's check
    assert calls == ["sales.xlsx"]
    formula = xlsx([["a"], ["=1+1"]])
    for _ in range(2):  # a refusal is remembered too
        with pytest.raises(UploadInvalid, match="formula"):
            read("f.xlsx", formula)
    assert calls == ["sales.xlsx", "f.xlsx"]


def test_formula_cell_names_its_address():
    data = xlsx([["month", "a", "b", "total"], ["2026-01", 1, 2, "=B2+C2"]])
    assert refused("sales.xlsx", data) == (
        "sales.xlsx: cell D2 holds a formula; paste values only (Paste special → Values) "
        "and upload again"
    )


def test_merged_header_cells():
    data = xlsx([["revenue", None, "orders"], [1, 2, 3]], merge="A1:B1")
    assert refused("sales.xlsx", data) == "sales.xlsx: header cells A1:B1 are merged; unmerge them"


def test_merged_data_cells_are_not_a_header_problem():
    data = xlsx([["store", "note"], ["a", "x"], ["b", None]], merge="B2:B3")
    assert read("sales.xlsx", data)[0] == ["store", "note"]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.csv", b"", "the sheet is empty"),
        ("blank.csv", b",,\n,,\n", "the sheet is empty"),
        ("empty.xlsx", xlsx([]), "the sheet is empty"),
        ("header.csv", b"month,spend\n", "the sheet has a header but no data rows"),
        ("gap.csv", b",,\nmonth,1\n2026,2\n", "the first row must be the header"),
    ],
)
def test_empty_sheet(name, data, reason):
    assert refused(name, data) == f"{name}: {reason}" + (
        ", and it is empty" if "first row" in reason else ""
    )


def test_a_read_past_the_timeout_is_refused(monkeypatch):
    real = sheet_upload._csv

    def slow(*args):
        time.sleep(1)
        return real(*args)

    monkeypatch.setattr(sheet_upload, "_csv", slow)
    with pytest.raises(UploadInvalid, match=r"^spend.csv took longer than 0.2 s to read$"):
        read_upload("spend.csv", CSV, max_bytes=MB, timeout_s=0.2)
    # The timeout is not cached: once the server is less busy, the same file reads.
    monkeypatch.setattr(sheet_upload, "_csv", real)
    assert read_upload("spend.csv", CSV, max_bytes=MB, timeout_s=0.2)[0][0] == "month"


def test_a_missing_worksheet_lists_those_there_are():
    with pytest.raises(UploadInvalid, match="has no worksheet 'Other' \\(it has: Sales\\)"):
        read("sales.xlsx", xlsx([["a"], [1]]), sheet="Other")


def test_malformed_input_is_a_sheet_invalid_for_callers_that_catch_that():
    from lib.errors import SheetInvalid

    with pytest.raises(SheetInvalid):
        read("x.txt", CSV)


KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcd"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0", (KEY, 0)),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit?gid=123#gid=123", (KEY, 123)),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit", (KEY, None)),
        (f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/", (KEY, None)),
        (f"  {KEY}  ", (KEY, None)),
    ],
)
def test_parse_google_url(url, expected):
    assert parse_google_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a link",
        f"https://evil.example/spreadsheets/d/{KEY}/edit",
        f"ftp://docs.google.com/spreadsheets/d/{KEY}",
        "https://docs.google.com/document/d/abc/edit",
        "https://docs.google.com/spreadsheets/d/short/edit",
    ],
)
def test_parse_google_url_refuses_other_links(url):
    with pytest.raises(UploadInvalid, match="^Not a Google Sheets link"):
        parse_google_url(url)


def test_a_gid_that_is_not_ascii_digits_is_ignored():
    assert parse_google_url(f"https://docs.google.com/spreadsheets/d/{KEY}/edit?gid=١٢") == (
        KEY,
        None,
    )


# --- Google Sheets through the service account (the local fake of the Sheets v4 API) ----


@pytest.fixture
def google():
    store = {KEY: {"Spend": [["month", "spend"], ["2026-01", "10"]], "Other": [["a"], ["1"]]}}
    url, stop = start_app_in_thread(create_app(store))
    secret = json.dumps({"client_email": "reader@proj.iam.gserviceaccount.com"})
    cfg = SourceConfig(
        name="sheets",
        kind="sheet",
        ttl=60,
        options={"sheets_api_url": url, "timeout": 5},
        secrets={"service_account_json": secret},
    )
    yield cfg
    stop()


def test_google_sheet_read_by_title_by_gid_or_first(google):
    first = read_google(google, KEY)
    assert (first.sheet, first.rows, first.sheets) == (
        "Spend",
        [["month", "spend"], ["2026-01", "10"]],
        ("Spend", "Other"),
    )
    assert read_google(google, KEY, gid=1).sheet == "Other"
    assert read_google(google, KEY, worksheet="Other").rows == [["a"], ["1"]]


def test_a_sheet_the_account_cannot_open_says_what_to_share_with_whom(google):
    with pytest.raises(UploadInvalid) as err:
        read_google(google, "1NotSharedWithTheServiceAccount000")
    assert str(err.value) == (
        "The service account cannot open spreadsheet 1NotSharedWithTheServiceAccount000: "
        "share it with reader@proj.iam.gserviceaccount.com (Viewer is enough) and try again."
    )


def test_a_missing_worksheet_of_a_google_sheet(google):
    with pytest.raises(UploadInvalid, match=f"^Spreadsheet {KEY} has no worksheet 'Nope'$"):
        read_google(google, KEY, worksheet="Nope")


@pytest.mark.parametrize(
    "url",
    [
        f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/edit#gid=7",
        f"https://docs.google.com/spreadsheets/u/0/d/{KEY}/edit?gid=7",
    ],
)
def test_a_second_accounts_link_is_one_parse_for_connect_and_export(url):
    # /u/1/: copied while signed in to a second Google account; export takes it the same way.
    assert parse_google_url(url) == (KEY, 7) == google_sheets.parse_google_url(url)
    assert sheet_export.spreadsheet_key(url) == KEY


def test_a_google_sheet_is_read_in_ranges_up_to_a_row_cap(google, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(google_sheets, "_sleep", waits.append)
    rows = [["month", "spend"]] + [[f"2026-{i % 12 + 1:02d}", str(i)] for i in range(25)]
    rows[10] = []  # an empty row keeps the rows below at their place
    store = {KEY: {"Big": rows}}
    app = create_app(store, fail_first=1)  # the first request is rate limited: tried again
    url, stop = start_app_in_thread(app)
    try:
        cfg = replace(google, options={**google.options, "sheets_api_url": url, "range_rows": 10})
        read = read_google(cfg, KEY)
        assert read.rows[0] == ["month", "spend"] and len(read.rows) == 26
        assert read.rows[10] == ["", ""] and read.rows[25] == ["2026-01", "24"]
        assert app.state.ranges[:2] == ["'Big'!A1:Z1", "'Big'!A2:B11"]  # not get_all_values
        assert waits == [1.0]
        with pytest.raises(UploadInvalid, match="more than 20 rows"):
            read_google(cfg, KEY, max_rows=20)
    finally:
        stop()
