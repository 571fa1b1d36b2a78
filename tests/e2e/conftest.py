"""Browser tests: the real app (streamlit run) with the demo back ends, in headless Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from lib.config.settings import ROOT
from lib.demo.launch import streamlit_command
from tests.stack import copy_demo, demo_services_over, write_config

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        msg = "Chromium not found at /usr/bin/chromium; `make test` installs it (apt chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


# Per module, not per test: a copy per test would need an app server (and back ends) per test,
# a restart and a cold first run each time. The tests of one module share one copy of the demo
# data; no module sees another's changes.


@pytest.fixture(scope="module")
def demo_dir(seeded_demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own copy of the demo data, served by its app server and back ends."""
    return copy_demo(seeded_demo_dir, tmp_path_factory.mktemp("e2e-demo") / "demo")


@pytest.fixture(scope="module")
def demo_services(demo_dir: Path) -> Iterator[dict[str, str]]:
    """The demo back ends over this module's demo data."""
    with demo_services_over(demo_dir) as urls:
        yield urls


@pytest.fixture(scope="module")
def edit_config() -> Callable[[str], str] | None:
    """A module overrides this to change its app server's config text (a short health check
    interval, say); the shipped demo config as it is by default."""
    return None


@pytest.fixture(scope="module")
def app_url(
    demo_services: dict[str, str],
    demo_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    edit_config: Callable[[str], str] | None,
) -> Iterator[str]:
    """`streamlit run Home.py` on a free port, against this module's demo data and services."""
    from lib.demo.services.serve import free_port

    config = write_config(tmp_path_factory.mktemp("e2e-config"), demo_dir, demo_services)
    if edit_config is not None:
        config.write_text(edit_config(config.read_text(encoding="utf-8")), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "BACKOFFICE_CONFIG": str(config)}
    proc = subprocess.Popen(
        streamlit_command(port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {proc.stderr.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    yield p
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished the current run of the script."""
    page.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout
    )


def expect_url(
    page,
    has: tuple[str, ...] = (),
    lacks: tuple[str, ...] = (),
    timeout_ms: int = 30_000,
) -> None:
    """Wait for the address bar to hold each of `has` and none of `lacks` (plain text, not
    patterns): Streamlit sends a changed URL in its own message, which can arrive after the
    page has redrawn."""
    for part in has:
        expect(page).to_have_url(re.compile(re.escape(part)), timeout=timeout_ms)
    for part in lacks:
        expect(page).not_to_have_url(re.compile(re.escape(part)), timeout=timeout_ms)


def log_in(page, base_url: str, username: str, password: str, path: str = "/") -> None:
    page.goto(base_url + path)
    wait_idle(page)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Login").click()
    wait_idle(page)
