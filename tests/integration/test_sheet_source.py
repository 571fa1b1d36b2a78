"""The `sheet` source against real files and, over real HTTP, gspread against a fake Sheets API."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest
import requests

from lib.errors import SheetInvalid, SourceUnavailable
from lib.reading.engine import Engine
from lib.reading.sources import google_sheets, sheet
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.cells import ROW, CellProblem
from tests.fakes.server import start_app_in_thread
from tests.fakes.sheets_api import create_app

pytestmark = pytest.mark.integration

SPEND_COLUMNS = {
    "month": "date",
    "channel": "text",
    "spend_krw": "int",
    "clicks": "int",
    "ctr": "float",
    "active": "bool",
}
SALES_COLUMNS = {"month": "date", "store": "text", "revenue_krw": "int", "orders": "int"}
SHEET_KEY = "1FakeSheetKey_abcdefghijklmnop"


def config(tables: dict, **options) -> SourceConfig:
    return SourceConfig(name="sheets", kind="sheet", options={"tables": tables, **options})


# --- CSV ------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    # utf-8-sig: what Excel writes as "CSV UTF-8"; the reader must not see the BOM.
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows(rows)
    return path


CSV_ROWS = [
    ["month", "channel", "spend_krw", "clicks", "ctr", "active", "note"],
    ["2025-05-01", "search", "1,250,000", "3400", "0.031", "TRUE", "검색 광고"],
    ["2025-06", "social", "980000", "", "0.5", "FALSE", ""],
]


def test_csv_loads_as_typed_table(tmp_path):
    write_csv(tmp_path / "spend.csv", CSV_ROWS)
    cfg = config({"spend": {"file": "spend.csv", "columns": SPEND_COLUMNS}}, base_dir=str(tmp_path))

    table = sheet.load(cfg)["spend"]

    assert table.schema == pa.schema(
        [
            ("month", pa.date32()),
            ("channel", pa.string()),
            ("spend_krw", pa.int64()),
            ("clicks", pa.int64()),
            ("ctr", pa.float64()),
            ("active", pa.bool_()),
            ("note", pa.string()),
            (ROW, pa.int64()),
        ]
    )
    assert table.drop_columns([ROW]).to_pylist() == [
        {
            "month": date(2025, 5, 1),
            "channel": "search",
            "spend_krw": 1_250_000,
            "clicks": 3400,
            "ctr": 0.031,
            "active": True,
            "note": "검색 광고",
        },
        {
            "month": date(2025, 6, 1),
            "channel": "social",
            "spend_krw": 980_000,
            "clicks": None,
            "ctr": 0.5,
            "active": False,
            "note": None,
        },
    ]


def test_csv_bad_cell_names_row_and_column(tmp_path):
    rows = [*CSV_ROWS, ["2025-07-01", "email", "12,5x", "1", "0.1", "TRUE", ""]]
    write_csv(tmp_path / "spend.csv", rows)
    cfg = config({"spend": {"file": "spend.csv", "columns": SPEND_COLUMNS}}, base_dir=str(tmp_path))

    loaded = sheet.load(cfg)

    # The bad cell is NULL and one problem; the rest of its row and the sheet still load.
    assert loaded.problems == {
        "spend": [CellProblem(4, "C", "spend_krw", "a whole number", "'12,5x'")]
    }
    assert str(loaded.problems["spend"][0]) == (
        "C4 (spend_krw): expected a whole number, found '12,5x'"
    )
    last = loaded["spend"].to_pylist()[-1]
    assert last["spend_krw"] is None
    assert (last["channel"], last["clicks"], last["active"]) == ("email", 1, True)
    assert loaded["spend"].num_rows == 3


def test_csv_missing_column_is_reported_on_the_header(tmp_path):
    write_csv(tmp_path / "spend.csv", [["month", "channel"], ["2025-05-01", "search"]])
    cfg = config({"spend": {"file": "spend.csv", "columns": SPEND_COLUMNS}}, base_dir=str(tmp_path))

    with pytest.raises(SheetInvalid) as exc:
        sheet.load(cfg)

    assert (exc.value.row, exc.value.column) == (1, "spend_krw")
    assert exc.value.problem == "column is missing from the header"


def test_relative_paths_resolve_against_the_current_directory(tmp_path, monkeypatch):
    write_csv(tmp_path / "spend.csv", CSV_ROWS)
    monkeypatch.chdir(tmp_path)
    table = sheet.load(config({"spend": {"file": "spend.csv", "columns": SPEND_COLUMNS}}))["spend"]
    assert table.num_rows == 2


def test_missing_file_is_unavailable(tmp_path):
    cfg = config({"spend": {"file": "nope.csv", "columns": {}}}, base_dir=str(tmp_path))
    with pytest.raises(SourceUnavailable, match="file not found") as exc:
        sheet.load(cfg)
    assert exc.value.source == "sheets"
    assert "\n" not in str(exc.value)


def test_non_utf8_csv_is_unavailable(tmp_path):
    (tmp_path / "spend.csv").write_bytes("month,note\n2025-05-01,검색\n".encode("cp949"))
    cfg = config({"spend": {"file": "spend.csv", "columns": {}}}, base_dir=str(tmp_path))
    with pytest.raises(SourceUnavailable, match="not UTF-8"):
        sheet.load(cfg)


# --- XLSX -----------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list], sheet_name: str = "Sales") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet_name
    wb.create_sheet("Notes").append(["not this one"])
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


XLSX_ROWS = [
    ["month", "store", "revenue_krw", "orders", "manager"],
    [datetime(2025, 5, 1), "Gangnam", 1234.0, 57, "Kim"],  # a date cell; a number stored as float
    [date(2025, 6, 1), "Hongdae", 98_000_000, 61.0, None],
    ["2025-07", "Busan Seomyeon", "1,500", None, 3.0],  # typed-in text in numeric columns
]


def test_xlsx_loads_real_date_cells_and_whole_floats(tmp_path):
    write_xlsx(tmp_path / "sales.xlsx", XLSX_ROWS)
    cfg = config(
        {"sales": {"file": "sales.xlsx", "sheet": "Sales", "columns": SALES_COLUMNS}},
        base_dir=str(tmp_path),
    )

    table = sheet.load(cfg)["sales"]

    assert table.schema.types == [
        pa.date32(),
        pa.string(),
        pa.int64(),
        pa.int64(),
        pa.string(),
        pa.int64(),
    ]
    assert table.drop_columns([ROW]).to_pylist() == [
        {
            "month": date(2025, 5, 1),
            "store": "Gangnam",
            "revenue_krw": 1234,
            "orders": 57,
            "manager": "Kim",
        },
        {
            "month": date(2025, 6, 1),
            "store": "Hongdae",
            "revenue_krw": 98_000_000,
            "orders": 61,
            "manager": None,
        },
        {
            "month": date(2025, 7, 1),
            "store": "Busan Seomyeon",
            "revenue_krw": 1500,
            "orders": None,
            "manager": "3",
        },
    ]


def test_xlsx_bad_cell_names_row_and_column(tmp_path):
    rows = [*XLSX_ROWS, [datetime(2025, 8, 1), "Gangnam", 10.5, 3, None]]
    write_xlsx(tmp_path / "sales.xlsx", rows)
    cfg = config(
        {"sales": {"file": "sales.xlsx", "sheet": "Sales", "columns": SALES_COLUMNS}},
        base_dir=str(tmp_path),
    )

    loaded = sheet.load(cfg)

    assert loaded.problems["sales"] == [
        CellProblem(5, "C", "revenue_krw", "a whole number", "'10.5'")
    ]
    assert loaded["sales"].num_rows == 4
    assert loaded["sales"].drop_columns([ROW]).to_pylist()[-1] == {
        "month": date(2025, 8, 1),
        "store": "Gangnam",
        "revenue_krw": None,
        "orders": 3,
        "manager": None,
    }


def test_xlsx_bad_date_text(tmp_path):
    write_xlsx(tmp_path / "sales.xlsx", [*XLSX_ROWS, ["next month", "Gangnam", 1, 1]])
    cfg = config(
        {"sales": {"file": "sales.xlsx", "sheet": "Sales", "columns": SALES_COLUMNS}},
        base_dir=str(tmp_path),
    )
    loaded = sheet.load(cfg)
    (problem,) = loaded.problems["sales"]
    assert (problem.address, problem.header, problem.found) == ("A5", "month", "'next month'")
    assert problem.expected == "a date (YYYY-MM-DD or YYYY-MM)"
    assert loaded["sales"].column("month").to_pylist()[-1] is None


def test_xlsx_missing_column(tmp_path):
    write_xlsx(tmp_path / "sales.xlsx", [["month", "store"], [datetime(2025, 5, 1), "Gangnam"]])
    cfg = config(
        {"sales": {"file": "sales.xlsx", "sheet": "Sales", "columns": SALES_COLUMNS}},
        base_dir=str(tmp_path),
    )
    with pytest.raises(SheetInvalid) as exc:
        sheet.load(cfg)
    assert (exc.value.row, exc.value.column, exc.value.problem) == (
        1,
        "revenue_krw",
        "column is missing from the header",
    )


def test_xlsx_unknown_sheet_is_unavailable(tmp_path):
    write_xlsx(tmp_path / "sales.xlsx", XLSX_ROWS)
    cfg = config(
        {"sales": {"file": "sales.xlsx", "sheet": "Salez", "columns": SALES_COLUMNS}},
        base_dir=str(tmp_path),
    )
    with pytest.raises(SourceUnavailable, match="no sheet 'Salez'"):
        sheet.load(cfg)


def test_file_that_is_not_a_workbook_is_unavailable(tmp_path):
    (tmp_path / "sales.xlsx").write_text("month,store\n", encoding="utf-8")
    cfg = config({"sales": {"file": "sales.xlsx", "columns": {}}}, base_dir=str(tmp_path))
    with pytest.raises(SourceUnavailable, match="not an XLSX workbook"):
        sheet.load(cfg)


# --- Google Sheets through gspread, against the local fake over HTTP -------------------

SHEET_ROWS = [
    ["month", "channel", "spend_krw", "clicks", "ctr", "active"],
    ["2025-05-01", "search", "1,250,000", "3400", "0.031", "TRUE"],
    ["2025-06-01", "display", "410000", "", "0.02", "FALSE"],
]


@pytest.fixture
def sheets_api() -> Iterator[tuple[str, dict]]:
    store: dict = {SHEET_KEY: {"Sheet1": [list(r) for r in SHEET_ROWS], "Other": [["x"]]}}
    url, stop = start_app_in_thread(create_app(store))
    try:
        yield url, store
    finally:
        stop()


def google_config(url: str, worksheet: str = "Sheet1", key: str = SHEET_KEY) -> SourceConfig:
    spec = {"spreadsheet_key": key, "worksheet": worksheet, "columns": SPEND_COLUMNS}
    return config({"spend": spec}, sheets_api_url=url, timeout=5)


def test_google_sheet_loads_as_typed_table(sheets_api):
    url, _ = sheets_api

    table = sheet.load(google_config(url))["spend"]

    assert table.schema.types == [
        pa.date32(),
        pa.string(),
        pa.int64(),
        pa.int64(),
        pa.float64(),
        pa.bool_(),
        pa.int64(),  # ROW
    ]
    assert table.drop_columns([ROW]).to_pylist() == [
        {
            "month": date(2025, 5, 1),
            "channel": "search",
            "spend_krw": 1_250_000,
            "clicks": 3400,
            "ctr": 0.031,
            "active": True,
        },
        {
            "month": date(2025, 6, 1),
            "channel": "display",
            "spend_krw": 410_000,
            "clicks": None,
            "ctr": 0.02,
            "active": False,
        },
    ]


def test_google_sheet_through_a_given_session(sheets_api):
    url, _ = sheets_api
    cfg = google_config("http://unused.invalid")
    with sheet.RebasedSession(url) as session:
        assert sheet.load(cfg, session=session)["spend"].num_rows == 2


def test_google_sheet_bad_cell_names_row_and_column(sheets_api):
    url, store = sheets_api
    store[SHEET_KEY]["Sheet1"].append(["2025-07-01", "email", "5", "1", "0.1", "maybe"])

    loaded = sheet.load(google_config(url))

    assert loaded.problems["spend"] == [CellProblem(4, "F", "active", "true or false", "'maybe'")]
    assert loaded["spend"].num_rows == 3
    assert loaded["spend"].to_pylist()[-1]["active"] is None
    assert loaded["spend"].to_pylist()[-1]["spend_krw"] == 5


def test_google_sheet_missing_column(sheets_api):
    url, _ = sheets_api
    with pytest.raises(SheetInvalid) as exc:
        sheet.load(google_config(url, worksheet="Other"))
    assert (exc.value.row, exc.value.column) == (1, "month")
    assert exc.value.problem == "column is missing from the header"


def test_unknown_spreadsheet_key_is_unavailable(sheets_api):
    url, _ = sheets_api
    with pytest.raises(SourceUnavailable, match="spreadsheet not found") as exc:
        sheet.load(google_config(url, key="no-such-key"))
    assert exc.value.source == "sheets"


def test_unknown_worksheet_is_unavailable(sheets_api):
    url, _ = sheets_api
    with pytest.raises(SourceUnavailable, match="no worksheet 'Budget'"):
        sheet.load(google_config(url, worksheet="Budget"))


def test_sheets_api_down_is_unavailable():
    # A server that was there and is gone: its port now refuses connections.
    down_url, stop = start_app_in_thread(create_app({}))
    stop()

    with pytest.raises(SourceUnavailable, match="cannot connect") as exc:
        sheet.load(google_config(down_url))

    assert "\n" not in str(exc.value)


def test_missing_service_account_is_unavailable():
    cfg = config({"spend": {"spreadsheet_key": SHEET_KEY, "columns": {}}})
    with pytest.raises(SourceUnavailable, match="no Google service account"):
        sheet.load(cfg)


@pytest.mark.parametrize(
    "secret",
    [
        '{"type": "service_account", "private_key": "SECRETVALUE',  # not JSON
        '{"type": "service_account", "client_email": "a@b", "token_uri": "https://x",'
        ' "private_key": "-----BEGIN PRIVATE KEY-----SECRETVALUE-----END PRIVATE KEY-----"}',
    ],
)
def test_invalid_service_account_never_echoes_the_secret(secret):
    cfg = SourceConfig(
        name="sheets",
        kind="sheet",
        options={"tables": {"spend": {"spreadsheet_key": SHEET_KEY, "columns": {}}}},
        secrets={"service_account_json": secret},
    )
    with pytest.raises(SourceUnavailable, match="service_account_json secret is not") as exc:
        sheet.load(cfg)
    assert "SECRETVALUE" not in str(exc.value)
    assert exc.value.__cause__ is None and exc.value.__suppress_context__  # no traceback quote


def test_append_row_reaches_the_fake(sheets_api):
    url, store = sheets_api
    cfg = google_config(url)
    client = sheet.client_for(cfg)
    worksheet = client.open_by_key(SHEET_KEY).worksheet("Sheet1")

    response = worksheet.append_row(["2025-07-01", "email", "77000", "120", "0.01", "TRUE"])

    assert response["updates"]["updatedRows"] == 1
    assert response["updates"]["updatedRange"].startswith("'Sheet1'!A4")
    assert store[SHEET_KEY]["Sheet1"][-1] == ["2025-07-01", "email", "77000", "120", "0.01", "TRUE"]
    # ... and a fresh load reads it back, typed.
    table = sheet.load(cfg)["spend"]
    assert table.num_rows == 3
    assert table.column("spend_krw").to_pylist()[-1] == 77000


def test_rebased_session_leaves_other_urls_alone(sheets_api):
    url, _ = sheets_api
    with sheet.RebasedSession(url) as session:
        answer = session.get(f"{url}/v4/spreadsheets/{SHEET_KEY}", timeout=5)
        assert answer.json()["sheets"][0]["properties"]["title"] == "Sheet1"
        with pytest.raises(requests.ConnectionError):
            session.get("http://127.0.0.1:9/", timeout=2)


# --- bad cells never block the load; Engine.problems -----------------------------------


def test_personal_data_in_a_bad_cell_is_not_quoted(tmp_path):
    rows = [*CSV_ROWS, ["2025-07-01", "email", "010-1234-5678", "kim@example.com", "0.1", "1"]]
    write_csv(tmp_path / "spend.csv", rows)
    cfg = config({"spend": {"file": "spend.csv", "columns": SPEND_COLUMNS}}, base_dir=str(tmp_path))

    problems = sheet.load(cfg).problems["spend"]

    assert [(p.address, p.found) for p in problems] == [("C4", "the value"), ("D4", "the value")]
    assert "010" not in " ".join(map(str, problems)) and "kim@" not in " ".join(map(str, problems))


def test_engine_loads_a_sheet_with_bad_cells_and_exposes_its_problems(tmp_path):
    rows = [*CSV_ROWS, ["2025-07-01", "email", "12,5x", "1", "0.1", "maybe", ""]]
    write_csv(tmp_path / "spend.csv", rows)
    sheets = config(
        {"spend": {"file": "spend.csv", "columns": SPEND_COLUMNS}}, base_dir=str(tmp_path)
    )
    other = SourceConfig(name="api", kind="rest", options={})
    engine = Engine([sheets, other], tmp_path, loaders={"sheet": sheet.load, "rest": lambda c: {}})
    try:
        (status,) = [s for s in engine.status() if s.name == "sheets"]
        assert status.ok and status.tables == {"spend": 3}
        problems = engine.problems("sheets")
        assert [str(p) for p in problems["spend"]] == [
            "C4 (spend_krw): expected a whole number, found '12,5x'",
            "F4 (active): expected true or false, found 'maybe'",
        ]
        assert engine.problems("api") == {}

        write_csv(tmp_path / "spend.csv", CSV_ROWS)  # fixed in the sheet: gone after a refresh
        engine.refresh("sheets")
        assert engine.problems("sheets") == {"spend": []}
    finally:
        engine.close()


# --- Google Sheets: ranged reads and the 429 rate limit --------------------------------


def big_sheet(data_rows: int) -> list[list[str]]:
    rows = [list(SHEET_ROWS[0])]
    for i in range(data_rows):
        rows.append(["2025-05-01", f"ch{i}", str(i), "1", "0.5", "TRUE"])
    return rows


@pytest.fixture
def served() -> Iterator:
    stops = []

    def serve(store: dict, **options):
        app = create_app(store, **options)
        url, stop = start_app_in_thread(app)
        stops.append(stop)
        return url, app

    yield serve
    for stop in stops:
        stop()


def test_google_sheet_is_read_in_ranges_header_first(served):
    rows = big_sheet(1200)
    rows[700][2] = "lots"  # spreadsheet row 701
    for row_number in range(900, 1002):  # an empty stretch ending a range: Google trims it
        rows[row_number - 1] = []
    rows[1100][5] = "maybe"  # row 1101
    url, app = served({SHEET_KEY: {"Sheet1": rows}})
    cfg = google_config(url)
    cfg.options["tables"]["spend"]["columns"] = SPEND_COLUMNS
    cfg.options["range_rows"] = 500

    loaded = sheet.load(cfg)

    assert app.state.ranges == [
        "'Sheet1'!A1:Z1",
        "'Sheet1'!A2:F501",
        "'Sheet1'!A502:F1001",
        "'Sheet1'!A1002:F1201",
    ]
    assert loaded["spend"].num_rows == 1200 - 102
    assert [p.address for p in loaded.problems["spend"]] == ["C701", "F1101"]
    assert loaded["spend"].column("channel").to_pylist()[-1] == "ch1199"


def test_google_sheet_429_is_retried_with_backoff(served, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(google_sheets, "_sleep", waits.append)
    url, app = served({SHEET_KEY: {"Sheet1": [list(r) for r in SHEET_ROWS]}}, fail_first=3)
    cfg = google_config(url)
    cfg.options["retry_base_s"] = 0.5

    table = sheet.load(cfg)["spend"]

    assert table.num_rows == 2
    assert waits == [0.5, 1.0, 2.0]  # exponential
    assert app.state.fail_next == 0


def test_google_sheet_429_honours_retry_after(served, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(google_sheets, "_sleep", waits.append)
    store = {SHEET_KEY: {"Sheet1": [list(r) for r in SHEET_ROWS]}}
    url, app = served(store, fail_first=2, retry_after=7)

    assert sheet.load(google_config(url))["spend"].num_rows == 2
    assert waits == [7.0, 7.0]


def test_google_sheet_429_forever_is_one_line_unavailable(served, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(google_sheets, "_sleep", waits.append)
    url, app = served({SHEET_KEY: {"Sheet1": [list(r) for r in SHEET_ROWS]}}, fail_first=10**6)
    cfg = google_config(url)
    cfg.options["retries"] = 4

    with pytest.raises(SourceUnavailable, match="rate limit still exceeded after 4 tries") as exc:
        sheet.load(cfg)

    assert "\n" not in str(exc.value)
    assert len(waits) == 3  # between the 4 tries, then it gives up
    assert app.state.fail_next == 10**6 - 4


def test_xlsx_addresses_are_the_spreadsheets_when_data_does_not_start_at_a1(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"], ws["B1"] = "month", "orders"  # the header on row 1; data from row 3, B only
    ws["B3"], ws["B4"] = 5, "many"
    wb.save(tmp_path / "sales.xlsx")
    cfg = config(
        {"sales": {"file": "sales.xlsx", "columns": {"orders": "int"}}}, base_dir=str(tmp_path)
    )
    loaded = sheet.load(cfg)
    assert [p.address for p in loaded.problems["sales"]] == ["B4"]
    assert loaded["sales"].drop_columns([ROW]).to_pylist() == [
        {"month": None, "orders": 5},
        {"month": None, "orders": None},
    ]
    assert loaded["sales"].column(ROW).to_pylist() == [3, 4]  # row 2 is blank: not loaded

    wb = openpyxl.Workbook()
    wb.active["C3"], wb.active["C4"] = "orders", "x"  # the whole sheet off A1: header missing
    wb.save(tmp_path / "sales.xlsx")
    with pytest.raises(SheetInvalid, match="missing from the header"):
        sheet.load(cfg)

    wb = openpyxl.Workbook()
    wb.active["B1"], wb.active["B2"] = "orders", "x"  # nothing in column A at all
    wb.save(tmp_path / "sales.xlsx")
    assert [p.address for p in sheet.load(cfg).problems["sales"]] == ["B2"]


# --- one unreadable table: left out with its reason, the others load -------------------


def two_tables(tmp_path: Path, sales: dict, **options) -> SourceConfig:
    write_csv(tmp_path / "spend.csv", CSV_ROWS)
    spend = {"file": "spend.csv", "columns": SPEND_COLUMNS}
    return config({"spend": spend, "sales": sales}, base_dir=str(tmp_path), **options)


@pytest.mark.parametrize(
    ("make", "sales", "reason"),
    [
        (None, {"file": "gone.csv", "columns": SALES_COLUMNS}, "file not found: "),
        (
            lambda d: (d / "sales.xlsx").write_bytes(b"not a workbook"),
            {"file": "sales.xlsx", "columns": SALES_COLUMNS},
            "sales.xlsx is not an XLSX workbook",
        ),
        (
            lambda d: write_xlsx(d / "sales.xlsx", XLSX_ROWS),
            {"file": "sales.xlsx", "sheet": "Salez", "columns": SALES_COLUMNS},
            "has no sheet 'Salez'",
        ),
        (
            lambda d: write_xlsx(d / "sales.xlsx", XLSX_ROWS),
            {"file": "sales.xlsx", "columns": {"month": "date", "region": "text"}},
            "column 'region': column is missing from the header",
        ),
        (None, {"file": "sales.ods", "columns": {}}, "sales.ods is neither .csv nor .xlsx"),
        (None, {"columns": {}}, "needs `file` or `spreadsheet_key`"),
        (None, {"file": "x.csv", "columns": {"a": "money"}}, "unknown type 'money'"),
    ],
)
def test_an_unreadable_table_is_left_out_with_its_reason_and_the_others_load(
    tmp_path, make, sales, reason
):
    if make:
        make(tmp_path)

    loaded = sheet.load(two_tables(tmp_path, sales))

    assert list(loaded) == ["spend"] and loaded["spend"].num_rows == 2
    assert loaded.problems == {"spend": []}
    assert list(loaded.errors) == ["sales"]
    assert reason in loaded.errors["sales"] and "\n" not in loaded.errors["sales"]
    assert not loaded.errors["sales"].startswith("table 'sales'")  # listed under it already


def test_a_google_sheet_not_shared_is_left_out_and_the_csv_beside_it_loads(sheets_api, tmp_path):
    url, _ = sheets_api
    sales = {"spreadsheet_key": "not-shared-key", "columns": SPEND_COLUMNS}
    loaded = sheet.load(two_tables(tmp_path, sales, sheets_api_url=url, timeout=5))
    assert list(loaded) == ["spend"]
    assert loaded.errors == {
        "sales": "spreadsheet not found, or not shared with the service account"
    }


def test_a_google_sheet_without_a_service_account_is_left_out(tmp_path):
    loaded = sheet.load(two_tables(tmp_path, {"spreadsheet_key": SHEET_KEY, "columns": {}}))
    assert list(loaded) == ["spend"]
    assert "no Google service account configured" in loaded.errors["sales"]


def test_the_source_fails_only_when_no_table_could_be_read(tmp_path):
    cfg = config(
        {"spend": {"file": "a.csv", "columns": {}}, "sales": {"file": "b.csv", "columns": {}}},
        base_dir=str(tmp_path),
    )
    with pytest.raises(SourceUnavailable, match="no table could be read; 'spend': file not found"):
        sheet.load(cfg)
    with pytest.raises(SourceUnavailable, match="no tables configured"):
        sheet.load(config({}))


def query_dir(tmp_path: Path) -> Path:
    queries = tmp_path / "queries"
    queries.mkdir()
    for table in ("spend", "sales"):
        (queries / f"{table}_all.sql").write_text(
            f"-- sources: sheets\nSELECT * FROM sheets.{table}\n", encoding="utf-8"
        )
    return queries


def test_engine_serves_the_readable_tables_and_names_the_unreadable_one(tmp_path):
    write_xlsx(tmp_path / "sales.xlsx", XLSX_ROWS)
    cfg = two_tables(tmp_path, {"file": "sales.xlsx", "columns": SALES_COLUMNS})
    engine = Engine([cfg], query_dir(tmp_path), loaders={"sheet": sheet.load})
    try:
        assert len(engine.query("sales_all")) == 3 and engine.table_errors("sheets") == {}

        (tmp_path / "sales.xlsx").write_bytes(b"PK\x03\x04 broken")  # broken after a good load
        engine.refresh("sheets")

        reason = f"{tmp_path / 'sales.xlsx'} is not an XLSX workbook"
        assert engine.table_errors("sheets") == {"sales": reason}
        assert list(engine.problems("sheets")) == ["spend"]
        assert len(engine.query("spend_all")) == 2  # the other sheet still answers
        with pytest.raises(SourceUnavailable) as exc:
            engine.query("sales_all")  # its last copy is not served as if it were current
        assert (
            str(exc.value)
            == f"Source 'sheets' is unavailable: table 'sales' cannot be read: {reason}"
        )
        (status,) = engine.status()
        assert status.ok and status.tables == {"spend": 2}

        write_xlsx(tmp_path / "sales.xlsx", XLSX_ROWS)  # fixed: back after a refresh
        engine.refresh("sheets")
        assert engine.table_errors("sheets") == {} and len(engine.query("sales_all")) == 3
    finally:
        engine.close()


def test_engine_table_errors_of_other_kinds_and_of_a_failed_source(tmp_path):
    cfg = config({"spend": {"file": "gone.csv", "columns": {}}}, base_dir=str(tmp_path))
    other = SourceConfig(name="api", kind="rest", options={})
    engine = Engine([cfg, other], tmp_path, loaders={"sheet": sheet.load, "rest": lambda c: {}})
    try:
        assert engine.table_errors("api") == {}
        with pytest.raises(SourceUnavailable, match="table 'spend': file not found"):
            engine.table_errors("sheets")  # nothing could be read: the source fails
    finally:
        engine.close()
