"""sheet.import_rows by its declared key, and dry_run: new rows inserted, changed ones
updated, matching ones left alone; a re-import changes nothing; one audit row with counts."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lib.actions import run
from lib.actions.sheets import IMPORTS, dry_run
from lib.errors import ValidationFailed
from lib.reading.sources.cells import CellProblem

spend = IMPORTS["marketing_spend"].table
COLUMNS = ["month", "channel", "spend_krw", "clicks", "signups"]


def sheet(n: int = 6) -> list[dict]:
    channels = ("search", "social", "display")
    return [
        {
            "month": f"2026-{i // 3 + 1:02d}",
            "channel": channels[i % 3],
            "spend_krw": f"{1_000_000 + i * 1000:,}",
            "clicks": str(100 + i),
            "signups": i,
        }
        for i in range(n)
    ]


def stored(ctx) -> list[dict]:
    with ctx.db("shop").connect() as conn:
        if not sa.inspect(conn).has_table(spend.name):
            return []
        return [dict(r._mapping) for r in conn.execute(sa.select(spend).order_by(spend.c.id))]


def imports(ctx, audit_rows) -> list[dict]:
    return [r for r in audit_rows(ctx, action="sheet.import_rows") if r["outcome"] == "ok"]


def test_re_importing_the_same_sheet_changes_nothing_and_says_so(ctx, principals, audit_rows):
    analyst = principals["analyst"]
    first = run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet())
    assert first.ok, first.message
    before = stored(ctx)
    again = run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet())
    assert again.ok, again.message
    assert again.message == "Nothing changed: all 6 rows are already in marketing_spend."
    assert (again.data["new"], again.data["changed"], again.data["unchanged"]) == (0, 0, 6)
    assert stored(ctx) == before  # not even the import stamps moved
    audits = imports(ctx, audit_rows)
    assert [a["request_id"] for a in audits] == [first.request_id, again.request_id]
    assert audits[1]["detail"] == {
        "table": "marketing_spend",
        "rows": 6,
        "new": 0,
        "changed": 0,
        "unchanged": 6,
        "columns": COLUMNS,
    }


def test_a_changed_row_is_updated_and_a_new_key_inserted(ctx, principals, audit_rows):
    analyst = principals["analyst"]
    first = run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet())
    rows = sheet(7)  # one more row: a new key
    rows[2]["spend_krw"] = "2,500,000"
    result = run("sheet.import_rows", analyst, table="marketing_spend", rows=rows)
    assert result.ok, result.message
    assert result.message == (
        "Imported 2 rows into marketing_spend: 1 new, 1 changed, 5 unchanged."
    )
    after = stored(ctx)
    assert len(after) == 7
    assert after[2]["spend_krw"] == 2_500_000
    assert after[2]["import_request_id"] == result.request_id
    assert after[6]["import_request_id"] == result.request_id
    unchanged = [r for i, r in enumerate(after) if i not in (2, 6)]
    assert {r["import_request_id"] for r in unchanged} == {first.request_id}
    [_, audit] = imports(ctx, audit_rows)
    assert (audit["detail"]["new"], audit["detail"]["changed"], audit["detail"]["unchanged"]) == (
        1,
        1,
        5,
    )
    assert audit["request_id"] == result.request_id


def test_one_bad_cell_refuses_the_whole_import_including_its_updates(ctx, principals, audit_rows):
    analyst = principals["analyst"]
    assert run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet()).ok
    before = stored(ctx)
    rows = sheet(8)
    rows[0]["spend_krw"] = "9,999,999"  # would update row 2
    rows[7]["clicks"] = "12,3x"  # spreadsheet row 9
    result = run("sheet.import_rows", analyst, table="marketing_spend", rows=rows)
    assert result.outcome == "invalid"
    assert result.message == "row 9, column 'clicks': '12,3x' is not a whole number"
    assert stored(ctx) == before
    assert audit_rows(ctx, action="sheet.import_rows")[-1]["outcome"] == "invalid"


def test_an_unmapped_column_keeps_what_it_holds(sqlite_ctx, principals):
    analyst = principals["analyst"]
    assert run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet(3)).ok
    rows = [{k: r[k] for k in ("month", "channel", "spend_krw")} for r in sheet(3)]
    rows[1]["spend_krw"] = 7
    result = run("sheet.import_rows", analyst, table="marketing_spend", rows=rows)
    assert (result.data["changed"], result.data["unchanged"]) == (1, 2)
    assert [r["clicks"] for r in stored(sqlite_ctx)] == [100, 101, 102]
    assert stored(sqlite_ctx)[1]["spend_krw"] == 7


def test_a_sheet_repeating_a_key_is_refused(sqlite_ctx, principals):
    rows = sheet(3)
    rows.append({**rows[0], "spend_krw": 5})
    result = run("sheet.import_rows", principals["admin"], table="marketing_spend", rows=rows)
    assert result.outcome == "invalid"
    assert result.message == "row 5: the same month, channel as row 2"
    assert stored(sqlite_ctx) == []


def test_the_key_is_unique_in_the_database(sqlite_ctx, principals):
    assert run("sheet.import_rows", principals["admin"], table="marketing_spend", rows=sheet(1)).ok
    with sqlite_ctx.db("shop").connect() as conn:
        uniques = sa.inspect(conn).get_unique_constraints(spend.name)
    assert [u["column_names"] for u in uniques] == [["month", "channel"]]
    store = IMPORTS["store_sales"]
    assert store.key == ("month", "store")


def test_a_concurrent_import_of_the_same_keys_is_a_conflict(sqlite_ctx, principals, monkeypatch):
    """Two imports both saw a key missing: the UNIQUE key refuses the second, nothing of it
    goes in, and it says so (not a failure)."""
    from lib.actions import sheets

    analyst = principals["analyst"]
    assert run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet(2)).ok
    monkeypatch.setattr(sheets, "_existing", lambda *a: {})  # as if read before the other
    result = run("sheet.import_rows", analyst, table="marketing_spend", rows=sheet(3))
    assert result.outcome == "conflict"
    assert "nothing was imported" in result.message
    assert len(stored(sqlite_ctx)) == 2


# --- dry run ---------------------------------------------------------------------------


def test_dry_run_counts_without_writing(ctx, principals):
    assert dry_run("marketing_spend", sheet()) == dry_run("marketing_spend", sheet())
    first = dry_run("marketing_spend", sheet())
    assert (first.new, first.changed, first.unchanged, first.problems) == (6, 0, 0, ())
    assert stored(ctx) == []
    assert run("sheet.import_rows", principals["analyst"], table="marketing_spend", rows=sheet()).ok
    rows = sheet(8)
    rows[4]["signups"] = 40
    again = dry_run("marketing_spend", rows)
    assert (again.new, again.changed, again.unchanged, again.ok) == (2, 1, 5, True)
    assert len(stored(ctx)) == 6


def test_dry_run_is_a_pure_read_before_the_first_import(sqlite_ctx):
    dry_run("store_sales", [{"month": "2026-01", "store": "Gangnam", "revenue_krw": 5}])
    with sqlite_ctx.db("shop").connect() as conn:
        assert not sa.inspect(conn).has_table("store_sales")


def test_dry_run_lists_every_invalid_cell_by_its_address(sqlite_ctx):
    # The sheet's columns in its own order and names; the import maps them to the target's.
    header = ["Channel", "Month", "Spend", "Clicks", "Signups"]
    mapping = {
        "channel": "Channel",
        "month": "Month",
        "spend_krw": "Spend",
        "clicks": "Clicks",
        "signups": "Signups",
    }
    rows = sheet(5)
    rows[0]["clicks"] = "12,5"  # D2
    rows[2]["month"] = "2026-02-30"  # B4
    rows[2]["spend_krw"] = ""  # C4: required
    rows[4]["signups"] = "kim.minsu@example.com"  # E6, not quoted
    result = dry_run("marketing_spend", rows, mapping=mapping, sheet_columns=header)
    assert not result.ok
    assert [str(p) for p in result.problems] == [
        "D2 (Clicks): expected a whole number, found '12,5'",
        "B4 (Month): expected a date (YYYY-MM-DD or YYYY-MM), found '2026-02-30'",
        "C4 (Spend): expected a value, found an empty cell",
        "E6 (Signups): expected a whole number, found the value",
    ]
    assert all(isinstance(p, CellProblem) for p in result.problems)
    assert (result.new, result.changed, result.unchanged) == (2, 0, 0)  # the good rows


def test_dry_run_and_import_name_the_rows_the_sheet_gives(sqlite_ctx, principals):
    # A sheet whose blank rows 3 and 5-6 were skipped when it was loaded: each row carries
    # its own spreadsheet row number, so a problem's address is the real row.
    rows, numbers = sheet(3), [2, 4, 7]
    rows[2]["spend_krw"] = ""
    result = dry_run("marketing_spend", rows, row_numbers=numbers)
    assert [p.address for p in result.problems] == ["C7"]
    refused = run(
        "sheet.import_rows",
        principals["analyst"],
        table="marketing_spend",
        rows=rows,
        row_numbers=numbers,
    )
    assert refused.message == "row 7, column 'spend_krw': a value is required"
    for bad in ([2, 4], [2, 4, "7"], [1, 2, 3], "2,4,7", [2, 4, True]):
        answer = run(
            "sheet.import_rows",
            principals["analyst"],
            table="marketing_spend",
            rows=rows,
            row_numbers=bad,
        )
        assert answer.outcome == "invalid" and "row_numbers" in answer.message, bad
    assert stored(sqlite_ctx) == []


def test_dry_run_refuses_what_is_not_rows_of_an_importable_table(sqlite_ctx):
    with pytest.raises(ValidationFailed, match="table must be one of"):
        dry_run("customers", sheet())
    with pytest.raises(ValidationFailed, match="not a column of marketing_spend"):
        dry_run("marketing_spend", [{"budget": 5}])
