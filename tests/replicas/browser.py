"""The real UI driven from asyncio Playwright: many browser contexts at once in one Chromium
(the sync API would need a browser per thread). Run from a thread of its own
(`run_async`): the e2e tests' sync Playwright may own the main thread's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from lib.config.settings import ROOT
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
ROW_HEIGHT = 35  # px, Streamlit's dataframe rows (and its header)
WAIT_MS = 120_000  # a busy 2-core machine with two app servers and ten pages


def run_async(main: Callable[[], Awaitable[Any]]) -> Any:
    """asyncio.run(main()) in a new thread; its result, or its exception raised here."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=run, name="replicas-browser")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


async def new_page(browser: Any) -> Any:
    """A page in a browser context of its own (its own cookies: its own sign-in)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return await context.new_page()


async def wait_idle(page: Any) -> None:
    """Until Streamlit has finished the current run of the script."""
    await page.wait_for_selector(IDLE, timeout=WAIT_MS)


async def _submit_sign_in(page: Any, url: str, username: str, password: str) -> None:
    await page.goto(url, wait_until="commit")
    await wait_idle(page)
    await page.get_by_role("textbox", name="Username").fill(username)
    await page.get_by_role("textbox", name="Password").fill(password)
    await page.get_by_role("button", name="Login").click()


async def sign_in(page: Any, url: str, username: str, password: str) -> None:
    """Signed in through the form that `url` shows (every page's does: a deep link lands on
    its own view after), until the signed-in page shows (its Log out button)."""
    await _submit_sign_in(page, url, username, password)
    await page.get_by_role("button", name="Log out").wait_for(timeout=WAIT_MS)
    await wait_idle(page)


async def refused_sign_in(page: Any, base_url: str, username: str, password: str) -> str:
    """A sign-in the form refuses: "locked" or "wrong", as the page said."""
    await _submit_sign_in(page, base_url + "/", username, password)
    locked = page.get_by_text("Too many failed sign-ins")
    wrong = page.get_by_text("Username or password is incorrect.")
    await locked.or_(wrong).first.wait_for(timeout=WAIT_MS)
    return "locked" if await locked.count() else "wrong"


async def visit(urls: list[str]) -> None:
    """Each app's first page, signed out (a session runs Home.py, which starts the jobs)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for url in urls:
                page = await new_page(chromium)
                await page.goto(url + "/", wait_until="commit")
                await page.get_by_role("button", name="Login").wait_for(timeout=WAIT_MS)
        finally:
            await chromium.close()


def order_url(base_url: str, order_id: int) -> str:
    """The Orders page searched for one order: the link an operator pastes to a teammate."""
    return f"{base_url}/orders?q={order_id}"


async def open_order(page: Any, base_url: str, order_id: int, username: str, password: str) -> None:
    """Signed in through the form on order_url, which then lists just that order (no Home
    page on the way: its health badges redraw every second under the replicas' config)."""
    await sign_in(page, order_url(base_url, order_id), username, password)
    await page.get_by_role("heading", name="Orders & payments").wait_for(timeout=WAIT_MS)
    await _shown(page, order_id)


async def search_order(page: Any, order_id: int) -> None:
    """The Orders page's search changed to `order_id` (one run, no page load)."""
    box = page.get_by_role("textbox", name="Search")
    await box.fill(str(order_id))
    await box.press("Enter")
    await _shown(page, order_id)


async def _shown(page: Any, order_id: int) -> None:
    """Until the page lists just `order_id` (the URL mirrors the search), nothing selected."""
    await page.wait_for_url(re.compile(rf"[?&]q={order_id}(&|$)"), timeout=WAIT_MS)
    await page.get_by_text(re.compile(r"^Rows .* of 1 ")).wait_for(timeout=WAIT_MS)
    await wait_idle(page)
    await page.get_by_test_id("stDataFrame").first.wait_for(timeout=WAIT_MS)
    if await page.get_by_text("1 selected").count():
        raise AssertionError(f"a row is still selected after showing order {order_id}")


async def select_first_row(page: Any) -> None:
    """Tick the first row's checkbox (the grid is a canvas: click where the row is)."""
    grid = page.get_by_test_id("stDataFrame").first
    box = await grid.bounding_box()
    await page.mouse.click(box["x"] + 16, box["y"] + ROW_HEIGHT * 1.5)
    await page.get_by_text("1 selected").wait_for(timeout=WAIT_MS)
    await wait_idle(page)


async def approve_selected(page: Any, order_id: int) -> str:
    """Press Approve; "approved" or "conflict", as the page said."""
    await page.get_by_role("button", name="Approve").click()
    won = page.get_by_text(f"Order {order_id} approved.")
    lost = page.get_by_text(re.compile(rf"Order {order_id} is already "))
    await won.or_(lost).first.wait_for(timeout=WAIT_MS)
    return "approved" if await won.count() else "conflict"


async def screenshot(page: Any, name: str) -> None:
    """The page as it is, in test-artifacts/<name>.png (for a failure's report)."""
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    with contextlib.suppress(Exception):  # the failure reported matters, not its picture
        await page.screenshot(path=str(out / f"{name}.png"), timeout=10_000)
