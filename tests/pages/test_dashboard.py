"""Dashboard through AppTest: KPIs over the demo data, date range from and to the URL."""

from datetime import date

from tests.pages.helpers import open_page

DASHBOARD = "app_pages/dashboard.py"


def test_analyst_sees_kpis_for_the_range_in_the_url(app):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-04-01"})
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Revenue kept", "Orders", "Marketing spend", "Revenue / spend"}
    assert int(metrics["Orders"].replace(",", "")) > 1000
    assert at.date_input[0].value.isoformat() == "2026-01-01"
    assert at.query_params["from"] == "2026-01-01"


def test_changing_the_range_is_written_to_the_url(app):
    at = open_page(app, DASHBOARD, "analyst")
    at.date_input[0].set_value(date(2026, 6, 1)).run()
    assert at.query_params["from"] == "2026-06-01"


def test_an_empty_range_says_so(app):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2020-01-01", "to": "2020-02-01"})
    assert [i.value for i in at.info] == ["No orders in this date range."]
