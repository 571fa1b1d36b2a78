from pathlib import Path

import pytest

from lib.errors import QueryNotFound
from lib.queries import load_query
from lib.settings import ROOT

QUERIES = ROOT / "queries"


def test_named_query_declares_its_sources_and_parameters():
    q = load_query(QUERIES, "monthly_revenue_vs_spend")
    assert q.sources == ("crm", "shop", "sheets")
    assert q.params == {"date_from", "date_to"}


@pytest.mark.parametrize("name", ["../pyproject", "x;drop", "", "Upper"])
def test_a_name_cannot_walk_out_of_the_queries_folder(name):
    with pytest.raises(QueryNotFound):
        load_query(QUERIES, name)


def test_unknown_query_is_reported_by_name(tmp_path: Path):
    with pytest.raises(QueryNotFound, match="no_such_query"):
        load_query(tmp_path, "no_such_query")


def test_every_shipped_query_names_only_configured_sources():
    from lib.settings import load_settings

    configured = {s.name for s in load_settings().sources}
    for path in QUERIES.glob("*.sql"):
        q = load_query(QUERIES, path.stem)
        assert q.sources, f"{path.name} has no '-- sources:' header"
        assert set(q.sources) <= configured, path.name
