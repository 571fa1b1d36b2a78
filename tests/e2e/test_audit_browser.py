"""The Audit log, a declared table page, in a real browser: a shared link opened before
sign-in restores its filters, the table is paged, a filter change goes back to page 1."""

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import expect_url, log_in, wait_idle

pytestmark = pytest.mark.e2e


def test_an_audit_link_restores_its_filters_and_pages_through_sign_in(page, app_url, artifacts):
    # Sign-ins leave auth.login rows by each user; analyst signs in several times.
    for _ in range(3):
        log_in(page, app_url, "analyst", "analyst-demo")
        page.get_by_text("Signed in as").wait_for(timeout=30_000)
        page.get_by_role("button", name="Log out").click()
        wait_idle(page)
    log_in(page, app_url, "auditor", "auditor-demo", path="/audit?actor=analyst&outcome=ok")
    page.get_by_role("heading", name="Audit log").wait_for(timeout=30_000)
    page.get_by_test_id("stDataFrame").wait_for(timeout=30_000)
    wait_idle(page)
    expect_url(page, has=("actor=analyst", "outcome=ok"))
    assert page.get_by_role("textbox", name="Actor").input_value() == "analyst"
    caption = page.get_by_text(re.compile(r"Rows 1–\d+ of \d+ · page 1 of 1"))
    assert caption.count() == 1
    page.screenshot(path=str(artifacts / "audit-1280.png"), full_page=True)

    # The CSV is made when the button is clicked (a deferred download): the filtered rows.
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Download CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("id,occurred_at,actor,") and len(lines) == 1 + 6
    assert all(",analyst," in line for line in lines[1:])

    # A filter change is written back to the URL for the next teammate.
    page.get_by_role("textbox", name="Action").fill("auth.logout")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect_url(page, has=("action=auth.logout",))
    assert page.get_by_test_id("stDataFrame").count() == 1

    page.set_viewport_size({"width": 390, "height": 844})
    wait_idle(page)
    page.screenshot(path=str(artifacts / "audit-390.png"), full_page=True)
