"""Dashboard through AppTest: the KPI cards equal lib.dashboard.data.load for the view the
URL holds; the view restored from a pasted URL and written back on a change; a seller bound
to its own tenant; an empty range; a click on a bar leads to that period's orders."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from lib.access.principal import Principal
from lib.config import runtime
from lib.dashboard import charts, data
from lib.dashboard.filters import default_range
from lib.dashboard.model import Filters, Kpi
from lib.ui.dashboard_charts import chart_key
from lib.ui.dashboard_kpis import delta_text, value_text
from lib.ui.navigation import NOT_PERMITTED, PRINCIPAL_KEY
from tests.pages.helpers import apps_for, config_without, open_page, run_page_file, sign_in
from tests.stack import write_config

pytestmark = pytest.mark.pages

DASHBOARD = "app_pages/dashboard.py"
ANALYST = Principal("analyst", "Analyst", ("analyst",))
SELLER1 = Principal("seller1", "Seller 1", ("seller",), tenant=1)
VIEW = {
    "from": "2026-01-01",
    "to": "2026-03-31",
    "granularity": "week",
    "seller": "2",
    "segment": "vip",
    "method": "card",
}


def cards(at: AppTest) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def expected(principal: Principal, filters: Filters) -> dict[str, tuple[str, str | None]]:
    loaded = data.load(runtime.engine(), principal, filters)
    out = {}
    for k in loaded.kpis:
        delta = k.note if k.previous is None and k.note else delta_text(k)
        out[k.label] = (value_text(k), delta)
    return out


def widgets(at: AppTest) -> dict[str, object]:
    out: dict[str, object] = {d.label: d.value for d in at.date_input}
    out.update({s.label: s.value for s in at.selectbox})
    return out


def test_analyst_sees_the_kpis_of_the_view_in_the_url(app):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    shown = cards(at)
    assert list(shown) == [
        "GMV",
        "Revenue kept",
        "Orders",
        "Average order value",
        "Refund rate",
        "New customers",
        "Pending orders",
        "Marketing spend",
        "Revenue per ₩ spent",
    ]
    assert shown == expected(ANALYST, Filters(date(2026, 1, 1), date(2026, 3, 31)))
    assert int(shown["Orders"][0].replace(",", "")) > 1000
    assert shown["GMV"][0].startswith("₩")
    assert "Changes compared with the previous 90 days: 2025-10-03 – 2025-12-31" in [
        c.value for c in at.caption
    ]
    assert at.query_params["from"] == "2026-01-01" and at.query_params["to"] == "2026-03-31"


def test_a_pasted_url_restores_the_whole_view_in_a_fresh_session(app):
    at = open_page(app, DASHBOARD, "admin", **VIEW)
    assert widgets(at) == {
        "From": date(2026, 1, 1),
        "To (inclusive)": date(2026, 3, 31),
        "Granularity": "week",
        "Seller": 2,
        "Segment": "vip",
        "Payment method": "card",
    }
    view = Filters(date(2026, 1, 1), date(2026, 3, 31), "week", 2, "vip", "card")
    assert cards(at) == expected(ANALYST, view)
    assert {k: at.query_params[k] for k in VIEW} == VIEW


def test_changing_a_filter_writes_the_url(app):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    at.date_input(key="dashboard_from").set_value(date(2026, 2, 1)).run()
    at.selectbox(key="dashboard_granularity").set_value("day").run()
    at.selectbox(key="dashboard_segment").set_value("vip").run()
    assert not at.exception
    assert at.query_params["from"] == "2026-02-01"
    assert at.query_params["granularity"] == "day"
    assert at.query_params["segment"] == "vip"
    assert cards(at) == expected(
        ANALYST, Filters(date(2026, 2, 1), date(2026, 3, 31), "day", segment="vip")
    )


def test_the_default_view_is_the_last_twelve_full_months(app):
    at = open_page(app, DASHBOARD, "analyst")
    latest = data.latest_day(runtime.engine())
    assert latest is not None
    start, end = default_range(latest)
    assert (at.query_params["from"], at.query_params["to"]) == (str(start), str(end))
    assert at.query_params["granularity"] == "month"


def test_a_seller_sees_its_own_tenant_whatever_the_url_asks(app):
    at = open_page(
        app, DASHBOARD, "seller1", **{"from": "2026-01-01", "to": "2026-03-31", "seller": "2"}
    )
    assert "Seller" not in widgets(at)
    shown = cards(at)
    assert "Marketing spend" not in shown and "Revenue per ₩ spent" not in shown
    assert shown == expected(SELLER1, Filters(date(2026, 1, 1), date(2026, 3, 31)))
    assert "seller" not in at.query_params
    own = expected(ANALYST, Filters(date(2026, 1, 1), date(2026, 3, 31), seller_id=1))
    assert shown["Orders"] == own["Orders"]
    # No sources named, no refresh, no click through to Orders (a seller cannot open it).
    assert not [b for b in at.button if b.label == "Refresh"]
    assert chart_key("revenue_by_segment") not in at.session_state


def test_support_may_not_open_the_dashboard(app):
    at = sign_in(app(), "support", "support-demo")
    support = at.session_state[PRINCIPAL_KEY]
    assert "Dashboard" not in {el.proto.label for el in at.sidebar.get("page_link")}
    # Typed by hand, /dashboard runs the page file for this principal: it refuses.
    page = run_page_file(support, DASHBOARD)
    assert [e.value for e in page.error] == [NOT_PERMITTED]
    assert not page.metric and not page.title and not page.date_input


def test_an_empty_range_says_so(app):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2020-01-01", "to": "2020-02-01"})
    assert [i.value for i in at.info] == ["No orders in this date range."]
    assert not at.metric


def test_a_from_after_the_to_is_refused_with_a_warning(app):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    at.date_input(key="dashboard_from").set_value(date(2026, 5, 1)).run()
    assert "The 'From' date is after the 'To' date." in [w.value for w in at.warning]
    assert not at.metric


def test_clicking_a_bar_opens_that_periods_orders_for_the_views_seller(app):
    at = open_page(
        app, DASHBOARD, "admin", **{"from": "2026-01-15", "to": "2026-03-31", "seller": "2"}
    )
    key = chart_key("revenue_by_segment")
    at.session_state[key] = {"selection": {charts.SELECTION: [{"period": "2026-01-01"}]}}
    at.run()
    assert not at.exception
    assert at.query_params["from"] == "2026-01-15"  # clipped to the view's range
    assert at.query_params["to"] == "2026-01-31"
    assert at.query_params["seller"] == "2"
    assert [t.value for t in at.title] == ["Orders & payments"]


def test_the_revenue_table_links_each_period_to_its_orders(app):
    at = open_page(app, DASHBOARD, "operator", **{"from": "2026-01-01", "to": "2026-03-31"})
    table = next(d.value for d in at.dataframe if "period" in d.value.columns)
    links = dict(zip(table["period"], table["orders_link"], strict=False))
    assert links[date(2026, 2, 1)] == "/orders?from=2026-02-01&to=2026-02-28"
    assert chart_key("revenue_by_segment") in at.session_state  # its bars are clickable


def test_an_analyst_follows_a_period_to_its_orders_too(app):
    """Analysts may open /orders (read-only): their bars and periods link to it."""
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    table = next(d.value for d in at.dataframe if "period" in d.value.columns)
    links = dict(zip(table["period"], table["orders_link"], strict=False))
    assert links[date(2026, 2, 1)] == "/orders?from=2026-02-01&to=2026-02-28"
    assert chart_key("revenue_by_segment") in at.session_state


def test_a_seller_without_the_orders_page_gets_no_links(app):
    at = open_page(app, DASHBOARD, "seller1", **{"from": "2026-01-01", "to": "2026-03-31"})
    table = next(d.value for d in at.dataframe if "period" in d.value.columns)
    assert "orders_link" not in table.columns
    assert chart_key("revenue_by_segment") not in at.session_state


def test_the_charts_data_is_one_click_away(app, downloads):
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    frames = [d.value for d in at.dataframe]
    assert {"category", "refunds", "refunded_krw"} <= set(frames[-1].columns)
    assert len(frames) == 5  # one table per chart
    assert {f"{k}_2026-01-01_2026-03-31.csv" for k in charts.CHARTS} <= set(downloads)


def test_coming_back_from_a_bars_orders_shows_the_dashboard(app):
    at = open_page(app, DASHBOARD, "admin", **{"from": "2026-01-01", "to": "2026-03-31"})
    at.session_state[chart_key("revenue_by_segment")] = {
        "selection": {charts.SELECTION: [{"period": "2026-02-01"}]}
    }
    at.run()
    assert [t.value for t in at.title] == ["Orders & payments"]
    at.switch_page(DASHBOARD).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Dashboard"]
    assert at.metric


@pytest.mark.parametrize("source", ["shop", "crm"])
def test_an_unreachable_source_is_one_message_and_the_filters_still_work(
    source, tmp_path, demo_dir, monkeypatch
):
    with apps_for(config_without(tmp_path, demo_dir, source), monkeypatch) as make:
        at = open_page(make, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
        assert len(at.error) == 1 and source in at.error[0].value
        at.selectbox(key="dashboard_granularity").set_value("week").run()
        assert not at.exception
        assert at.query_params["granularity"] == "week"


def test_reports_and_chart_csvs_are_built_only_when_downloaded(app, monkeypatch):
    from lib.ui import dashboard_reports, export

    built: list[str] = []
    monkeypatch.setattr(dashboard_reports, "dashboard_pdf", lambda d: built.append("pdf") or b"")
    monkeypatch.setattr(dashboard_reports, "dashboard_xlsx", lambda d: built.append("xlsx") or b"")
    monkeypatch.setattr(export, "to_csv", lambda frame: built.append("csv") or b"")
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    at.selectbox(key="dashboard_granularity").set_value("week").run()
    labels = [b.label for b in at.get("download_button")]
    assert {"Download XLSX", "Download PDF"} <= set(labels)
    assert labels.count("Download CSV") == 5  # one per chart
    assert built == []


def test_only_admins_may_schedule_the_view(app):
    view = {"from": "2026-01-01", "to": "2026-03-31"}
    admin = open_page(app, DASHBOARD, "admin", **view)
    assert "Schedule this view" in [b.label for b in admin.button]
    analyst = open_page(app, DASHBOARD, "analyst", **view)
    assert "Schedule this view" not in [b.label for b in analyst.button]


def test_a_link_with_an_unknown_segment_says_so_and_shows_all(app):
    at = open_page(
        app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31", "segment": "nope"}
    )
    assert "Ignored segment 'nope' from the link: no such segment." in [c.value for c in at.caption]
    assert at.selectbox(key="dashboard_segment").value is None
    assert "segment" not in at.query_params
    assert cards(at) == expected(ANALYST, Filters(date(2026, 1, 1), date(2026, 3, 31)))


def test_without_the_spend_sheet_the_spend_cards_say_why_and_the_rest_stands(
    tmp_path, demo_dir, monkeypatch
):
    (demo_dir / "marketing_spend.csv").unlink()
    with apps_for(write_config(tmp_path, demo_dir), monkeypatch) as make:
        at = open_page(make, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
        shown = cards(at)
        assert shown["Marketing spend"] == ("—", "unavailable")
        assert shown["Revenue per ₩ spent"][0] == "—" and not shown["Revenue per ₩ spent"][1]
        assert [w.value for w in at.warning][0].startswith("Marketing spend is unavailable: ")
        assert (
            shown["Orders"]
            == expected(ANALYST, Filters(date(2026, 1, 1), date(2026, 3, 31)))["Orders"]
        )
        assert len(at.dataframe) == 5  # every chart still there


@pytest.mark.parametrize(
    ("unit", "value", "previous", "shown", "delta"),
    [
        ("krw", 1_234_567_890, 1_000_000_000, "₩1.2B", "+23.5%"),
        ("krw", 167_267.4, 172_000, "₩167,267", "-2.8%"),
        ("count", 7116, 5000, "7,116", "+42.3%"),
        ("percent", 0.079, 0.0786, "7.9%", "+0.5%"),
        ("ratio", 4.371, None, "4.37×", None),
        ("count", None, 10, "—", None),
        ("count", 5, 0, "5", None),
    ],
)
def test_card_figures_are_formatted_for_their_unit(unit, value, previous, shown, delta):
    kpi = Kpi("k", "K", value, previous, unit)
    assert (value_text(kpi), delta_text(kpi)) == (shown, delta)


def test_a_snapshot_still_being_copied_is_an_info_box_not_an_error(app, monkeypatch):
    """At scale the first copy of the orders takes longer than a page waits: the dashboard
    says the data is being prepared (no error, no figures) and the filters still work."""
    from lib.reading.snapshots import SnapshotBuilding

    def building(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SnapshotBuilding("shop", "orders", 12)

    monkeypatch.setattr(data, "load", building)
    at = open_page(app, DASHBOARD, "analyst", **{"from": "2026-01-01", "to": "2026-03-31"})
    assert not at.exception and not at.error
    assert [i.value for i in at.info] == [
        "The data is being prepared (snapshot of shop.orders, started 12 s ago). It shows "
        "here once ready; other pages work meanwhile."
    ]
    at.selectbox(key="dashboard_granularity").set_value("week").run()
    assert not at.exception and at.query_params["granularity"] == "week"
