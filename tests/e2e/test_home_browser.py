"""Sign in through a real browser and look at Home."""

import pytest

from tests.e2e.conftest import expect_url, log_in, wait_idle

pytestmark = pytest.mark.e2e


def test_operator_signs_in_and_sees_every_source_reachable(page, app_url, artifacts):
    log_in(page, app_url, "operator", "operator-demo")
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    grid = page.get_by_test_id("stDataFrame")
    grid.wait_for(timeout=30_000)
    wait_idle(page)
    page.screenshot(path=str(artifacts / "home-1280.png"), full_page=True)
    assert page.get_by_text("Username or password is incorrect").count() == 0
    # Every source is up in this stack: no "unavailable" warning on the page.
    assert page.get_by_test_id("stAlertContentWarning").count() == 0
    page.set_viewport_size({"width": 390, "height": 844})
    wait_idle(page)
    page.screenshot(path=str(artifacts / "home-390.png"), full_page=True)


def test_wrong_password_stays_on_the_login_form(page, app_url):
    log_in(page, app_url, "operator", "wrong")
    page.get_by_text("Username or password is incorrect").wait_for(timeout=30_000)
    assert page.get_by_text("Signed in as").count() == 0


def test_logging_out_returns_to_the_form_and_is_audited(page, app_url, demo_dir):
    from lib.audit import AuditStore

    log_in(page, app_url, "analyst", "analyst-demo")
    page.get_by_text("Signed in as").wait_for(timeout=30_000)
    page.get_by_role("button", name="Log out").click()
    wait_idle(page)
    page.get_by_role("textbox", name="Password").wait_for(timeout=30_000)
    store = AuditStore(f"sqlite:///{demo_dir}/audit.sqlite")
    rows = store.query(target_id="analyst", limit=2)
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("auth.logout", "ok"),
        ("auth.login", "ok"),
    ]


def test_a_deep_link_opened_signed_out_lands_on_its_view_after_sign_in(page, app_url):
    log_in(
        page, app_url, "analyst", "analyst-demo", path="/dashboard?from=2026-03-01&to=2026-05-01"
    )
    page.get_by_role("heading", name="Dashboard").wait_for(timeout=30_000)
    expect_url(page, has=("/dashboard", "from=2026-03-01"))
    assert page.get_by_role("spinbutton", name="month, From").inner_text() == "03"
