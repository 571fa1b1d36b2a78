"""Load test for bench.scale: 20 concurrent sessions changing filters on the Orders page.

`python -m bench.scale --load-seconds 60` runs it per backend (after the page figures), or
alone: `python -m bench.scale_load --config var/bench-scale/config-postgresql/backoffice.toml`.

One `streamlit run Home.py` process on the backend's config; 20 headless-Chromium sessions
(contexts of one browser, driven by Playwright's async API from one thread) sign in as the
admin on /orders, then each loops until the time is up over: set a status (pending,
approved, …), search an order id, search a customer's name prefix, clear the search, next
page, clear the status. Each interaction is timed in the browser from the key press or
click until Streamlit's script state is back to notRunning (the run it started is over):
that is the server's run plus the websocket round trip, with the page drawn. Errors are
exceptions the page shows and interactions that did not finish within 60 s.

Real browsers rather than AppTest threads: AppTest runs the script in the benchmark's own
process, not in the server, so it would not load the server the way 20 people do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.scale_app import (
    IDLE,
    App,
    NoRun,
    app_process,
    chromium,
    cpu_seconds,
    exceptions,
    sign_in,
    wait_run,
    watch,
    watched_run,
)
from bench.scale_server import read_runs

SESSIONS = 20
STATUSES = ("pending", "approved", "rejected", "refunded")
TIMEOUT_MS = 60_000
# A busy server may start the run seconds after the key press; an interaction that has
# started none by then is counted apart (no_run), not timed.
STARTED_MS = 20_000
SIGN_IN_AT_ONCE = 4  # sessions signing in at the same time (then all 20 loop together)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[k], 4)


def _server(app: App, since: float, until: float, cpu: float, interactions: int) -> dict:
    """The server's own time per script run (bench.scale_server's log) and its CPU use."""
    runs = read_runs(app.run_log, since, until) if app.run_log else []
    took = [t for t, _ in runs]
    return {
        "runs": len(runs),
        "fragment_runs": sum(1 for _, kind in runs if kind == "fragment"),
        "run_p50_s": _percentile(took, 0.5),
        "run_p95_s": _percentile(took, 0.95),
        "cpu_s": round(cpu, 1),
        "cpu_s_per_interaction": round(cpu / interactions, 4) if interactions else None,
    }


class Session:
    """One person on /orders: what they did, how long each run took, what went wrong."""

    def __init__(
        self, number: int, page: Any, samples: dict[str, str], url: str, shots: Path | None
    ) -> None:
        self.number = number
        self.page = page
        self.url = url
        self.shots = shots  # names the screenshots of the first exception and lost page
        self.recovered = 0
        self.samples = samples
        self.rng = random.Random(number)
        self.times: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.status: str | None = None
        self.no_run: dict[str, int] = {}

    async def _timed(self, kind: str, act: Any) -> None:
        try:
            await watch(self.page)
            await act()
            took = await watched_run(self.page, timeout_ms=TIMEOUT_MS, started_ms=STARTED_MS)
        except NoRun:
            self.no_run[kind] = self.no_run.get(kind, 0) + 1
            return
        except Exception as exc:  # noqa: BLE001 (a timeout or a lost element: an error)
            self.errors.append(f"{kind}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            with contextlib.suppress(Exception):
                await wait_run(self.page, timeout_ms=TIMEOUT_MS)
            return
        self.times.setdefault(kind, []).append(took)
        if shown := await exceptions(self.page):
            self.errors.append(f"{kind}: the page shows {', '.join(shown)}")
            await self._screenshot("exception")

    async def set_status(self) -> None:
        box = self.page.get_by_role("combobox", name="Status").first
        if self.status is not None:  # one status at a time: remove the chosen one first
            await box.click()
            await self._timed("status", lambda: box.press("Backspace"))
            await self.page.keyboard.press("Escape")
            self.status = None
            return
        status = self.rng.choice(STATUSES)
        await box.click()
        await box.fill(status)
        await self._timed("status", lambda: box.press("Enter"))
        await self.page.keyboard.press("Escape")
        self.status = status

    async def search(self, text: str, kind: str) -> None:
        box = self.page.get_by_role("textbox", name="Search").first
        if await box.input_value() == text:
            return  # the same text again starts no run
        await box.fill(text)
        await self._timed(kind, lambda: box.press("Enter"))

    async def next_page(self) -> None:
        button = self.page.get_by_role("button", name="Next").first
        if await button.count() == 0 or await button.is_disabled():
            return
        await self._timed("next_page", button.click)

    async def loop(self, until: float) -> None:
        steps = [
            self.set_status,
            lambda: self.search(self.samples["order_id"], "search_id"),
            self.next_page,
            lambda: self.search(self.samples["name_prefix"], "search_name"),
            self.next_page,
            lambda: self.search("", "search_clear"),
            self.set_status,
            self.next_page,
        ]
        i = self.rng.randrange(len(steps))  # not all 20 in step
        while time.monotonic() < until:
            try:
                await steps[i % len(steps)]()
            except Exception as exc:  # noqa: BLE001 (the form is gone: an error, then go on)
                first = str(exc).splitlines()[0][:160]
                self.errors.append(f"lost the page: {type(exc).__name__}: {first}")
                await self._recover()
            i += 1

    async def _screenshot(self, what: str) -> None:
        """The first time something went wrong this way, in any session: a screenshot."""
        if self.shots is None:
            return
        path = self.shots.with_name(f"{self.shots.stem}-{what}.png")
        if not path.exists():
            with contextlib.suppress(Exception):
                await self.page.screenshot(path=str(path), full_page=True)

    async def _recover(self) -> None:
        """The Orders form could not be used (the page is not what it was): keep a
        screenshot of the first time, then open /orders again (signing in if asked)."""
        await self._screenshot("lost-page")
        self.recovered += 1
        self.status = None
        try:
            await self.page.goto(self.url + "/orders")
            await self.page.wait_for_selector(IDLE, timeout=TIMEOUT_MS)
            if await self.page.get_by_role("textbox", name="Password").count():
                self.errors.append("signed out: signed in again")
                await sign_in(self.page, self.url, "/orders")
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"could not reopen /orders: {type(exc).__name__}")


async def _run(
    app: App, seconds: float, sessions: int, samples: dict[str, str], shots: Path | None = None
) -> dict:
    url = app.url
    gate = asyncio.Semaphore(SIGN_IN_AT_ONCE)
    async with chromium() as browser:
        people: list[Session] = []
        sign_in_errors: list[str] = []

        async def start(i: int) -> None:
            async with gate:
                context = await browser.new_context(viewport={"width": 1280, "height": 900})
                page = await context.new_page()
                try:
                    await sign_in(page, url, "/orders")
                    people.append(Session(i, page, samples, url, shots))
                except Exception as exc:  # noqa: BLE001
                    sign_in_errors.append(f"session {i}: {type(exc).__name__}")

        await asyncio.gather(*(start(i) for i in range(sessions)))
        until = time.monotonic() + seconds
        began, began_at, cpu = time.perf_counter(), time.time(), cpu_seconds(app.pid)
        await asyncio.gather(*(p.loop(until) for p in people))
        ran, ended_at = time.perf_counter() - began, time.time()
        cpu = cpu_seconds(app.pid) - cpu
    times: dict[str, list[float]] = {}
    for p in people:
        for kind, values in p.times.items():
            times.setdefault(kind, []).extend(values)
    everything = [t for values in times.values() for t in values]
    errors = sign_in_errors + [f"session {p.number}: {e}" for p in people for e in p.errors]
    return {
        "sessions": sessions,
        "sessions_signed_in": len(people),
        "seconds": round(ran, 1),
        "interactions": len(everything),
        "p50_s": _percentile(everything, 0.5),
        "p95_s": _percentile(everything, 0.95),
        "max_s": round(max(everything), 4) if everything else None,
        "by_kind": {
            k: {
                "n": len(v),
                "p50_s": _percentile(v, 0.5),
                "p95_s": _percentile(v, 0.95),
                "mean_s": round(statistics.fmean(v), 4),
            }
            for k, v in sorted(times.items())
        },
        "no_run": {k: sum(p.no_run.get(k, 0) for p in people) for k in times},
        "server": _server(app, began_at, ended_at, cpu, len(everything)),
        "reopened": sum(p.recovered for p in people),
        "errors": len(errors),
        "error_samples": errors[:20],
        "how": "real streamlit run + Playwright contexts in one headless Chromium; time from "
        "the key press or click until the app's script state is notRunning again",
    }


def measure(
    config: Path, samples: dict[str, str], seconds: float = 60, sessions: int = SESSIONS
) -> dict[str, Any]:
    """The load test on the app configured by `config` (samples: an order id and a name
    prefix to search, from bench.scale_measure.samples; never printed)."""
    run_log = config.parent / f"runs-{int(time.time())}.log"
    with app_process(config, run_log=run_log) as app:
        shots = config.parent / f"load-{int(time.time())}.png"  # -exception.png, -lost-page.png
        return asyncio.run(_run(app, seconds, sessions, samples, shots))


def main(argv: Sequence[str] | None = None) -> int:
    import json

    from bench.scale_measure import samples as pick

    p = argparse.ArgumentParser(
        prog="python -m bench.scale_load", description=__doc__.split("\n")[0]
    )
    p.add_argument("--config", type=Path, required=True, help="the app config (bench.scale's)")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--sessions", type=int, default=SESSIONS)
    args = p.parse_args(argv)
    import tomllib

    cfg = tomllib.loads(args.config.read_text(encoding="utf-8"))
    urls = {db: str(cfg["sources"][db]["url"]) for db in ("crm", "shop")}
    result = measure(args.config, pick(urls), args.seconds, args.sessions)
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
