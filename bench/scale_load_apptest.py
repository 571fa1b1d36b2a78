"""The load test's server-side figure: 20 AppTest sessions changing filters on the Orders page.

    measure(config, samples, seconds=60, sessions=20)   # {"p50_s": …, "p95_s": …, "errors": 0}

Each session is an AppTest of Home.py signed in as the operator on /orders, run in its own
process (AppTest is not thread-safe: each run sets and then clears Streamlit's one global
Runtime, so runs in threads of one process see each other's half-torn state, and sign-ins
fail), all of them starting together once every one is signed in, looping until the time is
up over the interactions bench.scale_load
makes in a browser (a status, an order id, a customer's name prefix, the search cleared, the
next page, the status cleared) with a pause of `think_s` between them, as a person's. Each
interaction is timed around AppTest's run: the script's run in a Streamlit script runner,
what the server spends, without a browser drawing the page on the same CPUs (20 Chromium
contexts on this 2-core machine take most of it: bench.scale_load's figure). Errors are
exceptions the page shows and runs that raise. The 20 sessions share one login, so the
per-user limit on personal-data searches (30 in 10 minutes: lib.access.pii_search) is
lifted while they run, or most name searches would be refused (and cheap).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.scale_load import STATUSES

HOME = Path(__file__).resolve().parent.parent / "Home.py"
PAGE = "app_pages/orders.py"


def _session(
    seconds: float, samples: Mapping[str, str], think_s: float, seed: int, ready: Any,
    starting: Any,
) -> dict:  # fmt: skip
    from streamlit.testing.v1 import AppTest

    from tests.pages.helpers import sign_in

    rng = random.Random(seed)
    at = AppTest.from_file(str(HOME), default_timeout=120)
    with starting:  # one at a time: 20 first runs at once on 2 cores time out their connects
        sign_in(at, "operator", "operator-demo")
        at.switch_page(PAGE).run()
    ready.wait()  # every session signed in and on the page: the timed minute starts
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("status", lambda: at.multiselect(key="orders_status").set_value([rng.choice(STATUSES)])),
        ("search_id", lambda: at.text_input(key="orders_q").input(samples["order_id"])),
        ("search_name", lambda: at.text_input(key="orders_q").input(samples["name_prefix"])),
        ("search_clear", lambda: at.text_input(key="orders_q").input("")),
        ("next_page", lambda: at.button(key="orders_page_next").click()),
        ("status_clear", lambda: at.multiselect(key="orders_status").set_value([])),
    ]
    times: list[tuple[str, float]] = []
    errors: list[str] = []
    no_run = 0  # Next asked for on a list of one page: the page offers no Next, a person waits
    cpu = time.process_time()
    end = time.monotonic() + seconds
    i = rng.randrange(len(steps))
    while time.monotonic() < end:
        kind, act = steps[i % len(steps)]
        i += 1
        if kind == "next_page" and not any(b.key == "orders_page_next" for b in at.button):
            no_run += 1
            continue
        try:
            act()
            started = time.perf_counter()
            at.run()
            times.append((kind, time.perf_counter() - started))
            if at.exception:
                errors.append(f"{kind}: {at.exception[0].value[:200]}")
        except Exception as exc:  # a run that raises is an error, the session goes on
            errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[:200]}")
        time.sleep(think_s * rng.uniform(0.5, 1.5))
    return {"times": times, "errors": errors, "no_run": no_run, "cpu_s": time.process_time() - cpu}


def _process(
    n: int, config: str, seconds: float, samples: Mapping[str, str], think_s: float,
    ready: Any, starting: Any, results: Any,
) -> None:  # fmt: skip
    from lib.access import pii_search
    from lib.reading.snapshots import Snapshots

    os.environ["BACKOFFICE_CONFIG"] = config
    pii_search.MAX_SEARCHES = 1_000_000  # one login for all sessions (see above)
    # A server builds its snapshots once for all its sessions; 20 processes would each copy
    # 1.5M orders (800 MB, minutes of CPU) and measure that. The Orders list does not read
    # them (source queries), so these processes do without the thread.
    Snapshots.start = lambda self: None  # type: ignore[method-assign]
    try:
        result = _session(seconds, samples, think_s, n, ready, starting)
    except Exception as exc:  # the session could not start
        ready.abort()  # the others do not wait for it
        result = {"times": [], "errors": [f"start: {type(exc).__name__}: {exc}"[:200]]}
    results.put((n, result))
    results.close()
    results.join_thread()  # delivered; then out at once, past exit handlers of threads
    os._exit(0)  # still in a database call (the jobs thread), which could abort the exit


def measure(
    config: Path,
    samples: Mapping[str, str],
    seconds: float = 60,
    sessions: int = 20,
    think_s: float = 1.0,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # no fork of this process's threads and pools
    ready, starting = ctx.Barrier(sessions), ctx.Lock()
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_process,
            args=(n, str(config), seconds, dict(samples), think_s, ready, starting, queue),
            daemon=True,
        )
        for n in range(sessions)
    ]
    for proc in procs:
        proc.start()
    results: list[dict] = []
    for _ in procs:  # a session signs in (minutes on 2 cores), then runs `seconds`
        results.append(queue.get(timeout=600 + seconds)[1])
    for proc in procs:
        proc.join(30)
    cpu = sum(r.get("cpu_s", 0.0) for r in results)
    times = sorted(t for r in results for _, t in r["times"])
    errors = [e for r in results for e in r["errors"]]
    if not times:
        return {"sessions": sessions, "interactions": 0, "errors": len(errors),
                "error_samples": errors[:5], "p50_s": None, "p95_s": None}  # fmt: skip
    return {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": think_s,
        "interactions": len(times),
        "p50_s": round(statistics.median(times), 4),
        "p95_s": round(times[min(len(times) - 1, int(len(times) * 0.95))], 4),
        "max_s": round(times[-1], 4),
        "errors": len(errors),
        "error_samples": errors[:5],
        "no_next_page": sum(r.get("no_run", 0) for r in results),
        "cpu_s_per_interaction": round(cpu / len(times), 4),
        "how": "AppTest sessions, one process each (the script runs a server makes, "
        f"without a browser), a pause of about {think_s:g} s between interactions",
    }
