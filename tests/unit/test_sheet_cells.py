"""Cell parsing and table building for spreadsheet sources (no I/O)."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest

from lib.errors import SheetInvalid
from lib.reading.sources.cells import (
    ROW,
    CellInvalid,
    CellProblem,
    TableBuilder,
    check_rows,
    column_letter,
    infer_types,
    parse_cell,
    read_table,
    rows_to_table,
    shown,
)


@pytest.mark.parametrize("value", [None, "", "   "])
@pytest.mark.parametrize("kind", ["text", "int", "float", "date", "bool"])
def test_empty_cells_are_null_in_every_type(value, kind):
    assert parse_cell(value, kind) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        (" -7 ", -7),
        ("1,234", 1234),
        ("1,234,567", 1234567),
        ("1234.0", 1234),
        (1234, 1234),
        (1234.0, 1234),
        ("+5", 5),
    ],
)
def test_int_accepts_whole_numbers_thousands_separators_and_whole_floats(value, expected):
    assert parse_cell(value, "int") == expected


@pytest.mark.parametrize("value", ["12,5x", "12,5", "1.5", 1.5, "1,23", "abc", True, "1e3"])
def test_int_refuses_what_is_not_a_whole_number(value):
    with pytest.raises(CellInvalid) as exc:
        parse_cell(value, "int")
    assert exc.value.problem == f"{shown(value)} is not a whole number"


def test_int_problem_quotes_the_cell_as_written():
    with pytest.raises(CellInvalid, match=r"^'12,5x' is not a whole number$"):
        parse_cell("12,5x", "int")


@pytest.mark.parametrize("value", ["99999999999999999999", "9" * 5000])
def test_int_refuses_numbers_beyond_int64(value):
    with pytest.raises(CellInvalid, match="too large"):
        parse_cell(value, "int")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3.25", 3.25), ("1,234.5", 1234.5), ("-0.5", -0.5), (".5", 0.5), ("1e3", 1000.0), (7, 7.0)],
)
def test_float_accepts_decimals_and_thousands_separators(value, expected):
    assert parse_cell(value, "float") == expected


@pytest.mark.parametrize("value", ["12,5", "nan", "inf", "#DIV/0!", "3.2.1", False])
def test_float_refuses_what_is_not_a_number(value):
    with pytest.raises(CellInvalid, match="is not a"):
        parse_cell(value, "float")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-02", date(2026, 3, 2)),
        ("2026-03", date(2026, 3, 1)),
        (date(2025, 5, 1), date(2025, 5, 1)),
        (datetime(2025, 5, 1, 0, 0), date(2025, 5, 1)),
    ],
)
def test_date_accepts_iso_text_month_text_and_real_date_cells(value, expected):
    assert parse_cell(value, "date") == expected


@pytest.mark.parametrize("value", ["2026-02-30", "02/03/2026", "2026-3-2", "2026", 45000])
def test_date_refuses_other_forms(value):
    with pytest.raises(CellInvalid, match=r"is not a date \(expected YYYY-MM-DD or YYYY-MM\)"):
        parse_cell(value, "date")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("TRUE", True), ("false", False), ("yes", True), ("N", False), ("1", True), (0, False)],
)
def test_bool_accepts_sheet_and_everyday_spellings(value, expected):
    assert parse_cell(value, "bool") is expected


def test_bool_refuses_anything_else():
    with pytest.raises(CellInvalid, match=r"^'maybe' is not true or false$"):
        parse_cell("maybe", "bool")


def test_text_shows_xlsx_values_as_a_person_saw_them():
    assert parse_cell(1234.0, "text") == "1234"
    assert parse_cell(datetime(2025, 5, 1), "text") == "2025-05-01"
    assert parse_cell(True, "text") == "TRUE"
    assert parse_cell("  kept as is ", "text") == "  kept as is "


def test_long_values_are_cut_to_40_characters_in_problems():
    with pytest.raises(CellInvalid) as exc:
        parse_cell("x" * 500, "int")
    quoted = exc.value.problem.split(" is not")[0]
    assert len(quoted) == 40 + 2  # the cut text and its quotes
    assert quoted.endswith("…'")


def test_problem_is_one_line_even_for_a_multiline_cell():
    with pytest.raises(CellInvalid) as exc:
        parse_cell("12\n34", "int")
    assert "\n" not in exc.value.problem


def test_unknown_type_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown column type"):
        parse_cell("1", "money")


COLUMNS = {"month": "date", "spend": "int", "rate": "float", "active": "bool", "channel": "text"}
HEADER = ["month", "channel", "spend", "rate", "active", "note"]


def test_rows_become_a_typed_table_with_extra_columns_as_text():
    rows = [
        HEADER,
        ["2025-05-01", "search", "1,200", "0.5", "TRUE", "first"],
        ["2025-06", "email", "", "", "", ""],
    ]
    table = rows_to_table(rows, COLUMNS, sheet="t")
    assert table.column_names == [*HEADER, ROW]  # ROW: each row's spreadsheet row number
    assert table.schema.field("month").type == pa.date32()
    assert table.schema.field("spend").type == pa.int64()
    assert table.schema.field("rate").type == pa.float64()
    assert table.schema.field("active").type == pa.bool_()
    assert table.schema.field("note").type == pa.string()
    assert table.to_pylist() == [
        {
            "month": date(2025, 5, 1),
            "channel": "search",
            "spend": 1200,
            "rate": 0.5,
            "active": True,
            "note": "first",
            ROW: 2,
        },
        {
            "month": date(2025, 6, 1),
            "channel": "email",
            "spend": None,
            "rate": None,
            "active": None,
            "note": None,
            ROW: 3,
        },
    ]


def test_bad_cell_names_the_spreadsheet_row_and_column():
    rows = [HEADER, ["2025-05-01", "a", "1", "1", "TRUE", ""], ["2025-06-01", "b", "12,5x"]]
    with pytest.raises(SheetInvalid) as exc:
        rows_to_table(rows, COLUMNS, sheet="spend (spend.csv)")
    err = exc.value
    assert (err.sheet, err.row, err.column) == ("spend (spend.csv)", 3, "spend")
    assert err.problem == "'12,5x' is not a whole number"
    assert str(err) == (
        "Spreadsheet 'spend (spend.csv)', row 3, column 'spend': '12,5x' is not a whole number"
    )


def test_empty_rows_are_skipped_but_still_counted():
    rows = [HEADER, ["", "", ""], [], ["2025-05-01", "a", "x"]]
    with pytest.raises(SheetInvalid) as exc:
        rows_to_table(rows, COLUMNS, sheet="t")
    assert exc.value.row == 4
    ok = rows_to_table([HEADER, [None] * 6, ["2025-05-01", "a", "3"]], COLUMNS, sheet="t")
    assert ok.num_rows == 1


def test_missing_declared_column_is_reported_on_the_header_row():
    with pytest.raises(SheetInvalid) as exc:
        rows_to_table([["month", "channel"], ["2025-05-01", "a"]], COLUMNS, sheet="t")
    assert exc.value.row == 1
    assert exc.value.column == "spend"
    assert exc.value.problem == "column is missing from the header"


def test_an_empty_sheet_misses_every_declared_column():
    with pytest.raises(SheetInvalid, match="column is missing from the header"):
        rows_to_table([], {"a": "int"}, sheet="t")


def test_duplicate_header_is_refused():
    with pytest.raises(SheetInvalid, match="more than once") as exc:
        rows_to_table([["a", "b", "a"]], {"a": "int"}, sheet="t")
    assert (exc.value.row, exc.value.column) == (1, "a")


def test_blank_header_columns_are_dropped_and_short_rows_padded():
    table = rows_to_table([["a", "", "b"], ["1", "junk"]], {"a": "int"}, sheet="t")
    assert table.column_names == ["a", "b", ROW]
    assert table.to_pylist() == [{"a": 1, "b": None, ROW: 2}]


def test_header_names_are_trimmed():
    table = rows_to_table([[" a ", "b\n"], ["1", "x"]], {"a": "int", "b": "text"}, sheet="t")
    assert table.column_names == ["a", "b", ROW]


# --- check_rows: every bad cell a problem with its address; the rest still read ----------


def test_column_letters_go_past_z():
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702, 16383)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        column_letter(-1)


def test_check_rows_turns_bad_cells_into_null_and_problems():
    rows = [
        HEADER,
        ["2025-05-01", "search", "12,3x", "0.5", "TRUE", "ok"],
        [],  # empty rows are skipped but keep the numbering
        ["next month", "email", "7", "inf", "maybe"],
    ]
    records, problems = check_rows(rows, COLUMNS)
    assert records == [
        {"month": date(2025, 5, 1), "channel": "search", "spend": None, "rate": 0.5,
         "active": True, "note": "ok"},
        {"month": None, "channel": "email", "spend": 7, "rate": None, "active": None,
         "note": None},
    ]  # fmt: skip
    assert problems == [
        CellProblem(2, "C", "spend", "a whole number", "'12,3x'"),
        CellProblem(4, "A", "month", "a date (YYYY-MM-DD or YYYY-MM)", "'next month'"),
        CellProblem(4, "D", "rate", "a number", "'inf'"),
        CellProblem(4, "E", "active", "true or false", "'maybe'"),
    ]
    assert problems[0].address == "C2"
    assert str(problems[0]) == "C2 (spend): expected a whole number, found '12,3x'"


def test_problem_addresses_count_blank_header_columns_and_reach_aa():
    header = [f"c{i}" for i in range(26)] + ["", "amount"]  # AA has no name, AB is "amount"
    row = ["x"] * 26 + ["junk", "12,5"]
    records, problems = check_rows([header, row], {"amount": "int"})
    assert "" not in records[0] and records[0]["amount"] is None
    assert [p.address for p in problems] == ["AB2"]
    assert str(problems[0]) == "AB2 (amount): expected a whole number, found '12,5'"


def test_problem_hides_personal_data_but_keeps_other_values():
    rows = [["phone", "email", "n"], ["010-1234-5678", "kim@example.com", "x1"]]
    _, problems = check_rows(rows, {"phone": "int", "email": "float", "n": "int"})
    assert [p.found for p in problems] == ["the value", "the value", "'x1'"]


def test_too_large_number_says_the_range():
    _, problems = check_rows([["n"], ["9" * 25]], {"n": "int"})
    assert problems[0].expected.startswith("a whole number within")
    assert problems[0].found == "'" + "9" * 25 + "'"


def test_header_problems_still_refuse_the_sheet_in_one_line():
    with pytest.raises(SheetInvalid, match="column is missing from the header") as exc:
        check_rows([["month"], ["2025-05-01"]], {"month": "date", "spend": "int"}, sheet="s")
    assert (exc.value.row, exc.value.column) == (1, "spend")
    with pytest.raises(SheetInvalid, match="more than once"):
        check_rows([["a", "a"]], {"a": "int"})
    assert check_rows([], {}) == ([], [])


def test_read_table_keeps_declared_types_with_nulls_for_bad_cells():
    rows = [HEADER, ["2025-05-01", "a", "x", "0.5", "TRUE"], ["2025-06", "b", "3", "1", "no"]]
    table, problems = read_table(rows, COLUMNS, sheet="t")
    assert table.schema.field("spend").type == pa.int64()
    assert table.column("spend").to_pylist() == [None, 3]
    assert [p.address for p in problems] == ["C2"]


def test_builder_numbers_rows_of_ranges_that_google_trimmed():
    builder = TableBuilder(["n"], {"n": "int"})
    builder.add([["1"], ["x"]], first_row=2)
    builder.add([["y"]], first_row=10)  # rows 4-9 were empty: left out of the answer
    builder.add([["z"]])  # right after the previous range
    assert [p.address for p in builder.problems] == ["A3", "A10", "A11"]
    assert builder.table().column("n").to_pylist() == [1, None, None, None]
    assert builder.table().column(ROW).to_pylist() == [2, 3, 10, 11]


def test_each_row_keeps_its_spreadsheet_row_number_past_blank_rows():
    rows = [["n", "t"], ["1", "a"], ["", ""], [None], ["x", "b"], ["   ", None], ["4", "c"]]
    table, problems = read_table(rows, {"n": "int"}, sheet="t")
    assert table.column(ROW).to_pylist() == [2, 5, 7]
    assert table.column("t").to_pylist() == ["a", "b", "c"]
    assert [p.address for p in problems] == ["A5"]
    records, _ = check_rows(rows, {"n": "int"})
    assert ROW not in records[0]  # the records are the sheet's own columns


def test_a_header_named_like_the_row_number_column_is_refused():
    with pytest.raises(SheetInvalid, match="reserved") as exc:
        read_table([["n", ROW], ["1", "2"]], {"n": "int"}, sheet="t")
    assert (exc.value.row, exc.value.column) == (1, ROW)


# --- infer_types ------------------------------------------------------------------------


def test_infer_types_picks_the_narrowest_type_every_value_fits():
    rows = [
        ["flag", "count", "ratio", "month", "name", "empty", "", "mixed", "zero_one"],
        ["TRUE", "1,200", "0.5", "2025-05-01", "Kim", "", "junk", "1", "0"],
        ["no", "3", "2", "2025-06", "Lee", None, "", "x", "1"],
        [False, 4.0, 1, datetime(2025, 7, 1), "", "", "", "2", "1"],
        [],
    ]
    assert infer_types(rows) == {
        "flag": "bool",
        "count": "int",
        "ratio": "float",
        "month": "date",
        "name": "text",
        "empty": "text",
        "mixed": "text",
        "zero_one": "int",  # 0/1 could be booleans, but a column of them is a count
    }
    assert infer_types([]) == {}


def test_inferred_types_read_the_same_rows_without_problems():
    rows = [["month", "spend", "ctr", "active"], ["2025-05", "1,000", "0.1", "yes"]]
    kinds = infer_types(rows)
    records, problems = check_rows(rows, kinds)
    assert problems == []
    assert records == [{"month": date(2025, 5, 1), "spend": 1000, "ctr": 0.1, "active": True}]


def test_header_names_are_compared_ignoring_case_like_duckdb():
    with pytest.raises(SheetInvalid, match="reserved") as exc:
        read_table([["n", " _Row "], ["1", "2"]], {"n": "int"}, sheet="t")
    assert (exc.value.row, exc.value.column) == (1, "_Row")
    with pytest.raises(SheetInvalid, match="more than once") as exc:
        read_table([["Email", "n", " email"], ["a", "1", "b"]], {"n": "int"}, sheet="t")
    assert (exc.value.row, exc.value.column) == (1, "email")
    assert "'Email' and 'email'" in str(exc.value)
    assert "\n" not in str(exc.value)
