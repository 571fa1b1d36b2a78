"""Reading a declared source's table by name (lib.reading.catalog): names checked against
DuckDB's catalogue of the declared sources, a page with its total (also past the end), every
row in load order, and hostile names refused before any SQL is written."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.config.settings import load_settings
from lib.reading import catalog
from lib.reading.engine import Engine
from lib.reading.sources.cells import ROW
from tests.stack import write_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    settings = load_settings(write_config(tmp_path_factory.mktemp("catalog"), demo_dir))
    eng = Engine(settings.sources, settings.queries_dir)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def spend(demo_dir: Path) -> list[dict[str, str]]:
    with open(demo_dir / "marketing_spend.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_columns_pages_and_rows_of_a_sheet(engine, spend):
    cols = catalog.columns(engine, "sheets", "marketing_spend")
    assert list(cols) == list(spend[0]) and cols["spend_krw"] == "BIGINT"
    df, total = catalog.page(
        engine, "sheets", "marketing_spend", sort=("spend_krw", "desc"), limit=5, offset=0
    )
    assert total == len(spend) and len(df) == 5
    assert list(df["spend_krw"]) == sorted((int(r["spend_krw"]) for r in spend), reverse=True)[:5]
    past, total = catalog.page(engine, "sheets", "marketing_spend", sort=None, limit=5, offset=999)
    assert past.empty and total == len(spend)  # past the end: still the total
    every = catalog.rows(engine, "sheets", "marketing_spend")
    assert [r["channel"] for r in spend] == list(every["channel"])  # as loaded
    assert len(catalog.rows(engine, "sheets", "marketing_spend", limit=3)) == 3
    assert catalog.count(engine, "sheets", "marketing_spend") == len(spend)


def test_a_sheets_row_numbers_are_hidden_unless_asked_for(engine, spend):
    assert ROW not in catalog.described(engine, ["sheets"])["sheets.marketing_spend"]
    df, _ = catalog.page(engine, "sheets", "marketing_spend", sort=None, limit=5, offset=0)
    assert list(df.columns) == list(spend[0])
    assert list(catalog.rows(engine, "sheets", "marketing_spend").columns) == list(spend[0])
    numbered = catalog.rows(engine, "sheets", "marketing_spend", row_numbers=True)
    assert list(numbered.columns) == [*spend[0], ROW]
    assert list(numbered[ROW]) == list(range(2, len(spend) + 2))  # no blank rows in the demo


def test_a_live_database_table_reads_too(engine):
    df, total = catalog.page(engine, "crm", "customers", sort=("id", "asc"), limit=3, offset=0)
    assert list(df["id"]) == [1, 2, 3] and total >= 3


@pytest.mark.parametrize(
    ("source", "table", "sort"),
    [
        ("nope", "marketing_spend", None),
        ("sheets", 'marketing_spend"; DROP TABLE x; --', None),
        ("sheets", "../crm.customers", None),
        ("sheets", "marketing_spend", ('month" DESC; --', "asc")),
        ("sheets", "marketing_spend", ("month", "sideways")),
    ],
)
def test_a_name_not_in_the_catalogue_is_refused(engine, source, table, sort):
    with pytest.raises(catalog.NotInCatalogue):
        catalog.page(engine, source, table, sort=sort, limit=5, offset=0)
