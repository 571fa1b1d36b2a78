from pathlib import Path

import pytest

from lib.config.settings import ROOT
from lib.errors import QueryNotFound
from lib.reading.queries import load_query

QUERIES = ROOT / "queries"


def test_named_query_declares_its_sources_and_parameters():
    q = load_query(QUERIES, "dashboard_figures")
    assert q.sources == ("shop", "crm")
    assert q.params == {"date_from", "date_end", "granularity", "seller_id", "segment", "method"}


def test_the_dashboard_queries_bind_only_the_views_parameters_and_read_snapshots():
    import re
    from datetime import date

    from lib.dashboard.model import Filters

    bound = set(Filters(date(2026, 1, 1), date(2026, 1, 31)).bound())
    live = re.compile(r"\b(shop\.orders|shop\.payments|shop\.refunds|crm\.customers)\b(?!_)")
    names = {p.stem for p in QUERIES.glob("dashboard_*.sql")}
    assert {"dashboard_figures", "dashboard_spend", "dashboard_options"} <= names
    for name in sorted(names):
        q = load_query(QUERIES, name)
        assert q.params <= bound, name
        assert not live.search(q.sql), f"{name} reads a live table: the page reruns often"


@pytest.mark.parametrize("name", ["../pyproject", "x;drop", "", "Upper"])
def test_a_name_cannot_walk_out_of_the_queries_folder(name):
    with pytest.raises(QueryNotFound):
        load_query(QUERIES, name)


def test_unknown_query_is_reported_by_name(tmp_path: Path):
    with pytest.raises(QueryNotFound, match="no_such_query"):
        load_query(tmp_path, "no_such_query")


def test_every_shipped_query_names_only_configured_sources():
    from lib.config.settings import load_settings

    configured = {s.name for s in load_settings().sources}
    for path in QUERIES.glob("*.sql"):
        q = load_query(QUERIES, path.stem)
        assert q.sources, f"{path.name} has no '-- sources:' header"
        assert set(q.sources) <= configured, path.name


def test_sort_comes_only_from_the_declared_columns(tmp_path: Path):
    (tmp_path / "t.sql").write_text(
        "-- sources: shop\n-- sortable: id, amount\n-- default_sort: amount desc\n"
        "SELECT * FROM shop.orders ORDER BY __order_by__",
        encoding="utf-8",
    )
    q = load_query(tmp_path, "t")
    assert q.render().endswith('ORDER BY "amount" DESC NULLS LAST, id')
    assert q.render(("id", "asc")).endswith('ORDER BY "id" ASC NULLS LAST')
    for bad in [("name; DROP TABLE x", "asc"), ("amount", "sideways")]:
        with pytest.raises(QueryNotFound, match="cannot be sorted"):
            q.render(bad)
