"""Peak memory of one app process with 10 sessions open, for bench.scale.

`streamlit run Home.py` on one backend's config; 10 headless-Chromium sessions (contexts of
one browser, 3 moving at a time) each sign in as the admin and open Orders, Customers and
the Dashboard through the sidebar, and stay open; then the server process's VmHWM (peak
resident memory) and VmRSS are read from /proc/<pid>/status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

from bench.scale_app import app_process, chromium, exceptions, memory, open_page, sign_in

SESSIONS = 10
AT_ONCE = 3  # sessions moving at the same time (2 cores: the server and Chromium share them)


async def _sessions(url: str, sessions: int) -> dict[str, Any]:
    gate = asyncio.Semaphore(AT_ONCE)
    errors: list[str] = []
    async with chromium() as browser:
        contexts = []

        async def one(i: int) -> None:
            async with gate:
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                contexts.append(context)
                page = await context.new_page()
                try:
                    await sign_in(page, url, "/orders")
                    for name in ("orders", "customers", "dashboard"):
                        await open_page(page, name)
                        if shown := await exceptions(page):
                            errors.append(f"session {i}: {name} shows {', '.join(shown)}")
                except Exception as exc:  # noqa: BLE001 (counted, reported, the others go on)
                    errors.append(f"session {i}: {type(exc).__name__}: {str(exc)[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(sessions)))
        took = time.perf_counter() - start
        prepared = await _dashboard_ready(contexts)
        await asyncio.sleep(2)  # the sessions' last runs settle while all are open
        return {
            "errors": errors,
            "open_s": round(took, 1),
            "contexts": len(contexts),
            "dashboard_ready": prepared,
        }


PREPARING = "being prepared"  # the dashboard's note while its snapshots are built


async def _dashboard_ready(contexts: list[Any], patience_s: float = 300) -> bool | None:
    """Wait (up to `patience_s`) until the dashboard shows data rather than "being prepared"
    in one of the open sessions: the memory is read with the snapshots built."""
    if not contexts or not contexts[0].pages:
        return None
    page = contexts[0].pages[0]
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            await open_page(page, "orders")  # away and back: the dashboard runs again
            await open_page(page, "dashboard")
            if await page.get_by_text(PREPARING).count() == 0:
                return True
        await asyncio.sleep(10)
    return False


def measure(config: Path, sessions: int = SESSIONS) -> dict[str, Any]:
    """{"rss_mb": peak RSS (VmHWM) of the app process, …details} after `sessions` sessions."""
    with app_process(config) as app:
        before = memory(app.pid)
        got = asyncio.run(_sessions(app.url, sessions))
        after = memory(app.pid)
    return {
        "rss_mb": after["vm_hwm_mb"],
        "rss": {
            "sessions": sessions,
            "vm_hwm_mb": after["vm_hwm_mb"],
            "vm_rss_mb": after["vm_rss_mb"],
            "started_rss_mb": before["vm_rss_mb"],
            "open_s": got["open_s"],
            "errors": got["errors"],
            "dashboard_ready": got["dashboard_ready"],
        },
    }
