"""The real app for bench.scale's memory and load figures: `streamlit run Home.py` on one
backend's config, and headless Chromium (Playwright's async API, Debian's /usr/bin/chromium
as tests/e2e uses it) signing sessions in and moving between pages.

    with app_process(config) as app:         # app.url, app.pid
        ...
    rss = memory(app.pid)                     # {"vm_hwm_mb": …, "vm_rss_mb": …}
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.report import REPO, BenchFailed
from tests.e2e.conftest import CHROMIUM
from tests.e2e.conftest import CHROMIUM_ARGS as E2E_CHROMIUM_ARGS

# The browser tests' flags, and the bench's own: shared memory in /tmp, not /dev/shm.
CHROMIUM_ARGS = [*E2E_CHROMIUM_ARGS, "--disable-dev-shm-usage"]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
RUNNING = "[data-testid=stApp][data-test-script-state=running]"
EXCEPTION = "[data-testid=stException]"
USER, PASSWORD = "admin", "admin-demo"  # sees Orders, Customers and the Dashboard
PAGE_TITLES = {"orders": "Orders & payments", "customers": "Customers", "dashboard": "Dashboard"}


@dataclass(frozen=True)
class App:
    url: str
    pid: int
    run_log: Path | None = None  # bench.scale_server's log of each script run


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        raise BenchFailed("Chromium not found at /usr/bin/chromium: run `make chromium`")


@contextmanager
def app_process(
    config: Path, start_timeout: float = 120, run_log: Path | None = None
) -> Iterator[App]:
    """`streamlit run Home.py` on a free loopback port with BACKOFFICE_CONFIG=config; with
    `run_log`, through bench.scale_server (each script run's time written there)."""
    from lib.demo.launch import streamlit_command
    from lib.demo.services.serve import free_port

    port = free_port()
    env = {**os.environ, "BACKOFFICE_CONFIG": str(config)}
    log = open(config.parent / f"streamlit-{port}.log", "wb")  # noqa: SIM115 (closed below)
    # No file watcher: a source file edited while the bench runs (in a shared checkout)
    # must not make Streamlit re-import modules under the running sessions.
    command = [*streamlit_command(port), "--server.fileWatcherType", "none"]
    if run_log is not None:  # [python, -m, streamlit, run, …] -> the timing wrapper
        command = [command[0], "-m", "bench.scale_server", str(run_log), *command[3:]]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise BenchFailed(f"streamlit exited ({proc.returncode}); see {log.name}")
            try:
                if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise BenchFailed(f"streamlit did not answer in {start_timeout:.0f} s")
            time.sleep(0.3)
        yield App(url, proc.pid, run_log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> dict[str, float]:
    """The process's peak (VmHWM) and current (VmRSS) resident memory, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[f"{key.lower().replace('vm', 'vm_')}_mb"] = round(int(value.split()[0]) / 1024, 1)
    return out


@asynccontextmanager
async def chromium() -> Any:
    """Headless Chromium (one browser process; each session a context of its own)."""
    from playwright.async_api import async_playwright

    need_chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


# Installed before an interaction: notes when the app's script state goes to running and,
# after that, back to notRunning (browser clock), so a run that starts and ends between two
# of Playwright's polls is still seen, and its time is not rounded up to a poll.
WATCH_JS = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  if (window.__benchObserver) window.__benchObserver.disconnect();
  window.__benchRun = {seen: false, done: null, t0: performance.now()};
  window.__benchObserver = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    const run = window.__benchRun;
    if (state === 'running') run.seen = true;
    else if (run.seen && run.done === null) run.done = performance.now();
  });
  const only = {attributes: true, attributeFilter: ['data-test-script-state']};
  window.__benchObserver.observe(app, only);
}"""


class NoRun(Exception):
    """The interaction started no run of the script."""


async def watch(page: Any) -> None:
    """Start watching for the run the next interaction starts (WATCH_JS)."""
    await page.evaluate(WATCH_JS)


async def watched_run(page: Any, timeout_ms: float = 60_000, started_ms: float = 5_000) -> float:
    """Seconds from `watch` until the run it saw ended (NoRun if none started within
    `started_ms`; Playwright's TimeoutError if it did not end within `timeout_ms`)."""
    try:
        await page.wait_for_function("window.__benchRun.seen", timeout=started_ms, polling=50)
    except Exception as exc:  # noqa: BLE001 (Playwright's timeout)
        raise NoRun("no run started") from exc
    await page.wait_for_function("window.__benchRun.done !== null", timeout=timeout_ms, polling=50)
    took = await page.evaluate("window.__benchRun.done - window.__benchRun.t0")
    return float(took) / 1000


async def wait_run(page: Any, timeout_ms: float = 60_000, started_ms: float = 1_000) -> None:
    """Wait for the run an interaction started to end: first for the app to show it is
    running (a fast run may start and end before we look: then up to `started_ms`), then for
    it to be idle again."""
    # Playwright's timeout here means the run was over already.
    with contextlib.suppress(Exception):
        await page.wait_for_selector(RUNNING, timeout=started_ms)
    await page.wait_for_selector(IDLE, timeout=timeout_ms)


async def sign_in(page: Any, url: str, path: str = "/orders") -> None:
    await page.goto(url + path)
    await page.wait_for_selector(IDLE, timeout=60_000)
    await page.get_by_role("textbox", name="Username").fill(USER)
    await page.get_by_role("textbox", name="Password").fill(PASSWORD)
    await page.get_by_role("button", name="Login").click()
    await wait_run(page, timeout_ms=120_000)


async def open_page(page: Any, name: str, timeout_ms: float = 120_000) -> None:
    """Move to a page through the sidebar, as a person does (the session stays the same)."""
    await page.get_by_role("link", name=PAGE_TITLES[name]).first.click()
    await page.get_by_role("heading", name=PAGE_TITLES[name]).first.wait_for(timeout=timeout_ms)
    await wait_run(page, timeout_ms=timeout_ms)


async def exceptions(page: Any) -> list[str]:
    """The exceptions the page shows, each by its first word (the exception's type, say
    "KeyError:"): never their message, which may quote data."""
    out = []
    for text in await page.locator(EXCEPTION).all_inner_texts():
        words = text.split()
        out.append(words[0][:80] if words else "?")
    return out
