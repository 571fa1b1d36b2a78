"""The app process's background jobs: delivering notifications, watching for events, and
sending scheduled reports, in one daemon thread.

    jobs = for_process(settings)     # from Home.py on every run: made and started once
                                     # (with the process's health checker: source.down)
    jobs.tick()                      # one round now, in the caller's thread (tests)
    jobs.stop()

Every [notifications] poll_s the thread runs one round: lib.notify.deliver.Deliverer.tick
(send what is due in the outboxes), then, only in the process holding the "jobs.once" lease
(lib.jobs.lease, a row in the audit database), the steps one process is enough for:
lib.notify.watch.Watchers.tick (the backlog and source events), once every [reports] tick_s
lib.reports.schedules.tick (scheduled reports due), and once an hour prune (sent messages'
recipients, text and files cleared after [notifications] keep_days, and scheduled reports'
sent periods older than that deleted but each schedule's last). The process's health
checker (lib.health.checker, which the source.down watcher reads) is started by the first
round that holds the lease, so N replicas probe the back ends once, not N times (a health
panel opened in another process starts that process's own). A step that raises is logged
in one masked line and the round goes on; nothing ends the thread but stop(), which gives
the lease up so another process takes it at once.

Why in the app's process and not a cron job (`make` target): there is nothing more to
deploy, configure or monitor, and every process that serves the app already has the
settings, the secrets and the engine it needs. Delivery runs in every replica: an outbox row
is delivered by whichever worker claims it with a conditional UPDATE. The once-only steps
would be safe in every replica too ("once" is decided by the databases: a scheduled period
is one row under a UNIQUE (schedule_id, period_key) written with its e-mail, a watcher's
episode one conditional flip), so the lease is about work, not correctness: one process
builds the reports, looks at the backlog and probes the back ends, and when it dies (stops
renewing for LEASE_ROUNDS rounds) another takes over. The cost: with no app process
running, nothing is sent (the app is meant to be running); a long report build delays
that process's deliveries by as long (other replicas' are not held up).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import streamlit as st

from lib.access.masking import masked_line
from lib.config.settings import Settings
from lib.jobs.lease import Lease

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0  # stop(wait=True): how long to wait for a round in progress
PRUNE_EVERY_S = 3600.0  # sent messages' content is cleared after keep_days: hourly is plenty
ONCE = "jobs.once"  # the lease of the steps one process runs (lib.jobs.lease)
LEASE_ROUNDS = 5  # a holder that misses this many rounds' renewals loses the lease
MIN_LEASE_S = 5.0  # however short poll_s: a slow round must not hand the lease over


class Jobs:
    """The process's background steps over `settings`; `start()` runs them in a thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Any = None,
        outboxes: Mapping[str, sa.Engine] | None = None,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        lease: Lease | None = None,
    ) -> None:
        from lib.notify.config import NotifyConfig
        from lib.reports.config import ReportsConfig

        # Only the configuration is read here (a wrong one stops the app at start, like the
        # rest of it); the databases are first touched in the thread's first round, so a
        # database that is down delays deliveries, never a page.
        self.settings = settings
        self.notify = NotifyConfig.of(settings.notifications)
        self.poll_s = float(self.notify.poll_s)
        self.report_every_s = float(ReportsConfig.of(settings.reports).tick_s)
        self.engine = engine  # the dashboard's (lib.reading.engine.Engine); None: one per tick
        self.worker_id = worker_id
        self._outboxes = dict(outboxes) if outboxes is not None else None
        self._lease = lease  # made on first use over the audit database
        self.lease_s = max(LEASE_ROUNDS * self.poll_s, MIN_LEASE_S)
        self._checker_started = False
        self._deliverer: Any = None
        self._watchers: Any = None
        self._make_lock = threading.Lock()
        self.clock = clock
        self._reports_at: float | None = None  # when the reports step last ran
        self._pruned_at: float | None = None  # when the outboxes were last pruned
        self._round_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the steps, made on first use ------------------------------------------------------

    @property
    def outboxes(self) -> dict[str, sa.Engine]:
        """The outboxes' databases (lib.notify.outboxes.outboxes_for)."""
        from lib.notify.outboxes import outboxes_for

        with self._make_lock:
            if self._outboxes is None:
                self._outboxes = dict(outboxes_for(self.settings))
            return self._outboxes

    @property
    def deliverer(self) -> Any:
        """The process's lib.notify.deliver.Deliverer (a page's "Deliver now" uses it too)."""
        from lib.notify.deliver import Deliverer

        outboxes = self.outboxes
        with self._make_lock:
            if self._deliverer is None:
                self._deliverer = Deliverer(self.notify, outboxes, self.worker_id)
            return self._deliverer

    @property
    def watchers(self) -> Any:
        from lib.notify.watch import Watchers

        outboxes = self.outboxes
        with self._make_lock:
            if self._watchers is None:
                self._watchers = Watchers(self.settings, outboxes)
            return self._watchers

    @property
    def lease(self) -> Lease:
        """The "jobs.once" lease of this process's jobs (lib.jobs.lease)."""
        outboxes = self.outboxes
        with self._make_lock:
            if self._lease is None:
                self._lease = Lease(outboxes["audit"], ONCE, ttl_s=self.lease_s)
            return self._lease

    # --- running ---------------------------------------------------------------------------

    def start(self) -> Jobs:
        """Start the thread (once); its first round begins at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="backoffice-jobs", daemon=True)
            self._thread.start()
        return self

    def _start_health_checker(self) -> None:
        """With source.down routed, the process's health checker (lib.health.checker.
        for_process: the one a health panel shows), started by the jobs thread's first round
        that holds the lease, so the watcher has something to read whether or not anyone
        opens a health panel (the watcher itself never starts one)."""
        if self._checker_started or self._thread is None:
            return  # a bare Jobs().tick() (tests, Send now) starts none
        self._checker_started = True
        if not self.notify.channels_for("source.down"):
            return
        from lib.health.checker import for_process

        try:
            for_process(self.settings)  # started on first use; its rounds run in its thread
        except Exception as exc:  # a wrong [health] stops the app at start; never this thread
            log.error("health checker not started: %s", masked_line(exc, 200))

    def stop(self, wait: bool = True) -> None:
        """No more rounds, and the lease given up (by the thread after its last round).
        `wait`: until the round in progress ends (STOP_WAIT_S at most)."""
        self._stop.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._release()
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_WAIT_S)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = self.clock()
            self.tick()
            self._stop.wait(max(0.0, self.poll_s - (self.clock() - began)))
        self._release()

    def _release(self) -> None:
        if self._lease is not None:
            self._step("lease release", self._lease.release)

    def tick(self, now: datetime | None = None, *, reports: bool | None = None) -> dict[str, Any]:
        """One round now: deliver; then, holding the lease, watch, and the scheduled reports
        when `reports` is True or (None) their tick_s has passed, and the hourly prune. What
        each step returned (None: it failed); "once": whether this process held the lease."""
        with self._round_lock:
            done: dict[str, Any] = {
                "deliver": self._step("deliver", lambda: self.deliverer.tick(now)),
            }
            done["once"] = bool(self._step("lease", self.lease.hold))
            if not done["once"]:
                return done  # another process runs them (or the audit database is down)
            self._start_health_checker()
            done["watch"] = self._step("watch", lambda: self.watchers.tick(now))
            began = self.clock()
            due = self._reports_at is None or began - self._reports_at >= self.report_every_s
            if reports or (reports is None and due):
                self._reports_at = began
                done["reports"] = self._step("reports", lambda: self.send_reports(now))
                if not self._step("lease", self.lease.hold):  # a long build: still ours?
                    return done
            if self._pruned_at is None or began - self._pruned_at >= PRUNE_EVERY_S:
                self._pruned_at = began
                done["prune"] = self._step("prune", lambda: self.prune(now))
            return done

    def prune(self, now: datetime | None = None) -> int:
        """Sent messages' content cleared (Deliverer.prune: the rows cleared), then the
        scheduled reports' sent periods older than keep_days deleted, each schedule's last
        kept (lib.reports.schedules_store.prune; a failure is logged, the count stays)."""
        from lib.reports import schedules_store

        cleared = self.deliverer.prune(now)
        self._step(
            "prune of report sends",
            lambda: schedules_store.prune(self.outboxes["audit"], self.notify.keep_days, now),
        )
        return cleared

    def send_reports(self, now: datetime | None = None) -> int:
        """Scheduled reports due now (lib.reports.schedules.tick); e-mails queued."""
        from lib.reports import schedules

        return schedules.tick(self.settings, now, engine=self.engine, outboxes=self.outboxes)

    def _step(self, name: str, run: Callable[[], Any]) -> Any:
        try:
            return run()
        except Exception as exc:  # never ends the thread; the next round tries again
            log.error("background %s failed: %s", name, masked_line(f"{type(exc).__name__}: {exc}"))
            return None


# --- one per process -----------------------------------------------------------------------


def _release(jobs: Jobs) -> None:
    jobs.stop(wait=False)  # called while a page renders: do not wait for a round


@st.cache_resource(show_spinner=False, on_release=_release, max_entries=1)
def _process_jobs(config_path: str, digest: str, _settings: Settings, _engine: Any) -> Jobs:
    # One entry: when the configuration changes, the new Jobs replaces the old one, which is
    # stopped (on_release), as it is by st.cache_resource.clear().
    return Jobs(_settings, engine=_engine).start()


def _digest(settings: Settings) -> str:
    """What the jobs were made from, as a digest (the text holds secrets; the key must not)."""
    # [health] and [gateway] too: the jobs start the process's health checker from them.
    text = repr(
        (
            settings.audit_url,
            settings.sources,
            settings.gateway,
            dict(settings.health),
            dict(settings.notifications),
            dict(settings.reports),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def for_process(settings: Settings, engine: Any = None) -> Jobs:
    """The process's jobs for this configuration, started on first use; cheap after that.
    `engine`: the dashboard's engine the scheduled reports read through (the page's own,
    lib.config.runtime.engine(), so they share its snapshots)."""
    return _process_jobs(str(settings.config_path), _digest(settings), settings, engine)
