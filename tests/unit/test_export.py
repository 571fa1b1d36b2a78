"""Downloads people open in a spreadsheet: formulas in text cells are neutralised."""

from __future__ import annotations

import csv
import io
import tomllib
from datetime import UTC, datetime

import openpyxl
import pandas as pd
import pytest

from lib import export
from lib.config.settings import ROOT

HOSTILE = ['=HYPERLINK("http://evil","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]
HOSTILE += ["\t=1+1", "\r=1+1", "＝1+1"]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [*HOSTILE, "plain text", "김민수", None],
            "amount": [-5000, 1, 2, 3, 4, 5, 6, -7, 8, 9],
            "ratio": [-0.5, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, float("nan")],
        }
    )


def read_back_csv(data: bytes) -> list[list[str]]:
    """The rows as a spreadsheet splits them: header first."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_text_cells_that_start_a_formula_get_an_apostrophe():
    header, *rows = read_back_csv(export.to_csv(frame()))
    assert header == ["name", "amount", "ratio"]
    names = [row[0] for row in rows]
    assert names == ["'" + v for v in HOSTILE] + ["plain text", "김민수", ""]


def test_csv_numbers_stay_numbers_even_when_negative():
    _, *rows = read_back_csv(export.to_csv(frame()))
    assert rows[0][1:] == ["-5000", "-0.5"]
    assert rows[7][1] == "-7"


def test_csv_column_names_are_neutralised_too():
    header, *_ = read_back_csv(export.to_csv(pd.DataFrame({"=cmd": ["a"], "ok": ["b"]})))
    assert header == ["'=cmd", "ok"]


def test_csv_has_a_byte_order_mark_so_spreadsheets_read_korean():
    data = export.to_csv(pd.DataFrame({"name": ["김민수"]}))
    assert data.startswith(b"\xef\xbb\xbf")
    assert "김민수" in data.decode("utf-8-sig")


def test_the_exported_frame_is_not_changed():
    df = frame()
    export.to_csv(df)
    assert df["name"][0] == HOSTILE[0]


def test_xlsx_holds_text_not_formulas_and_numbers_as_numbers():
    df = frame().assign(at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    sheet = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(df))).active
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    cells = [row[0] for row in rows]
    # XML reads a stored carriage return back as a line feed.
    assert cells[: len(HOSTILE)] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert rows[0][1] == -5000 and rows[0][2] == -0.5
    assert rows[0][3] == datetime(2026, 11, 30, 9, 0)


@pytest.mark.parametrize("value", ["a=b", "a-b", "3", "", " =x"])
def test_text_that_does_not_start_a_formula_is_unchanged(value):
    assert export.neutralise(value) == value


def test_tables_offer_no_download_of_their_own():
    """st.dataframe's built-in CSV download cannot neutralise formulas: it is turned off,
    so every download goes through lib.export."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["disableDataExport"] is True
