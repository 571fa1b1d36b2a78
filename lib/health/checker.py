"""The one background health checker of a process and what it has seen.

`for_process(settings)` returns the process's checker (made and started on first use; the
first round runs in its thread, so no page waits for it). With several app processes, the
jobs start it only in the one holding the "jobs.once" lease (lib.jobs.worker), so the back
ends are probed once, not once per replica; a health panel opened in another process starts
that process's own. Every `interval_s` the checker's
one daemon thread checks every target, each check in a short-lived daemon thread of its own
so that a hung back end does not delay the others; a check that outlasts its timeout counts
as down, and that target is not checked again until the hung check returns.

    checker = for_process(settings)
    for t in checker.snapshot():   # list[TargetHealth], in configuration order
        t.name, t.ok, t.latency_ms, t.p95_ms, t.version, t.error, t.down_since, t.latencies
    checker.check_now()            # one round now, synchronously (tests, a "check now" button)
    running_checker()              # that checker while it runs, or None; never starts one
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from lib.config.settings import Settings
from lib.health.checks import CheckResult, run_check
from lib.health.config import HealthConfig
from lib.health.history import History, Sample
from lib.health.targets import Target, targets_for

GRACE_S = 0.5  # past the check's own timeout before the round stops waiting for it


@dataclass(frozen=True)
class TargetHealth:
    """What the panel shows of one back end. Times are UTC; latencies in milliseconds."""

    name: str  # "crm", "customer_api", "gateway", "sheets.marketing_spend"
    kind: str  # sql | mongo | rest | sheet | gateway
    where: str  # host:port or a file's name; nothing secret
    ok: bool | None  # None: not checked yet
    latency_ms: float | None  # of the last check
    p95_ms: float | None  # of the successful checks in the history window
    version: str | None  # as the back end last said it ("PostgreSQL 16.4", "MariaDB 10.11.6")
    error: str | None  # why the last check failed, one line; None when up
    down_since: datetime | None  # first failed check of the current failure streak
    last_checked: datetime | None
    latencies: tuple[float, ...] = ()  # successful checks in the window, oldest first
    last_error: str | None = None  # the latest failure in memory, even if up again since
    last_error_at: datetime | None = None


def _utc(at: float | None) -> datetime | None:
    return datetime.fromtimestamp(at, UTC) if at is not None else None


class HealthChecker:
    """Checks `targets` (default: all of `settings`) every `interval_s` once started."""

    def __init__(
        self,
        settings: Settings,
        *,
        interval_s: float | None = None,
        timeout_s: float | None = None,
        targets: list[Target] | None = None,
    ) -> None:
        cfg = HealthConfig.of(settings.health)
        self.interval_s = interval_s if interval_s is not None else cfg.interval_s
        self.timeout_s = timeout_s if timeout_s is not None else cfg.timeout_s
        self.targets = list(targets if targets is not None else targets_for(settings))
        # Sized for the whole window at this interval: p95 and the sparkline reach back that far.
        self._history = {t.name: History(cfg.window_s, self.interval_s) for t in self.targets}
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()  # guards histories and versions
        self._round_lock = threading.Lock()  # one round at a time (background or check_now)
        self._hung: dict[str, tuple[threading.Thread, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- running ---------------------------------------------------------------------------

    def start(self) -> HealthChecker:
        """Start the background thread (once); its first round begins at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="health-checker", daemon=True)
            self._thread.start()
        return self

    def stop(self, wait: bool = True) -> None:
        """Stop checking. `wait`: until the round in progress (a timeout at most) ends;
        otherwise the thread ends by itself after that round."""
        self._stop.set()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout_s + GRACE_S + 1)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self._round()
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))

    def check_now(self) -> list[TargetHealth]:
        """Check every target now (waiting for a round in progress first); the new snapshot."""
        self._round()
        return self.snapshot()

    def _round(self) -> None:
        with self._round_lock:
            results: dict[str, CheckResult] = {}
            threads: dict[str, threading.Thread] = {}
            for target in self.targets:
                if self._still_hung(target, results):
                    continue
                thread = threading.Thread(
                    target=lambda t=target: results.__setitem__(
                        t.name, run_check(t, self.timeout_s)
                    ),
                    name=f"health-check-{target.name}",
                    daemon=True,
                )
                thread.start()
                threads[target.name] = thread
            deadline = time.monotonic() + self.timeout_s + GRACE_S
            for name, thread in threads.items():
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():  # its own timeout did not hold: count it down
                    self._hung[name] = (thread, time.time())
                    results[name] = CheckResult(
                        False, self.timeout_s * 1000, None, f"no answer within {self.timeout_s:g} s"
                    )
            # A copy: a hung check that ends now must not change what this round records.
            self._record(dict(results))

    def _still_hung(self, target: Target, results: dict[str, CheckResult]) -> bool:
        hung = self._hung.get(target.name)
        if hung is None:
            return False
        thread, since = hung
        if not thread.is_alive():
            del self._hung[target.name]
            return False
        waited = time.time() - since + self.timeout_s
        results[target.name] = CheckResult(
            False, waited * 1000, None, f"no answer for {waited:.0f} s (a check is still waiting)"
        )
        return True

    def _record(self, results: dict[str, CheckResult]) -> None:
        at = time.time()
        with self._lock:
            for name, result in results.items():
                self._history[name].add(Sample(at, result.ok, result.latency_ms, result.error))
                if result.version:
                    self._versions[name] = result.version

    # --- reading ---------------------------------------------------------------------------

    def snapshot(self) -> list[TargetHealth]:
        """Every target's state now, in configuration order; `ok` is None before its first check."""
        with self._lock:
            return [self._health(t) for t in self.targets]

    def _health(self, target: Target) -> TargetHealth:
        history = self._history[target.name]
        last, failed = history.last, history.last_error
        return TargetHealth(
            name=target.name,
            kind=target.kind,
            where=target.where,
            ok=None if last is None else last.ok,
            latency_ms=None if last is None else last.latency_ms,
            p95_ms=history.p95_ms(),
            version=self._versions.get(target.name),
            error=None if last is None or last.ok else last.error,
            down_since=_utc(history.down_since),
            last_checked=_utc(last.at if last else None),
            latencies=tuple(history.latencies()),
            last_error=failed.error if failed else None,
            last_error_at=_utc(failed.at if failed else None),
        )


# --- one per process -----------------------------------------------------------------------


def _release(checker: HealthChecker) -> None:
    checker.stop(wait=False)  # called while a page renders: do not wait for a round


_latest: HealthChecker | None = None  # the last one _process_checker started


@st.cache_resource(show_spinner=False, on_release=_release, max_entries=1)
def _process_checker(config_path: str, targets_digest: str, _settings: Settings) -> HealthChecker:
    # One entry: when the configuration changes (another file, a sheet connected on the
    # Spreadsheets page) the new checker replaces the old one, which is stopped (on_release),
    # as it is by st.cache_resource.clear().
    global _latest
    checker = HealthChecker(_settings).start()
    _latest = checker
    return checker


def _digest(settings: Settings) -> str:
    """What the checker was made from, as a digest (the text holds secrets; the key must not)."""
    text = repr((settings.sources, settings.gateway, dict(settings.health)))
    return hashlib.sha256(text.encode()).hexdigest()


def for_process(settings: Settings) -> HealthChecker:
    """The process's checker for this configuration, started on first use (not waited for)."""
    return _process_checker(str(settings.config_path), _digest(settings), settings)


def running_checker() -> HealthChecker | None:
    """The process's checker (the last one for_process started) while it runs, else None.
    Never makes or replaces one, whatever the caller's settings: for readers such as the
    source.down watcher, which must not evict the checker a health panel shows (and lose
    its history) by asking for_process with a configuration of their own."""
    found = _latest
    return found if found is not None and found.running else None
