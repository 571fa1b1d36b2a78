"""The Notifications page (admins): the message of a rejected order listed and delivered to
the demo's webhook sink, a failed one retried, scheduled reports listed, sent and stopped;
other roles refused; the dashboard's "Schedule this view" dialog keeping a schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from lib import actions
from lib.actions import context
from lib.actions.context import current
from lib.notify import outbox
from lib.reports import schedules_store
from lib.ui.navigation import NOT_PERMITTED
from tests.actions.conftest import PRINCIPALS
from tests.pages.helpers import apps_for, open_page, run_page_file, table
from tests.stack import shop, write_config

PAGE = "app_pages/notifications.py"
DASHBOARD = "app_pages/dashboard.py"


@pytest.fixture
def notify_app(
    tmp_path: Path, demo_dir: Path, demo_services: dict[str, str], monkeypatch
) -> Iterator[Callable[[], AppTest]]:
    """The app with the demo back ends up, the webhook sink among them: the chat channel
    posts to this test's sink."""
    with apps_for(write_config(tmp_path, demo_dir, demo_services), monkeypatch) as make:
        yield make


def reject_one(demo_dir: Path) -> int:
    order_id = shop(demo_dir, "SELECT id FROM orders WHERE status = 'pending' ORDER BY id")[0][0]
    result = actions.run(
        "order.reject", PRINCIPALS["operator"], order_id=order_id, reason="out of stock"
    )
    assert result.ok, result.message
    return order_id


def rows_of(db: str, **where: object) -> list[dict]:
    engine = current().audit.db if db == "audit" else current().db(db)
    stmt = sa.select(outbox.outbox).where(*(outbox.outbox.c[k] == v for k, v in where.items()))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def test_admin_sees_the_message_of_a_rejected_order_and_delivers_it(notify_app, demo_dir):
    notify_app().run()  # the app's context, as a page's action would use it
    order_id = reject_one(demo_dir)
    at = open_page(notify_app, PAGE, "admin")
    messages = table(at)
    [row] = messages[messages.event == "order.rejected"].to_dict("records")
    assert str(order_id) in row["subject"] and row["where"] == "shop"
    assert row["status"] in ("pending", "sending", "sent")
    at.button(key="notifications_deliver").click().run()
    assert not at.exception
    [sent] = rows_of("shop", event="order.rejected")
    assert sent["status"] == "sent"
    assert any(s.value.startswith("Delivered ") for s in at.success)
    [audited] = current().audit.query(action="notification.deliver_now")
    assert (audited["actor"], audited["outcome"]) == ("admin", "ok")
    assert set(audited["detail"]) == {"sent", "failed"}
    demo_inbox = at.tabs[2]
    hooks = demo_inbox.dataframe[-1].value
    assert any(str(order_id) in text for text in hooks.text)


def test_admin_retries_a_failed_message(notify_app, demo_dir):
    notify_app().run()
    reject_one(demo_dir)
    [message] = rows_of("shop", event="order.rejected")
    with current().db("shop").begin() as conn:
        conn.execute(
            sa.update(outbox.outbox)
            .where(outbox.outbox.c.id == message["id"])
            .values(status="failed", attempts=10, last_error="HTTP 500 from the receiver")
        )
    at = open_page(notify_app, PAGE, "admin", status="failed")
    assert at.query_params["status"] == "failed"
    failed = table(at)
    assert list(failed.status) == ["failed"] and failed.id[0] == message["id"]
    assert at.button(key="notifications_retry").disabled
    at.session_state["notifications_messages"] = {
        "selection": {"rows": [0], "columns": [], "cells": []}
    }
    at.run()
    at.button(key="notifications_retry").click().run()
    assert not at.exception
    assert any("will be sent again" in s.value for s in at.success)
    [again] = rows_of("shop", id=message["id"])
    assert again["status"] != "failed"
    [audited] = current().audit.query(action="notification.retry")
    assert (audited["actor"], audited["target_id"]) == ("admin", f"shop:{message['id']}")


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_other_roles_may_not_open_the_page(app, role):
    at = run_page_file(PRINCIPALS[role], PAGE)
    assert [e.value for e in at.error] == [NOT_PERMITTED]
    assert not at.dataframe and not at.button


def test_admin_schedules_the_dashboard_view_then_sends_and_stops_it(notify_app):
    at = open_page(notify_app, DASHBOARD, "admin", granularity="week", segment="vip")
    at.button(key="report_schedule_open").click().run()
    at.text_input(key="report_schedule_name").input("Weekly VIP sales")
    at.text_area(key="report_schedule_recipients").input("ana@example.com, not-an-address")
    at.button(key="report_schedule_submit").click().run()
    assert any("is not an e-mail address" in e.value for e in at.error)  # the dialog stays
    at.text_area(key="report_schedule_recipients").input("ana@example.com, ops@example.com")
    at.button(key="report_schedule_submit").click().run()
    assert not at.exception
    assert any("Scheduled 'Weekly VIP sales' weekly" in t.value for t in at.toast)
    [audited] = current().audit.query(action="report.schedule", outcome="ok")
    assert audited["actor"] == "admin" and audited["detail"]["recipients"] == 2
    [kept] = schedules_store.active(current().audit.db)
    assert kept.view == {"granularity": "week", "segment": "vip"}
    assert kept.frequency == "weekly"

    at.switch_page(PAGE).run()
    listed = at.tabs[1].dataframe[0].value
    [row] = listed.to_dict("records")
    assert (row["name"], row["recipients"]) == ("Weekly VIP sales", 2)
    assert row["to"] == "a***@example.com, o***@example.com"
    at.button(key="notifications_send_now").click().run()
    assert not at.exception
    [row] = at.tabs[1].dataframe[0].value.to_dict("records")
    assert row["last_period"] and row["last_status"] in ("pending", "sending", "sent")

    at.session_state["notifications_schedules"] = {
        "selection": {"rows": [0], "columns": [], "cells": []}
    }
    at.run()
    at.button(key="notifications_stop").click().run()
    assert any("Stopped the scheduled report 'Weekly VIP sales'" in s.value for s in at.success)
    assert schedules_store.active(current().audit.db) == []


def test_a_report_that_could_not_be_built_shows_why_and_is_built_again(notify_app):
    notify_app().run()
    db = current().audit.db
    schedules_store.ensure(db)
    with db.begin() as conn:
        schedule_id = schedules_store.insert(
            conn, name="Monthly sales", view={"granularity": "week"},
            recipients=["ana@example.com"], frequency="monthly", created_by="admin",
        )  # fmt: skip
        conn.execute(
            sa.insert(schedules_store.report_sends).values(
                schedule_id=schedule_id, period_key="2026-09", date_from="2026-09-01",
                date_to="2026-09-30", created_at="2026-10-01T00:03:00+00:00", status="failed",
                attempts=3, last_error="SourceUnavailable: shop is not reachable",
            )
        )  # fmt: skip
    at = open_page(notify_app, PAGE, "admin")
    reports = at.tabs[1]
    assert [w.value for w in reports.warning] == [
        "1 report period could not be built: the reason is in Error. Once it is fixed, "
        "select one and Retry build."
    ]
    [row] = reports.dataframe[1].value.to_dict("records")  # under the schedules
    assert (row["name"], row["period"], row["status"], row["builds"]) == (
        "Monthly sales", "2026-09", "failed", 3,
    )  # fmt: skip
    assert row["last_error"] == "SourceUnavailable: shop is not reachable"
    assert at.button(key="notifications_retry_build").disabled
    at.session_state["notifications_build_failures"] = {
        "selection": {"rows": [0], "columns": [], "cells": []}
    }
    at.run()
    assert [e.value for e in at.tabs[1].error] == [
        "'Monthly sales' for 2026-09 could not be built (3 builds): "
        "SourceUnavailable: shop is not reachable"
    ]
    at.button(key="notifications_retry_build").click().run()
    assert not at.exception
    assert any("for 2026-09 will be built again" in s.value for s in at.success)
    [row] = at.tabs[1].dataframe[1].value.to_dict("records")
    assert (row["period"], row["status"], row["builds"]) == ("2026-09", "retry", 0)
    [audited] = current().audit.query(action="report.retry")
    assert (audited["actor"], audited["detail"]["period"]) == ("admin", "2026-09")

    at.button(key="notifications_send_now").click().run()
    assert not at.exception
    assert any(s.value.startswith("Queued ") for s in at.success)
    sent = {s["period_key"]: s["status"] for s in schedules_store.sends(db, schedule_id)}
    assert sent["2026-09"] == "enqueued"
    assert len(at.tabs[1].dataframe) == 1 and not at.tabs[1].warning  # nothing left failed


@pytest.fixture(autouse=True)
def _fresh_context() -> Iterator[None]:
    yield
    context.reset()


def test_the_demo_inbox_says_when_the_sinks_are_not_running(app):
    at = open_page(app, PAGE, "admin")  # the plain app: every demo service at a closed port
    assert [t.label for t in at.tabs] == ["Messages", "Scheduled reports", "Demo inbox"]
    [info] = at.tabs[2].info
    shown = info.value.replace("\u2060", "")  # the word joiner that keeps a URL text
    assert "The demo sinks are not running at http://127.0.0.1:9:" in shown
    assert "make run" in shown


def test_only_admins_see_schedule_this_view(app):
    at = open_page(app, DASHBOARD, "analyst")
    assert "report_schedule_open" not in [b.key for b in at.button]
    assert "Download PDF" in [b.label for b in at.get("download_button")]
