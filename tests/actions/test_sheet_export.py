"""sheet.export against the fake Sheets v4 API over real HTTP, through gspread's own calls:
create and replace a worksheet, header and typed cells, masking unless an unmask grant
covers that record, denied where the policy says (the action, or the page of a list: an
analyst may not export Customers or Orders), audited without values (`requested` before
the first write, then ok / failed / unknown); a combined view too; a 429 on a write tried
again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import gspread
import pytest
import requests

from lib.access.principal import Principal
from lib.actions import ActionContext, run
from lib.config.settings import load_settings
from lib.reading.sources import google_sheets
from tests.actions.export_target import shared_fake, sql_engine, target
from tests.fakes.server import start_app_in_thread
from tests.fakes.sheets_api import create_app
from tests.stack import crm, write_config

CUSTOMER_HEADER = ["id", "name", "email", "phone", "address", "segment", "status"]


@pytest.fixture
def export_ctx(sqlite_ctx: ActionContext, tmp_path: Path, demo_dir: Path) -> Iterator[Any]:
    """The action context with an engine over its databases and the demo sheets, and the
    shared fake as its Google target; yields (ctx, store, a fresh spreadsheet key)."""
    (tmp_path / "cfg").mkdir()
    sheets = load_settings(write_config(tmp_path / "cfg", demo_dir)).source("sheets")
    url, store = shared_fake()
    sqlite_ctx.engine = sql_engine(sqlite_ctx, sheets)
    sqlite_ctx.sheet_target = target(url, sheets)
    key = f"export-{tmp_path.name}"
    store[key] = {"Sheet1": [["keep", "me"]]}
    yield sqlite_ctx, store, key
    sqlite_ctx.engine.close()
    store.pop(key, None)


def by_id(grid: list[list[Any]]) -> dict[int, dict[str, Any]]:
    header = grid[0]
    return {row[0]: dict(zip(header, row, strict=False)) for row in grid[1:]}


def test_export_creates_a_worksheet_with_header_typed_cells_and_masking(
    export_ctx, principals, audit_rows, demo_dir
):
    ctx, store, key = export_ctx
    result = run(
        "sheet.export",
        principals["admin"],
        source="customers",
        spreadsheet=f"https://docs.google.com/spreadsheets/d/{key}/edit#gid=0",
        worksheet="Customers",
        mode="create",
    )
    assert result.outcome == "ok", result.message
    grid = store[key]["Customers"]
    assert store[key]["Sheet1"] == [["keep", "me"]]  # other worksheets untouched
    assert grid[0] == [*CUSTOMER_HEADER, "signup_date"]
    (count,) = crm(demo_dir, "SELECT count(*) FROM customers")[0]
    assert len(grid) - 1 == count == result.data["rows"]
    assert result.data["created"] is True
    raw = {
        r[0]: r for r in crm(demo_dir, "SELECT id, name, email, phone, signup_date FROM customers")
    }
    rows = by_id(grid)
    first = rows[1]
    assert isinstance(first["id"], int)  # a number, not text
    assert first["signup_date"] == date.fromisoformat(str(raw[1][4])[:10])  # a date
    for cid, (_, name, email, phone, _) in raw.items():
        assert rows[cid]["name"] != name and "*" in rows[cid]["name"]
        assert rows[cid]["email"] != email
        assert rows[cid]["phone"] != phone

    requested, row = audit_rows(ctx, action="sheet.export")  # recorded before the write
    assert requested["request_id"] == row["request_id"] == result.request_id
    assert requested["outcome"] == "requested" and requested["detail"]["rows"] == count
    assert (row["outcome"], row["actor"], row["target_type"]) == ("ok", "admin", "worksheet")
    detail = row["detail"]
    assert (detail["spreadsheet"], detail["worksheet"], detail["rows"]) == (key, "Customers", count)
    assert detail["unmasked_rows"] == 0
    text = json.dumps(row, default=str)
    for _, name, email, phone, _ in raw.values():
        assert name not in text and email not in text and phone not in text


def test_create_refuses_an_existing_worksheet_and_replace_overwrites_it(
    export_ctx, principals, audit_rows
):
    ctx, store, key = export_ctx
    store[key]["Spend"] = [["old", "header"]] + [["stale", i] for i in range(300)]
    params = {"source": "sheets.marketing_spend", "spreadsheet": key, "worksheet": "Spend"}
    refused = run("sheet.export", principals["admin"], **params, mode="create")
    assert refused.outcome == "conflict", refused.message
    assert store[key]["Spend"][0] == ["old", "header"]

    result = run("sheet.export", principals["admin"], **params, mode="replace")
    assert result.outcome == "ok", result.message
    assert result.data["created"] is False
    grid = store[key]["Spend"]
    assert grid[0] == ["month", "channel", "spend_krw", "clicks", "signups"]
    assert len(grid) == result.data["rows"] + 1  # no stale row left below
    assert all("stale" not in row for row in grid)
    month, channel, spend, clicks, signups = grid[1]
    assert isinstance(month, date) and isinstance(channel, str)
    assert all(isinstance(n, int) and not isinstance(n, bool) for n in (spend, clicks, signups))
    outcomes = [r["outcome"] for r in audit_rows(ctx, action="sheet.export")]
    assert outcomes == ["conflict", "requested", "ok"]  # the conflict: before any write


def test_replace_creates_a_missing_worksheet(export_ctx, principals):
    _, store, key = export_ctx
    result = run(
        "sheet.export",
        principals["admin"],
        source="orders",
        spreadsheet=key,
        worksheet="Orders 2026",
        mode="replace",
    )
    assert result.outcome == "ok", result.message
    assert result.data["created"] is True
    grid = store[key]["Orders 2026"]
    assert grid[0][:4] == ["id", "ordered_at", "status", "amount"]
    first = dict(zip(grid[0], grid[1], strict=True))
    assert isinstance(first["amount"], int)
    assert "*" in first["customer"]


def test_an_unmask_grant_shows_that_record_only(export_ctx, principals, demo_dir, audit_rows):
    ctx, store, key = export_ctx
    admin = principals["admin"]
    granted = run(
        "customer.unmask",
        admin,
        customer_id=2,
        fields=["email"],
        reason="customer asked for a copy of the receipt",
    )
    assert granted.ok, granted.message
    result = run(
        "sheet.export", admin, source="customers", spreadsheet=key, worksheet="C", mode="create"
    )
    assert result.outcome == "ok", result.message
    raw = {r[0]: r for r in crm(demo_dir, "SELECT id, name, email FROM customers")}
    rows = by_id(store[key]["C"])
    assert rows[2]["email"] == raw[2][2]  # granted: this record's e-mail
    assert rows[2]["name"] != raw[2][1]  # not granted: its name
    assert all(rows[c]["email"] != raw[c][2] for c in raw if c != 2)  # other records
    [_, row] = audit_rows(ctx, action="sheet.export")
    assert row["outcome"] == "ok" and row["detail"]["unmasked_rows"] == 1
    assert raw[2][2] not in json.dumps(row, default=str)

    # Someone else's grant shows nothing to a user who may open Customers and export but
    # may not unmask at all.
    result = run(
        "sheet.export",
        Principal("lead", "Ops lead", ("analyst", "operator")),
        source="customers",
        spreadsheet=key,
        worksheet="C",
        mode="replace",
    )
    assert result.ok, result.message
    assert by_id(store[key]["C"])[2]["email"] != raw[2][2]


@pytest.mark.parametrize("user", ["support", "seller1", "operator", "auditor"])
def test_roles_without_the_grant_are_denied_and_nothing_is_written(
    export_ctx, principals, audit_rows, user
):
    ctx, store, key = export_ctx
    result = run(
        "sheet.export",
        principals[user],
        source="customers",
        spreadsheet=key,
        worksheet="Leak",
        mode="create",
    )
    assert result.outcome == "denied"
    assert "Leak" not in store[key]
    [row] = audit_rows(ctx, action="sheet.export")
    assert (row["outcome"], row["actor"]) == ("denied", principals[user].username)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"source": "crm.customers"}, "source must be one of"),
        ({"spreadsheet": "https://evil.example/spreadsheets/d/abc"}, "spreadsheet"),
        ({"worksheet": "  "}, "worksheet is required"),
        ({"worksheet": "x" * 101}, "at most 100"),
        ({"mode": "append"}, "mode must be one of"),
    ],
)
def test_invalid_input_is_refused(export_ctx, principals, params, problem):
    _, store, key = export_ctx
    base = {"source": "customers", "spreadsheet": key, "worksheet": "W", "mode": "create"}
    result = run("sheet.export", principals["analyst"], **(base | params))
    assert result.outcome == "invalid"
    assert problem in result.message
    assert "W" not in store[key]


def test_a_spreadsheet_the_account_cannot_open_is_one_line(export_ctx, principals, audit_rows):
    ctx, _, _ = export_ctx
    result = run(
        "sheet.export",
        principals["analyst"],
        source="sheets.marketing_spend",
        spreadsheet="not-shared-with-us",
        worksheet="W",
        mode="create",
    )
    assert result.outcome == "failed"
    assert "not found, or not shared" in result.message and "\n" not in result.message
    assert "Nothing was written" in result.message
    assert [r["outcome"] for r in audit_rows(ctx, action="sheet.export")] == ["failed"]


def test_an_analyst_exports_the_orders_list_with_names_masked(export_ctx, principals, demo_dir):
    """Analysts may open /orders (read-only), so its list is theirs to export, masked."""
    ctx, store, key = export_ctx
    result = run(
        "sheet.export",
        principals["analyst"],
        source="orders",
        spreadsheet=key,
        worksheet="Orders",
        mode="create",
    )
    assert result.outcome == "ok", result.message
    grid = store[key]["Orders"]
    customers = [dict(zip(grid[0], row, strict=True))["customer"] for row in grid[1:]]
    names = {n for (n,) in crm(demo_dir, "SELECT name FROM customers")}
    assert customers and all("*" in c for c in customers if c)
    assert not names & set(customers)


# /customers: the analyst may not open it (orders: they may, read-only, above).
@pytest.mark.parametrize("source", ["customers"])
def test_an_analyst_may_not_export_a_list_whose_page_they_may_not_open(
    export_ctx, principals, audit_rows, demo_dir, source
):
    ctx, store, key = export_ctx
    result = run(
        "sheet.export",
        principals["analyst"],
        source=source,
        spreadsheet=key,
        worksheet="Leak",
        mode="create",
    )
    assert result.outcome == "denied", result.message
    assert "may not export" in result.message
    assert "Leak" not in store[key] and store[key]["Sheet1"] == [["keep", "me"]]
    [row] = audit_rows(ctx, action="sheet.export")
    assert (row["outcome"], row["actor"]) == ("denied", "analyst")
    text = json.dumps(row, default=str)
    assert not [e for (e,) in crm(demo_dir, "SELECT email FROM customers") if e in text]


def test_a_combined_view_is_exported_with_typed_cells(export_ctx, principals, audit_rows):
    ctx, store, key = export_ctx
    result = run(
        "sheet.export",
        principals["analyst"],
        source="combine.stores",
        spreadsheet=key,
        worksheet="Stores",
        mode="create",
    )
    assert result.outcome == "ok", result.message
    grid = store[key]["Stores"]
    assert grid[0][0] == "month" and grid[0][-1] == "match"
    assert "online_revenue_krw" in grid[0]
    month, *_, match = grid[1]
    assert isinstance(month, date) and match in ("both", "left only", "right only")
    assert len(grid) - 1 == result.data["rows"] > 0
    [_, row] = audit_rows(ctx, action="sheet.export")
    assert (row["outcome"], row["detail"]["source"]) == ("ok", "combine.stores")


SPEND = "sheets.marketing_spend"  # a sheet every exporting role may export


def test_a_worksheet_named_with_personal_data_is_refused_and_nothing_is_written(
    export_ctx, principals, audit_rows
):
    ctx, store, key = export_ctx
    for title in ("for jane.doe@example.com", "call 010-1234-5678"):
        result = run(
            "sheet.export",
            principals["analyst"],
            source=SPEND,
            spreadsheet=key,
            worksheet=title,
            mode="create",
        )
        assert result.outcome == "invalid", result.message
        assert "looks like personal data" in result.message
        assert title not in result.message
    assert list(store[key]) == ["Sheet1"]  # nothing reached the spreadsheet
    rows = audit_rows(ctx, action="sheet.export")
    assert [r["outcome"] for r in rows] == ["invalid", "invalid"]
    text = json.dumps(rows, default=str)
    assert "jane.doe" not in text and "1234-5678" not in text


@pytest.fixture
def limited(export_ctx) -> Iterator[Any]:
    """export_ctx writing to its own fake, whose writes can be answered 429; yields
    (ctx, store, key, app, waits): the waits between tries are recorded, not slept."""
    ctx, _, key = export_ctx
    store = {key: {"Sheet1": [["keep", "me"]]}}
    app = create_app(store)
    url, stop = start_app_in_thread(app)
    shared = ctx.sheet_target
    ctx.sheet_target = replace(shared, options={**shared.options, "sheets_api_url": url})
    waits: list[float] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(google_sheets, "_sleep", waits.append)
        yield ctx, store, key, app, waits
    ctx.sheet_target = shared
    stop()


def export_spend(principal: Any, key: str, mode: str = "create") -> Any:
    return run(
        "sheet.export", principal, source=SPEND, spreadsheet=key, worksheet="Spend", mode=mode
    )


def test_a_write_answered_429_is_tried_again_with_backoff(limited, principals, audit_rows):
    ctx, store, key, app, waits = limited
    app.state.fail_writes = 2  # the reads go through; the first write is refused twice
    result = export_spend(principals["analyst"], key)
    assert result.outcome == "ok", result.message
    assert waits == [1.0, 2.0]  # exponential
    assert app.state.fail_writes == 0
    assert len(store[key]["Spend"]) == result.data["rows"] + 1
    assert [r["outcome"] for r in audit_rows(ctx, action="sheet.export")] == ["requested", "ok"]


def test_writes_answered_429_for_ever_fail_in_one_line_and_are_audited(
    limited, principals, audit_rows
):
    ctx, store, key, app, waits = limited
    ctx.sheet_target.options["retries"] = 3
    app.state.fail_writes = 10**6
    result = export_spend(principals["analyst"], key)
    assert result.outcome == "failed"
    assert "rate limit still exceeded after 3 tries" in result.message
    assert "Nothing was written" in result.message and "\n" not in result.message
    assert len(waits) == 2 and app.state.fail_writes == 10**6 - 3
    assert list(store[key]) == ["Sheet1"]
    requested, failed = audit_rows(ctx, action="sheet.export")
    assert (requested["outcome"], failed["outcome"]) == ("requested", "failed")
    assert failed["request_id"] == requested["request_id"]
    assert failed["detail"]["written"] == "nothing"
    assert "rate limit" in failed["detail"]["error"]


def test_a_write_whose_answer_never_comes_is_unknown_not_nothing_changed(
    limited, principals, audit_rows, monkeypatch
):
    ctx, store, key, _, _ = limited
    update = gspread.Worksheet.update

    def lost_answer(self: gspread.Worksheet, *args: Any, **kwargs: Any) -> Any:
        update(self, *args, **kwargs)  # it reached Google ...
        raise requests.ReadTimeout("read timed out")  # ... but its answer did not come back

    monkeypatch.setattr(gspread.Worksheet, "update", lost_answer)
    result = export_spend(principals["analyst"], key)
    assert result.outcome == "unknown", result.message
    assert "nothing" not in result.message.lower() and "\n" not in result.message
    assert "may be changed" in result.message
    assert "Spend" in store[key]  # what was written is there: the message must not deny it
    requested, unknown = audit_rows(ctx, action="sheet.export")
    assert (requested["outcome"], unknown["outcome"]) == ("requested", "unknown")
    assert "created worksheet 'Spend'" in unknown["detail"]["written"]


def test_a_write_google_refuses_part_way_names_what_was_written(
    limited, principals, audit_rows, monkeypatch
):
    ctx, store, key, app, _ = limited
    ctx.sheet_target.options["retries"] = 1
    store[key]["Spend"] = [["old"], ["row"]]
    update = gspread.Worksheet.update

    def refused(self: gspread.Worksheet, *args: Any, **kwargs: Any) -> Any:
        app.state.fail_writes = 1  # the cells' write is refused; the clear went through
        return update(self, *args, **kwargs)

    monkeypatch.setattr(gspread.Worksheet, "update", refused)
    result = export_spend(principals["analyst"], key, mode="replace")
    assert result.outcome == "failed"
    assert "cleared worksheet 'Spend'" in result.message and "Replace" in result.message
    assert "Nothing was written" not in result.message and "\n" not in result.message
    outcomes = [r["outcome"] for r in audit_rows(ctx, action="sheet.export")]
    assert outcomes == ["requested", "failed"]


def test_an_unexpected_error_after_the_request_is_unknown_never_nothing_changed(
    limited, principals, audit_rows, monkeypatch
):
    ctx, store, key, _, _ = limited

    def broken(self: gspread.Worksheet, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug of ours")  # not Google's answer: nothing says what is there

    def broken_reason(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("wording the error failed too")

    monkeypatch.setattr(gspread.Worksheet, "freeze", broken)  # after the cells were written
    monkeypatch.setattr(google_sheets, "reason", broken_reason)
    result = export_spend(principals["analyst"], key)
    assert result.outcome == "unknown", result.message
    assert "nothing" not in result.message.lower() and "\n" not in result.message
    assert "may have been changed; check it" in result.message
    assert "Spend" in store[key]  # it was written: the message must not deny it
    requested, unknown = audit_rows(ctx, action="sheet.export")
    assert (requested["outcome"], unknown["outcome"]) == ("requested", "unknown")
    assert unknown["detail"]["written"] == "unknown"


def test_a_client_that_fails_to_close_after_the_write_leaves_its_outcome(
    limited, principals, audit_rows, monkeypatch
):
    ctx, store, key, _, _ = limited

    def broken(self: requests.Session) -> None:
        raise OSError("close failed")

    monkeypatch.setattr(requests.Session, "close", broken)
    result = export_spend(principals["analyst"], key)
    assert result.outcome == "ok", result.message  # the write is done and was recorded
    assert "nothing" not in result.message.lower()
    assert len(store[key]["Spend"]) == result.data["rows"] + 1
    outcomes = [r["outcome"] for r in audit_rows(ctx, action="sheet.export")]
    assert outcomes == ["requested", "ok"]


def test_a_declared_sheet_that_failed_to_load_is_one_line_and_nothing_is_written(
    export_ctx, principals, audit_rows, demo_dir
):
    ctx, store, key = export_ctx
    (demo_dir / "store_sales.xlsx").write_bytes(b"not a workbook")
    result = run(
        "sheet.export",
        principals["analyst"],
        source="sheets.store_sales",
        spreadsheet=key,
        worksheet="Sales",
        mode="create",
    )
    assert result.outcome == "failed", result.message
    assert result.message == (
        "sheet 'store_sales' cannot be read: store_sales.xlsx is not an XLSX workbook"
    )
    assert list(store[key]) == ["Sheet1"]
    outcomes = [r["outcome"] for r in audit_rows(ctx, action="sheet.export")]
    assert outcomes == ["failed"]


# A combination of the user's own, as the Combine URL holds it: the two demo sheets by month.
SHEETS_BY_MONTH = {
    "left": "sheets.marketing_spend",
    "right": "sheets.store_sales",
    "lkey": ["month"],
    "rkey": ["month"],
    "lmeasure": "spend_krw",
    "rmeasure": "revenue_krw",
    "bymonth": "1",
}


def export_combination(
    principal: Any, key: str, combination: dict[str, Any] | None, source: str = "combine.custom"
) -> Any:
    return run(
        "sheet.export",
        principal,
        source=source,
        combination=combination,
        spreadsheet=key,
        worksheet="Mine",
        mode="create",
    )


def test_a_custom_combination_of_two_sheets_is_rebuilt_and_exported_typed(
    export_ctx, principals, audit_rows
):
    ctx, store, key = export_ctx
    result = export_combination(principals["analyst"], key, SHEETS_BY_MONTH)
    assert result.outcome == "ok", result.message
    grid = store[key]["Mine"]
    assert grid[0] == [
        "month", "spend_krw (marketing_spend)", "revenue_krw (store_sales)", "match"
    ]  # fmt: skip
    assert len(grid) - 1 == result.data["rows"] > 0
    for month, spend, revenue, match in grid[1:]:
        assert isinstance(month, date) and month.day == 1  # a month, as a date
        assert match in ("both", "left only", "right only")
        for n in (spend, revenue):
            assert n == "" or (isinstance(n, int | float) and not isinstance(n, bool))
    assert any(isinstance(row[1], int | float) and row[1] != "" for row in grid[1:])
    requested, row = audit_rows(ctx, action="sheet.export")
    assert (requested["outcome"], row["outcome"]) == ("requested", "ok")
    assert row["detail"]["source"] == "combine.custom"
    assert row["detail"]["combination"]["left"] == "sheets.marketing_spend"


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_combination_naming_a_table_the_role_may_not_combine_is_denied(
    export_ctx, principals, audit_rows, demo_dir, side
):
    """The analyst may not open /customers, so crm.customers is not theirs to combine: the
    choices are checked on the server, whatever the browser sends."""
    ctx, store, key = export_ctx
    keys = {"left": "lkey", "right": "rkey"}[side]
    asked = SHEETS_BY_MONTH | {side: "crm.customers", keys: ["email"], "bymonth": "0"}
    result = export_combination(principals["analyst"], key, asked)
    assert result.outcome == "denied", result.message
    assert "Mine" not in store[key] and store[key]["Sheet1"] == [["keep", "me"]]
    [row] = audit_rows(ctx, action="sheet.export")
    assert (row["outcome"], row["actor"]) == ("denied", "analyst")
    text = json.dumps(row, default=str)
    assert not [e for (e,) in crm(demo_dir, "SELECT email FROM customers") if e in text]


@pytest.mark.parametrize(
    ("combination", "problem"),
    [
        (None, "combination is required"),
        (SHEETS_BY_MONTH | {"rows": "1"}, "unexpected parameter"),
        (SHEETS_BY_MONTH | {"lkey": ["nope"]}, "has no column"),
        (SHEETS_BY_MONTH | {"rkey": []}, "as many key columns"),
        (SHEETS_BY_MONTH | {"lmeasure": "channel"}, "channel"),
        (SHEETS_BY_MONTH | {"bymonth": "yes"}, "bymonth"),
    ],
)
def test_a_combination_that_does_not_hold_is_invalid_and_nothing_is_written(
    export_ctx, principals, combination, problem
):
    _, store, key = export_ctx
    result = export_combination(principals["analyst"], key, combination)
    assert result.outcome == "invalid", result.message
    assert problem in result.message
    assert "Mine" not in store[key]


def test_a_combination_is_only_for_the_custom_source(export_ctx, principals):
    _, store, key = export_ctx
    result = export_combination(principals["analyst"], key, SHEETS_BY_MONTH, source=SPEND)
    assert result.outcome == "invalid" and "combination is only for" in result.message
    assert "Mine" not in store[key]
