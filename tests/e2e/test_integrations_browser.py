"""Integrations in a real browser, against the real demo services with their fault injection.

1. An operator opens a shared link to the customer API → order API workflow before signing
   in, lands on its form filled from the link, runs it while the order API fails for two of
   the customers: progress, then a partial outcome listing exactly those two; the faults
   cleared, "Retry the failed items" completes it.
2. An admin watches the back-end health panel: every back end up; the order API stopped, it
   turns red with its error without a reload; started again, green.

Screenshots at 1280 and 390 px in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from lib.demo.services.serve import DEFAULT_PORTS, DEFAULT_TOKEN, ServiceThread, create_service
from tests.e2e.conftest import expect_url, log_in, wait_idle
from tests.stack import health_every

pytestmark = pytest.mark.e2e

SHARED = "/integrations?workflow=customer_orders&tier=gold&limit=20"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
WAIT_MS = 30_000
ALL_UP = re.compile(r"^(\d+) of \1 back ends up$")


class Services:
    """The demo back ends over one demo directory, each of which a test may stop and start
    again on the same port (the app server's config names the port)."""

    def __init__(self, demo_dir: Path) -> None:
        self.demo_dir = demo_dir
        self.threads: dict[str, ServiceThread] = {}
        for name in DEFAULT_PORTS:
            self.threads[name] = ServiceThread(create_service(name, demo_dir)).start()
        self.urls = {name: t.url for name, t in self.threads.items()}

    def stop(self, name: str) -> None:
        self.threads[name].stop()

    def start(self, name: str) -> None:
        port = self.threads[name].port
        self.threads[name] = ServiceThread(create_service(name, self.demo_dir), port).start()

    def close(self) -> None:
        for t in self.threads.values():
            t.server.should_exit = True
        for t in self.threads.values():
            t.stop()


@pytest.fixture(scope="module")
def services(demo_dir: Path) -> Iterator[Services]:
    running = Services(demo_dir)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def demo_services(services: Services) -> dict[str, str]:
    """The app server's back ends are these stoppable ones (overrides tests/e2e/conftest.py)."""
    return services.urls


@pytest.fixture(scope="module")
def edit_config() -> Callable[[str], str]:
    """Health checks every second, so a stopped API shows down within a couple of seconds."""
    return lambda text: health_every(text, 1)


def arm(order_api: str, **fault: object) -> None:
    requests.post(f"{order_api}/_faults", json=fault, timeout=5).raise_for_status()


def gold_customers(customer_api: str, n: int) -> list[int]:
    """The first `n` gold customers' ids, as the workflow's first step reads them."""
    answer = requests.get(
        f"{customer_api}/customers", params={"tier": "gold", "per_page": n}, headers=AUTH, timeout=5
    )
    answer.raise_for_status()
    return [c["id"] for c in answer.json()["items"]]


def outcome(page, word: str):
    """The open run's outcome badge (not the runs table's hidden accessible cells)."""
    badges = page.get_by_test_id("stMarkdownContainer")
    return badges.get_by_text(re.compile(rf"^([a-z_]+ )?{word}$")).first


def failed_items(page, expected: int) -> list[str]:
    """The items named in the failed items table ("customers 17"), once the grid has drawn
    `expected` of them (its cells appear a moment after the table's heading)."""
    cells = page.locator("[role=gridcell]", has_text=re.compile(r"^customers \d+$"))
    expect(cells).to_have_count(expected, timeout=WAIT_MS)
    return sorted(cells.all_inner_texts())


def test_an_operator_runs_a_shared_workflow_through_faults_and_retries_the_failed(
    page, browser, app_url, services, artifacts
):
    order_api = services.urls["order_api"]
    gold = gold_customers(services.urls["customer_api"], 20)
    assert len(gold) == 20
    failing = [gold[3], gold[11]]
    arm(order_api, mode="none")
    for customer in failing:  # these two always fail, retries and all
        arm(order_api, mode="error500", match=f"customer_id={customer}", count=1000, append=True)
    # Every other order call a second late: the run lasts long enough to watch it go.
    arm(order_api, mode="slow", delay=1.0, match="customer_id=", count=1000, append=True)

    log_in(page, app_url, "operator", "operator-demo", path=SHARED)
    page.get_by_role("heading", name="Integrations").wait_for(timeout=WAIT_MS)
    wait_idle(page)
    # The form as the link filled it.
    assert page.get_by_role("combobox", name="Loyalty tier").input_value() == "gold"
    assert page.get_by_label("At most this many customers", exact=True).input_value() == "20"
    for part in ("workflow=customer_orders", "tier=gold", "limit=20"):
        assert part in page.url, page.url

    page.get_by_test_id("stForm").get_by_role("button", name=re.compile(r"Run$")).click()
    progress = page.get_by_test_id("stProgress")
    progress.wait_for(timeout=WAIT_MS)
    expect(progress).to_contain_text(re.compile(r"\d+ done / \d+ failed / \d+ left"))
    outcome(page, "partial").wait_for(timeout=60_000)
    wait_idle(page)
    expect_url(page, has=("run=",))
    page.get_by_text("Failed items (2)").wait_for(timeout=WAIT_MS)
    assert failed_items(page, len(failing)) == sorted(f"customers {c}" for c in failing)
    page.set_viewport_size({"width": 1280, "height": 2200})  # the app scrolls inside its frame
    wait_idle(page)
    page.screenshot(path=str(artifacts / "integrations-partial-1280.png"), full_page=True)

    # The order API answers again: retry only the two.
    arm(order_api, mode="none")
    page.get_by_role("button", name=re.compile(r"Retry the failed items$")).click()
    outcome(page, "ok").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("Failed items").count() == 0
    page.get_by_text("20 rows").wait_for()
    assert "a retry of run" in page.get_by_test_id("stApp").inner_text()
    page.screenshot(path=str(artifacts / "integrations-1280.png"), full_page=True)

    # The retry's link, opened by a teammate on a phone.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        small = phone.new_page()
        log_in(small, app_url, "operator", "operator-demo", path=page.url.removeprefix(app_url))
        outcome(small, "ok").wait_for(timeout=WAIT_MS)
        small.get_by_text("20 rows").wait_for(timeout=WAIT_MS)
        small.set_viewport_size({"width": 390, "height": 2700})
        wait_idle(small)
        small.screenshot(path=str(artifacts / "integrations-390.png"), full_page=True)
    finally:
        phone.close()


def status_cells(page, status: str):
    return page.locator("[role=gridcell]", has_text=re.compile(rf"^{status}$"))


def health_summary(page) -> str:
    return page.get_by_text(re.compile(r"^\d+ of \d+ back ends up")).first.inner_text()


def test_an_admin_sees_a_stopped_api_go_red_and_green_again(
    page, browser, app_url, services, artifacts
):
    log_in(page, app_url, "admin", "admin-demo", path="/integrations")
    page.get_by_role("heading", name="Back-end health").wait_for(timeout=WAIT_MS)
    page.get_by_text(ALL_UP).wait_for(timeout=WAIT_MS)
    total = int(ALL_UP.match(health_summary(page)).group(1))
    page.evaluate("window.__notReloaded = true")  # gone if the page were loaded again

    services.stop("order_api")
    try:
        down = page.get_by_test_id("stAlert").filter(has_text="order_api: ")
        down.wait_for(timeout=WAIT_MS)
        page.get_by_text(f"{total - 1} of {total} back ends up").wait_for(timeout=WAIT_MS)
        assert page.evaluate("window.__notReloaded === true")
        assert "down since" in down.inner_text()
        expect(status_cells(page, "● down")).to_have_count(1)
        page.set_viewport_size({"width": 1280, "height": 1500})
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifacts / "health-down-1280.png"), full_page=True)

        phone = browser.new_context(viewport={"width": 390, "height": 844})
        try:
            small = phone.new_page()
            # Home's line of badges names it too, and links to the full panel.
            log_in(small, app_url, "admin", "admin-demo")
            badge = small.get_by_text(re.compile(r"^\w+ order_api down$")).filter(visible=True)
            badge.wait_for(timeout=WAIT_MS)
            small.get_by_text(re.compile(r"^order_api: .+ — down since ")).wait_for()
            wait_idle(small)
            small.screenshot(path=str(artifacts / "home-health-390.png"), full_page=True)
            small.get_by_role("link", name=re.compile("Back-end health$")).click()
            small.get_by_role("heading", name="Back-end health").wait_for(timeout=WAIT_MS)
            small.get_by_test_id("stAlert").filter(has_text="order_api: ").wait_for(timeout=WAIT_MS)
            small.set_viewport_size({"width": 390, "height": 1900})
            status_cells(small, "● down").wait_for(state="attached", timeout=WAIT_MS)
            small.wait_for_timeout(500)  # the grid's canvas paints after the resize
            small.screenshot(path=str(artifacts / "health-390.png"), full_page=True)
        finally:
            phone.close()
    finally:
        services.start("order_api")

    page.get_by_text(f"{total} of {total} back ends up").wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.__notReloaded === true")
    # The alert goes when the panel's redraw ends (the summary is written first).
    expect(page.get_by_test_id("stAlert").filter(has_text="order_api: ")).to_have_count(0)
    expect(status_cells(page, "● down")).to_have_count(0)
