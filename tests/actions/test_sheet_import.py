"""sheet.import_rows: every cell checked first, then all rows in one transaction or none."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
import sqlalchemy as sa

from lib.actions import run
from lib.actions.sheets import IMPORTS

spend = IMPORTS["marketing_spend"].table


def good_rows(n: int = 10) -> list[dict]:
    channels = ("search", "social", "display", "email")
    return [
        {
            # Each row its own key (month, channel): a sheet repeating a key is refused.
            "month": f"{2026 + i // 12}-{(i % 12) + 1:02d}-01",
            "channel": channels[i % 4],
            "spend_krw": f"{1_000_000 + i * 1000:,}",  # as a sheet shows it: 1,001,000
            "clicks": str(100 + i),
            "signups": i,
        }
        for i in range(n)
    ]


def imported(ctx) -> list[dict]:
    engine = ctx.db("shop")
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(spend.name):
            return []
        return [dict(r._mapping) for r in conn.execute(sa.select(spend).order_by(spend.c.id))]


def test_good_rows_are_all_imported_and_audited_without_values(ctx, principals, audit_rows):
    result = run(
        "sheet.import_rows", principals["analyst"], table="marketing_spend", rows=good_rows()
    )
    assert result.outcome == "ok", result.message
    assert result.data["rows"] == 10
    rows = imported(ctx)
    assert len(rows) == 10
    assert rows[1]["month"] == date(2026, 2, 1)
    assert (rows[1]["channel"], rows[1]["spend_krw"], rows[1]["clicks"]) == (
        "social",
        1_001_000,
        101,
    )
    assert {r["imported_by"] for r in rows} == {"analyst"}
    assert {r["import_request_id"] for r in rows} == {result.request_id}

    [row] = audit_rows(ctx, action="sheet.import_rows")
    assert (row["outcome"], row["target_type"], row["target_id"]) == (
        "ok",
        "table",
        "marketing_spend",
    )
    assert row["detail"] == {
        "table": "marketing_spend",
        "rows": 10,
        "new": 10,
        "changed": 0,
        "unchanged": 0,
        "columns": ["month", "channel", "spend_krw", "clicks", "signups"],
    }
    assert row["request_id"] == result.request_id


def test_one_bad_cell_in_row_7_names_it_and_imports_nothing(ctx, principals, audit_rows):
    analyst = principals["analyst"]
    assert run("sheet.import_rows", analyst, table="marketing_spend", rows=good_rows(3)).ok
    rows = good_rows()
    rows[5]["clicks"] = "12,5"  # data row 6 = spreadsheet row 7 (the header is row 1)
    result = run("sheet.import_rows", analyst, table="marketing_spend", rows=rows)
    assert result.outcome == "invalid"
    assert result.message == "row 7, column 'clicks': '12,5' is not a whole number"
    assert len(imported(ctx)) == 3
    assert audit_rows(ctx, action="sheet.import_rows")[-1]["outcome"] == "invalid"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"month": "2026-02-30"}, "row 4, column 'month': '2026-02-30' is not a date"),
        ({"spend_krw": None}, "row 4, column 'spend_krw': a value is required"),
        ({"channel": "  "}, "row 4, column 'channel': a value is required"),
        ({"budget": 5}, "row 4, column 'budget': not a column of marketing_spend"),
        ({"signups": True}, "row 4, column 'signups': 'TRUE' is not a whole number"),
    ],
)
def test_bad_rows_are_named_like_a_spreadsheet(sqlite_ctx, principals, change, message):
    rows = good_rows(5)
    rows[2].update(change)
    result = run("sheet.import_rows", principals["admin"], table="marketing_spend", rows=rows)
    assert result.outcome == "invalid"
    assert result.message.startswith(message)
    assert imported(sqlite_ctx) == []


def test_empty_rows_are_skipped_but_still_counted(sqlite_ctx, principals):
    four = good_rows(4)  # four keys: the same two rows twice would be one key repeated
    rows = [*four[:2], {"month": None, "channel": ""}, *four[2:]]
    rows[4]["spend_krw"] = "lots"
    result = run("sheet.import_rows", principals["analyst"], table="marketing_spend", rows=rows)
    assert result.message.startswith("row 6, column 'spend_krw'")
    rows[4]["spend_krw"] = 5
    assert run("sheet.import_rows", principals["analyst"], table="marketing_spend", rows=rows).ok
    assert len(imported(sqlite_ctx)) == 4


def test_a_cell_holding_contact_details_is_not_quoted(sqlite_ctx, principals, audit_rows):
    rows = good_rows(3)
    rows[0]["clicks"] = "kim.minsu@example.com"
    result = run("sheet.import_rows", principals["analyst"], table="marketing_spend", rows=rows)
    assert result.outcome == "invalid"
    assert result.message == "row 2, column 'clicks': the value is not a whole number"
    assert "kim.minsu" not in str(audit_rows(sqlite_ctx))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"table": "customers", "rows": [{"name": "x"}]}, "table must be one of"),
        ({"table": "../shop.sqlite", "rows": [{}]}, "table must be one of"),
        ({"table": ["marketing_spend"], "rows": [{}]}, "table must be"),
        ({"table": "marketing_spend", "rows": []}, "rows is required"),
        ({"table": "marketing_spend", "rows": "month,channel"}, "rows is required"),
        ({"table": "marketing_spend", "rows": [["2026-01-01", "search"]]}, "row 2:"),
        ({"table": "marketing_spend", "rows": [{}, {}]}, "rows: every row is empty"),
    ],
)
def test_unknown_table_or_malformed_rows_are_invalid(sqlite_ctx, principals, params, message):
    result = run("sheet.import_rows", principals["analyst"], **params)
    assert result.outcome == "invalid"
    assert result.message.startswith(message)


def test_nothing_is_imported_when_the_audit_row_cannot_be_written(ctx, principals, monkeypatch):
    assert run(
        "sheet.import_rows", principals["analyst"], table="marketing_spend", rows=good_rows(2)
    ).ok

    def refuse(*args, **kwargs):
        raise RuntimeError("audit store is down")

    monkeypatch.setattr(ctx.audit, "record", refuse)
    monkeypatch.setattr(ctx.audit, "append", refuse)
    # run() may report the failure or let it propagate (the refusal cannot be audited
    # either); what matters is that no row went in.
    with contextlib.suppress(RuntimeError):
        result = run(
            "sheet.import_rows", principals["analyst"], table="marketing_spend", rows=good_rows(20)
        )
        assert not result.ok
    assert len(imported(ctx)) == 2


def test_other_store_sales_table_is_importable_too(sqlite_ctx, principals):
    rows = [{"month": "2026-03", "store": "Gangnam", "revenue_krw": 12_500_000, "orders": 410}]
    result = run("sheet.import_rows", principals["admin"], table="store_sales", rows=rows)
    assert result.ok, result.message


@pytest.mark.parametrize("who", ["operator", "support", "auditor", "seller1"])
def test_roles_without_import_are_denied(sqlite_ctx, principals, who):
    result = run("sheet.import_rows", principals[who], table="marketing_spend", rows=good_rows(1))
    assert result.outcome == "denied"
    assert imported(sqlite_ctx) == []
