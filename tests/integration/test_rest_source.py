"""The rest kind against the demo services over real HTTP: pagination, auth, timeout, 5xx."""

from collections.abc import Iterator

import pytest
import requests

from lib.config.settings import ROOT
from lib.errors import SourceUnavailable
from lib.reading.engine import Engine
from lib.reading.sources import rest
from lib.reading.sources.base import SourceConfig

pytestmark = pytest.mark.integration


def api(base_url: str, endpoint: dict, token: str = "demo-token", **opts) -> SourceConfig:
    options = {
        "base_url": base_url,
        "timeout": 2,
        "retries": 2,
        "backoff": 0.05,
        "endpoints": {"t": endpoint},
        **opts,
    }
    return SourceConfig("api", "rest", options=options, secrets={"token": token})


@pytest.fixture
def faults(demo_services) -> Iterator:
    """Inject a fault into a service; always cleared afterwards (the services are shared)."""
    touched = []

    def inject(service: str, **fault) -> None:
        url = demo_services[service]
        requests.post(f"{url}/_faults", json=fault, timeout=2).raise_for_status()
        touched.append(url)

    yield inject
    for url in touched:
        requests.post(f"{url}/_faults", json={"mode": "none"}, timeout=2)


PROFILES = {"path": "/customers", "pagination": "page", "page_size": 300}
SHIPMENTS = {"path": "/orders", "pagination": "cursor", "page_size": 1000}


def test_page_numbered_endpoint_is_read_to_the_last_page(demo_services):
    table = rest.load(api(demo_services["customer_api"], PROFILES))["t"]
    ids = table.column("id").to_pylist()
    assert len(ids) == 2000 and len(set(ids)) == 2000
    assert {"loyalty_tier", "points", "marketing_opt_in"} <= set(table.column_names)


def test_cursor_endpoint_is_read_to_the_end(demo_services):
    table = rest.load(api(demo_services["order_api"], SHIPMENTS))["t"]
    ids = table.column("id").to_pylist()
    assert len(ids) == 20000 and len(set(ids)) == 20000


def test_wrong_token_is_a_one_line_error_without_the_token(demo_services):
    with pytest.raises(SourceUnavailable) as err:
        rest.load(api(demo_services["customer_api"], PROFILES, token="wrong-token-xyz"))
    assert "HTTP 401" in str(err.value)
    assert "wrong-token-xyz" not in str(err.value)


def test_a_slow_server_times_out_with_a_clear_message(demo_services, faults):
    faults("customer_api", mode="slow", delay=1.5, count=5)
    cfg = api(demo_services["customer_api"], PROFILES, timeout=0.4, retries=0)
    with pytest.raises(SourceUnavailable, match=r"GET /customers timed out after 0.4 s"):
        rest.load(cfg)


def test_a_500_that_persists_is_reported_after_the_retries(demo_services, faults):
    faults("customer_api", mode="error500", count=10)
    with pytest.raises(SourceUnavailable, match=r"GET /customers answered HTTP 500"):
        rest.load(api(demo_services["customer_api"], PROFILES, retries=2))


def test_a_single_500_is_retried_with_backoff_and_the_load_succeeds(demo_services, faults):
    faults("customer_api", mode="error500", count=1)
    table = rest.load(api(demo_services["customer_api"], PROFILES, retries=2))["t"]
    assert table.num_rows == 2000


def test_api_rows_join_database_rows_in_duckdb(demo_services, demo_dir, tmp_path):
    (tmp_path / "tiers.sql").write_text(
        "-- sources: api, crm\n"
        "SELECT p.loyalty_tier, count(*) AS n FROM api.t AS p "
        "JOIN crm.customers AS c ON c.id = p.id GROUP BY ALL ORDER BY n DESC",
        encoding="utf-8",
    )
    crm = SourceConfig(
        "crm",
        "sql",
        options={"url": f"sqlite:///{demo_dir}/crm.sqlite", "tables": {"customers": {}}},
    )
    engine = Engine([api(demo_services["customer_api"], PROFILES), crm], tmp_path)
    df = engine.query("tiers")
    assert int(df.n.sum()) == 2000
    assert set(df.loyalty_tier) <= {"bronze", "silver", "gold", "platinum"}


def test_shipped_config_declares_both_pagination_styles():
    from lib.config.settings import load_settings

    styles = {
        spec["pagination"]
        for s in load_settings(ROOT / "config" / "backoffice.toml").sources
        if s.kind == "rest"
        for spec in s.options["endpoints"].values()
    }
    assert styles == {"page", "cursor"}


def answering(monkeypatch: pytest.MonkeyPatch, *bodies: object) -> list[dict]:
    """The source's GETs answer `bodies` in turn (what a server's JSON decodes to); the
    query params of each GET are returned as they are made."""
    asked: list[dict] = []

    def get_json(cfg, session, path, params):
        asked.append(dict(params))
        return bodies[len(asked) - 1]

    monkeypatch.setattr(rest, "get_json", get_json)
    return asked


@pytest.mark.parametrize("pagination", ["page", "cursor"])
@pytest.mark.parametrize("end", [{}, {"items": None}], ids=["missing", "null"])
def test_a_paged_endpoint_whose_items_are_missing_or_null_has_no_more_rows(
    monkeypatch, pagination: str, end: dict
):
    first = {"items": [{"id": 1}, {"id": 2}], "total": 9, "next_cursor": "c2"}
    asked = answering(monkeypatch, first, {**end, "total": 9})  # a cursor page: no next one
    endpoint = {"path": "/t", "pagination": pagination, "page_size": 2}
    table = rest.load(api("http://127.0.0.1:9", endpoint))["t"]
    assert table.column("id").to_pylist() == [1, 2]
    assert len(asked) == 2


@pytest.mark.parametrize(
    ("pagination", "body", "error"),
    [
        ("page", [{"id": 1}], "GET /t answered a list, not a page object"),
        ("cursor", [{"id": 1}], "GET /t answered a list, not a page object"),
        ("page", "busy", "GET /t answered a plain value, not a page object"),
        ("page", {"items": [{"id": 1}], "total": "many"}, "answered a total that is not a number"),
        ("page", {"items": [{"id": 1}], "total": [3]}, "answered a total that is not a number"),
        ("page", {"items": {"id": 1}, "total": 1}, "GET /t answered without a list 'items'"),
    ],
)
def test_a_page_that_is_not_what_paging_needs_is_a_one_line_error(
    monkeypatch, pagination: str, body: object, error: str
):
    answering(monkeypatch, body)
    endpoint = {"path": "/t", "pagination": pagination, "page_size": 1}
    with pytest.raises(SourceUnavailable) as caught:
        rest.load(api("http://127.0.0.1:9", endpoint))
    assert error in str(caught.value)
    assert "\n" not in str(caught.value)
