"""sheet.connect: an admin's upload or Google Sheet declared as a new table, audited; every
refusal leaves nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib import actions
from lib.config import sheet_declarations as declarations
from lib.config.settings import load_settings
from tests.actions.conftest import PRINCIPALS
from tests.stack import write_config

CSV = b"month,channel,spend_krw\n2026-01,search,1000\n2026-02,social,12x\n"
COLUMNS = {"month": "date", "channel": "text", "spend_krw": "int"}


@pytest.fixture
def config(tmp_path: Path, demo_dir: Path, monkeypatch) -> Path:
    (tmp_path / "config").mkdir()
    path = write_config(tmp_path / "config", demo_dir)
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(path))
    return path


def written(demo_dir: Path) -> list[str]:
    return sorted(
        str(p.relative_to(demo_dir))
        for d in ("sheets.d", "uploads")
        if (demo_dir / d).exists()
        for p in (demo_dir / d).iterdir()
    )


def connect(who: str = "admin", **params):
    base = {"table": "spend", "kind": "csv", "columns": COLUMNS}
    base.update(filename="spend.csv", data=CSV)
    return actions.run("sheet.connect", PRINCIPALS[who], **(base | params))


def test_admin_connects_an_upload_stored_declared_and_audited(sqlite_ctx, config, demo_dir):
    result = connect()

    assert result.ok, result.message
    assert result.message == "Connected spend (3 columns); it is in the Sheets list now."
    upload = f"uploads/spend.{result.request_id}.csv"  # this save's own name
    assert written(demo_dir) == ["sheets.d/spend.toml", upload]
    assert (demo_dir / upload).read_bytes() == CSV
    spec = load_settings().source("sheets").options["tables"]["spend"]
    assert spec["columns"] == COLUMNS
    assert Path(spec["file"]) == (demo_dir / upload).resolve()
    (row,) = sqlite_ctx.audit.query(action="sheet.connect", limit=None)
    assert (row["outcome"], row["actor"], row["target_id"]) == ("ok", "admin", "spend")


def test_xlsx_keeps_its_worksheet(sqlite_ctx, config, demo_dir):
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "First"
    ws = wb.create_sheet("Sales")
    ws.append(["store", "revenue"])
    ws.append(["Gangnam", 100])
    buf = io.BytesIO()
    wb.save(buf)
    result = connect(
        table="stores",
        kind="xlsx",
        filename="stores.xlsx",
        data=buf.getvalue(),
        sheet="Sales",
        columns={"store": "text", "revenue": "int"},
    )
    assert result.ok, result.message
    spec = load_settings().source("sheets").options["tables"]["stores"]
    assert spec["sheet"] == "Sales"


def test_google_sheet_is_declared_by_key(sqlite_ctx, config, demo_dir):
    key = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    result = actions.run(
        "sheet.connect",
        PRINCIPALS["admin"],
        table="budget",
        kind="google",
        columns={"month": "date"},
        spreadsheet_key=f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=0",
        worksheet="Budget",
    )
    assert result.ok, result.message
    assert written(demo_dir) == ["sheets.d/budget.toml"]
    assert load_settings().source("sheets").options["tables"]["budget"] == {
        "spreadsheet_key": key,
        "worksheet": "Budget",
        "columns": {"month": "date"},
    }


@pytest.mark.parametrize("who", ["analyst", "operator", "support", "auditor", "seller1"])
def test_other_roles_are_denied_and_nothing_is_written(sqlite_ctx, config, demo_dir, who):
    assert connect(who).outcome == "denied"
    assert written(demo_dir) == []


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"data": b"\xff\xfe broken"}, "not UTF-8"),
        ({"filename": "spend.xlsx", "kind": "xlsx", "data": b"nope"}, "not a readable XLSX"),
        ({"data": b""}, "the sheet is empty"),
        ({"filename": "spend.txt"}, "kind csv needs a .csv file"),
        ({"table": "orders"}, "'orders' already exists"),
        ({"table": "marketing_spend"}, "'marketing_spend' already exists"),
        ({"table": "../spend"}, "use lowercase letters"),
        ({"columns": {"nope": "int"}}, "column is missing from the header"),
        ({"columns": {"month": "money"}}, "has type 'money'"),
        ({"kind": "google", "spreadsheet_key": "k"}, "not a file"),
        ({"path": "/etc/passwd"}, "unexpected parameter: path"),
    ],
)
def test_malformed_input_is_refused_and_nothing_is_written(
    sqlite_ctx, config, demo_dir, params, reason
):
    result = connect(**params)
    assert result.outcome == "invalid"
    assert reason in result.message
    assert written(demo_dir) == []


def test_too_big_for_the_configured_limit(sqlite_ctx, config, demo_dir):
    text = config.read_text(encoding="utf-8").replace(
        "max_upload_mb = 20", "max_upload_mb = 0.00001"
    )
    config.write_text(text, encoding="utf-8")
    result = connect()
    assert (result.outcome, written(demo_dir)) == ("invalid", [])
    assert "the limit is 0.0 MB per upload" in result.message


def test_a_name_is_taken_once(sqlite_ctx, config, demo_dir):
    first = connect()
    assert first.ok
    again = connect()
    assert again.outcome == "invalid" and "'spend' already exists" in again.message
    assert written(demo_dir) == ["sheets.d/spend.toml", f"uploads/spend.{first.request_id}.csv"]


def test_two_saves_of_one_name_at_once_keep_the_winners_files(
    sqlite_ctx, config, demo_dir, monkeypatch
):
    # Both admins' checks ran before either declared: each sees the name free.
    from lib.actions import sheet_connect

    before = load_settings()
    monkeypatch.setattr(sheet_connect, "load_settings", lambda: before)
    other = b"month,channel,spend_krw\n2026-03,radio,7\n"
    winner = connect()
    loser = connect(data=other)

    assert winner.ok, winner.message
    assert loser.outcome == "invalid" and "'spend' is already declared" in loser.message
    upload = f"uploads/spend.{winner.request_id}.csv"
    assert written(demo_dir) == ["sheets.d/spend.toml", upload]
    assert (demo_dir / upload).read_bytes() == CSV
    spec = load_settings().source("sheets").options["tables"]["spend"]
    assert Path(spec["file"]) == (demo_dir / upload).resolve()
    from lib.reading.sources import sheet

    loaded = sheet.load(load_settings().source("sheets"))
    assert "spend" not in loaded.errors
    assert loaded["spend"].column("channel").to_pylist() == ["search", "social"]


def test_the_declared_paths_come_from_the_configuration(config, demo_dir):
    opts = declarations.options(load_settings())
    assert (opts.declarations, opts.uploads) == (demo_dir / "sheets.d", demo_dir / "uploads")
