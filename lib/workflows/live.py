"""Workflow runs of this process: started in a thread, watched, stopped, retried.

A module-level registry (not st.session_state): a run outlives the page run that started it,
and any session of this process can watch it by id (a shared `run=` link). Every run is
recorded in the RunStore of settings.audit_url when it starts and when it ends.

Memory stays bounded: the results of at most KEEP_FINISHED finished runs are held (oldest
dropped first), and at most MAX_RUNNING runs go at once. A dropped run is still in the
RunStore; only its rows are gone, so it can no longer be retried. A page showing a run by
id asks `get` first and, on None, `runs.store_for(settings.audit_url).get(id)`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lib.access.policy import may_open
from lib.access.principal import Principal
from lib.errors import ActionDenied, BackofficeError
from lib.workflows import runs
from lib.workflows.model import Progress, RunResult

if TYPE_CHECKING:
    from lib.config.settings import Settings
    from lib.reading.engine import Engine
    from lib.workflows.declaration import Workflow

log = logging.getLogger(__name__)

PAGE = "integrations"  # who may open this page may run its workflows
KEEP_FINISHED = 20
MAX_RUNNING = 8


@dataclass(frozen=True)
class LiveRun:
    """A run as `get` sees it at one instant. `progress` is the live counters object (read
    with .snapshot()); `result` is set once the run is done (rows NOT masked)."""

    id: str
    workflow: str
    actor: str
    params: dict[str, Any]  # masked, as stored
    started_at: datetime
    progress: Progress
    outcome: str  # "running" until it ends
    result: RunResult | None
    retry_of: str | None
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.outcome != "running"


@dataclass
class _Entry:
    id: str
    workflow: Workflow
    actor: str
    raw_params: dict[str, Any]  # as run: a retry runs with the same values
    params: dict[str, Any]
    started_at: datetime
    store: runs.RunStore
    retry_of: str | None
    progress: Progress = field(default_factory=Progress)
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    result: RunResult | None = None
    finished_at: datetime | None = None

    def view(self) -> LiveRun:
        return LiveRun(
            id=self.id,
            workflow=self.workflow.name,
            actor=self.actor,
            params=self.params,
            started_at=self.started_at,
            progress=self.progress,
            outcome=self.result.outcome if self.result else "running",
            result=self.result,
            retry_of=self.retry_of,
            finished_at=self.finished_at,
        )


_lock = threading.Lock()
_runs: dict[str, _Entry] = {}  # insertion order = start order
_finished: list[str] = []  # ids in the order they finished, oldest first
_heartbeat: threading.Thread | None = None


def start(
    workflow: Workflow,
    params: Mapping[str, Any],
    principal: Principal | None,
    *,
    settings: Settings,
    engine: Engine,
    retry_of: str | None = None,
) -> str:
    """Start `workflow` with `params` in a thread of this process; returns the run's id.

    With `retry_of`, reruns only the failed items of that run (its params are used, `params`
    is ignored); that run's result must still be held here. Raises ActionDenied if the
    principal may not open the integrations page, BackofficeError if the run cannot start.
    """
    if principal is None or not may_open(principal, PAGE):
        raise ActionDenied("Your role may not run workflows.")
    previous: RunResult | None = None
    if retry_of is not None:
        params, previous = _previous(retry_of, workflow.name)
    with _lock:
        running = sum(1 for e in _runs.values() if e.result is None)
    if running >= MAX_RUNNING:
        raise BackofficeError(
            f"{running} workflow runs are already going on this server; "
            "wait for one to finish and run it again."
        )
    store = runs.store_for(settings.audit_url)
    record = store.create(workflow.name, principal, params, retry_of=retry_of)
    entry = _Entry(
        id=record.id,
        workflow=workflow,
        actor=principal.username,
        raw_params=dict(params),
        params=record.params,
        started_at=record.started_at,
        store=store,
        retry_of=retry_of,
    )
    with _lock:
        _runs[entry.id] = entry
    thread = threading.Thread(
        target=_run,
        args=(entry, settings, engine, previous),
        name=f"workflow-{entry.id[:8]}",
        daemon=True,
    )
    thread.start()
    _ensure_heartbeat()
    log.info("workflow run %s (%s) started by %s", entry.id, workflow.name, entry.actor)
    return entry.id


def _previous(run_id: str, workflow: str) -> tuple[dict[str, Any], RunResult]:
    with _lock:
        entry = _runs.get(run_id)
    if entry is None:
        raise BackofficeError(
            f"The results of run {run_id} are no longer held by this server; "
            "run the workflow again."
        )
    if entry.result is None:
        raise BackofficeError(f"Run {run_id} has not finished yet; retry it when it has.")
    if entry.workflow.name != workflow:
        named = entry.workflow.name
        raise BackofficeError(f"Run {run_id} is a run of '{named}', not of '{workflow}'.")
    return dict(entry.raw_params), entry.result


def _run_workflow(workflow: Workflow, params: Mapping[str, Any], **kwargs: Any) -> RunResult:
    # Imported here: the runner (and DuckDB, HTTP clients) only once a run starts.
    from lib.workflows.runner import run_workflow

    return run_workflow(workflow, params, **kwargs)


def _run(entry: _Entry, settings: Settings, engine: Engine, previous: RunResult | None) -> None:
    try:
        result = _run_workflow(
            entry.workflow,
            entry.raw_params,
            engine=engine,
            settings=settings,
            progress=entry.progress,
            stop=entry.stop,
            previous=previous,
        )
    except BackofficeError as exc:
        log.warning("workflow run %s failed: %s", entry.id, runs.one_line(exc))
        result = RunResult(outcome="failed", error=runs.one_line(exc))
    except Exception as exc:  # anything else must still end the run, not leave it running
        log.error("workflow run %s crashed: %s", entry.id, type(exc).__name__)
        log.debug("workflow run %s crash", entry.id, exc_info=True)
        error = f"Unexpected error ({type(exc).__name__}); the server log has the details."
        result = RunResult(outcome="failed", error=error)
    try:
        entry.store.finish(entry.id, result)
    except Exception as exc:  # the result stays here; the record reads interrupted later
        reason = runs.one_line(exc) if isinstance(exc, BackofficeError) else type(exc).__name__
        log.error("workflow run %s: its end was not recorded: %s", entry.id, reason)
    with _lock:
        entry.result = result
        entry.finished_at = datetime.now(UTC)
        if _runs.get(entry.id) is entry:  # not forgotten by reset() meanwhile
            _finished.append(entry.id)
        while len(_finished) > KEEP_FINISHED:
            _runs.pop(_finished.pop(0), None)
    entry.finished.set()
    log.info("workflow run %s ended %s", entry.id, result.outcome)


def _ensure_heartbeat() -> None:
    global _heartbeat
    with _lock:
        if _heartbeat is not None and _heartbeat.is_alive():
            return
        _heartbeat = threading.Thread(target=_beat, name="workflow-heartbeat", daemon=True)
        _heartbeat.start()


def _beat() -> None:
    """Every HEARTBEAT_S, touch the running runs' rows so the store does not read them as
    interrupted; ends when nothing runs (start() starts it again)."""
    while True:
        time.sleep(runs.HEARTBEAT_S)
        if not heartbeat():
            return


def heartbeat() -> bool:
    """Mark this process's running runs as alive in their store now; False (and the
    heartbeat thread is to end) when none is running."""
    global _heartbeat
    with _lock:
        by_store: dict[int, tuple[runs.RunStore, list[str]]] = {}
        for e in _runs.values():
            if e.result is None:
                by_store.setdefault(id(e.store), (e.store, []))[1].append(e.id)
        if not by_store and threading.current_thread() is _heartbeat:
            _heartbeat = None
    for store, ids in by_store.values():
        try:
            store.heartbeat(ids)
        except BackofficeError as exc:
            log.warning("workflow heartbeat not recorded: %s", exc)
    return bool(by_store)


def get(run_id: str) -> LiveRun | None:
    """The run as it is now, or None if this process does not hold it (see the RunStore)."""
    with _lock:
        entry = _runs.get(run_id)
        return entry.view() if entry else None


def stop(run_id: str) -> bool:
    """Ask a running run to stop (it ends `stopped` after the items in flight); False if
    this process holds no such running run."""
    with _lock:
        entry = _runs.get(run_id)
    if entry is None or entry.result is not None:
        return False
    entry.stop.set()
    return True


def wait(run_id: str, timeout: float | None = None) -> LiveRun | None:
    """Block until the run ends or `timeout` seconds pass; the run as it then is."""
    with _lock:
        entry = _runs.get(run_id)
    if entry is None:
        return None
    entry.finished.wait(timeout)
    return entry.view()


def running() -> list[LiveRun]:
    """The runs going on in this process now, oldest first."""
    with _lock:
        return [e.view() for e in _runs.values() if e.result is None]


def reset() -> None:
    """Forget every run (tests). Running ones are asked to stop; their threads end alone."""
    with _lock:
        entries = list(_runs.values())
        _runs.clear()
        _finished.clear()
    for entry in entries:
        entry.stop.set()
