"""Scheduled reports in a real browser, delivered to an SMTP sink the test runs.

An admin schedules the dashboard's view (monthly, to one recipient) from the Dashboard; the
app's background jobs build the XLSX and PDF of last month and e-mail them, and the e-mail
arrives in this module's SMTP sink (the app under test points [notifications.smtp] at it):
from the configured sender, to the recipient, the subject naming the report and the period,
both files attached, the workbook covering last month. /notifications then lists the message
as sent, and its demo inbox shows the e-mail. Screenshot notifications-1280.png.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from lib.demo.services.serve import Sinks, sinks_over
from tests.e2e.conftest import log_in, wait_idle
from tests.stack import demo_services_over

pytestmark = pytest.mark.e2e

WAIT_MS = 60_000
ARRIVAL_S = 120  # the jobs look for due reports every second here; building takes a few
NAME = "Monthly board pack"
RECIPIENT = "board@example.com"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def sinks(demo_dir: Path) -> Iterator[Sinks]:
    with sinks_over(demo_dir) as running:
        yield running


@pytest.fixture(scope="module")
def demo_services(demo_dir: Path, sinks: Sinks) -> Iterator[dict[str, str]]:
    """The demo back ends, the webhook channel posting to this module's sink and e-mail going
    through its SMTP side (overrides tests/e2e/conftest.py)."""
    with demo_services_over(demo_dir) as urls:
        yield {**urls, "sinks": sinks.url, "smtp": f"smtp://127.0.0.1:{sinks.smtp_port}"}


@pytest.fixture(scope="module")
def edit_config() -> Callable[[str], str]:
    """Jobs every second, not every 2 / 30 s."""

    def edit(text: str) -> str:
        for old, new in (
            ("tick_s = 30 ", "tick_s = 1 "),
            ("poll_s = 2 ", "poll_s = 1 "),
        ):
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        return text

    return edit


def arrived(sinks: Sinks, subject_part: str) -> dict[str, Any]:
    """The first e-mail in the sink whose subject has `subject_part`, waiting for it."""
    deadline = time.monotonic() + ARRIVAL_S
    while time.monotonic() < deadline:
        for mail in requests.get(f"{sinks.url}/mail", timeout=5).json():
            if subject_part in mail["subject"]:
                return mail
        time.sleep(1)
    pytest.fail(f"no e-mail with {subject_part!r} in the SMTP sink within {ARRIVAL_S} s")


def test_an_admin_schedules_the_view_and_the_report_arrives_by_email(
    page: Page, app_url: str, sinks: Sinks, artifacts: Path
) -> None:
    import openpyxl

    from lib.reports.schedules import due_period

    period = due_period("monthly", datetime.now(UTC))
    log_in(page, app_url, "admin", "admin-demo", path="/dashboard")
    page.get_by_role("heading", name="Dashboard").wait_for(timeout=WAIT_MS)
    page.get_by_test_id("stMetric").first.wait_for(timeout=WAIT_MS)
    wait_idle(page)

    page.get_by_role("button", name="Schedule this view").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=WAIT_MS)
    dialog.get_by_role("textbox", name="Report name").fill(NAME)
    dialog.get_by_role("textbox", name="Recipients").fill(RECIPIENT)
    dialog.get_by_text(re.compile(r"^Monthly \(")).click()
    dialog.get_by_role("button", name="Schedule").click()
    wait_idle(page)
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=WAIT_MS)

    mail = arrived(sinks, NAME)
    assert mail["to"] == [RECIPIENT]
    assert mail["from"] == "backoffice@example.com"
    assert period.label in mail["subject"], mail["subject"]
    files = {a["filename"]: a for a in mail["attachments"]}
    assert [a["content_type"] for a in mail["attachments"]] == [XLSX, "application/pdf"]
    assert all(a["size"] > 1000 for a in mail["attachments"]), files
    assert any(str(period.date_from) in name for name in files), files

    raw = requests.get(f"{sinks.url}/mail/{mail['id']}.eml", timeout=5).content
    message = BytesParser(policy=policy.default).parsebytes(raw)
    parts = {p.get_filename(): p.get_payload(decode=True) for p in message.iter_attachments()}
    workbook = next(content for name, content in parts.items() if name.endswith(".xlsx"))
    summary = {
        row[0]: row[1]
        for row in openpyxl.load_workbook(io.BytesIO(workbook))["Summary"].iter_rows(
            values_only=True
        )
        if row[0]
    }
    assert summary["From"].date() == period.date_from and summary["To"].date() == period.date_to
    pdf = next(content for name, content in parts.items() if name.endswith(".pdf"))
    assert pdf.startswith(b"%PDF")

    # Listed as sent (and under the Sent filter).
    page.goto(f"{app_url}/notifications?status=sent")
    page.get_by_role("heading", name="Notifications").wait_for(timeout=WAIT_MS)
    wait_idle(page)
    sent = page.locator("[role=gridcell]", has_text=re.compile(rf"^Report '{NAME}'"))
    sent.first.wait_for(state="attached", timeout=WAIT_MS)
    row = page.locator("[role=row]", has=sent.first)
    cells = row.locator("[role=gridcell]").all_inner_texts()
    assert "sent" in cells and "report.scheduled" in cells, cells
    assert RECIPIENT not in cells and "b***@example.com" in cells, cells  # masked
    page.set_viewport_size({"width": 1280, "height": 1400})
    wait_idle(page)
    page.wait_for_timeout(500)  # the grid's canvas paints after the resize
    page.screenshot(path=str(artifacts / "notifications-1280.png"))

    page.get_by_role("tab", name="Demo inbox").click()
    page.get_by_role("heading", name=re.compile(r"^E-mails \(\d+\)")).wait_for(timeout=WAIT_MS)
    inbox = page.locator("[role=gridcell]", has_text=re.compile(rf"^Report '{NAME}'"))
    inbox.first.wait_for(state="attached", timeout=WAIT_MS)
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "notifications-inbox-1280.png"))
