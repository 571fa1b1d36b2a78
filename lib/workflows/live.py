"""Workflow runs of this process: started in a thread, watched, stopped, retried.

A module-level registry (not st.session_state): a run outlives the page run that started it,
and any session of this process can watch it by id (a shared `run=` link). Every run is
recorded in the RunStore of settings.audit_url when it starts and when it ends.

Memory stays bounded: at most KEEP_FINISHED finished runs are held (oldest dropped first),
at most MAX_RUNNING go at once, and only a retryable run (RETRYABLE) keeps every step's rows
(RunResult.frames); an ok or failed one keeps its combined result only. A dropped run is
still in the RunStore, no longer retryable. A page showing a run by id asks `get` first
and, on None, `runs.store_for(settings.audit_url).get(id)`.

Every entry point checks the principal server side (a fragment's reruns skip the page's
check): who may not open the integrations page may not start, watch or stop a run.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from lib.access.masking import masked_line
from lib.access.policy import may_open
from lib.access.principal import Principal
from lib.errors import ActionDenied, BackofficeError
from lib.workflows import runs
from lib.workflows.model import Progress, RunResult
from lib.workflows.params import checked_params

if TYPE_CHECKING:
    from lib.config.settings import Settings
    from lib.reading.engine import Engine
    from lib.workflows.declaration import Workflow

log = logging.getLogger(__name__)

PAGE = "integrations"  # who may open this page may run its workflows
KEEP_FINISHED = 20
MAX_RUNNING = 8
RETRYABLE = ("partial", "stopped")  # outcomes whose failed or not-run items can be retried


@dataclass(frozen=True)
class LiveRun:
    """A run as `get` sees it at one instant. `progress` is the live counters object (read
    with .snapshot()); `result` is set once the run is done (rows NOT masked)."""

    id: str
    workflow: str
    actor: str
    params: dict[str, Any]  # masked, as stored
    link_params: dict[str, Any]  # the values the run ran with that a link may carry (below)
    started_at: datetime
    progress: Progress
    outcome: str  # "running" until it ends
    result: RunResult | None
    retry_of: str | None
    finished_at: datetime | None
    stopped_by: str | None = None  # who pressed Stop, once someone has

    @property
    def done(self) -> bool:
        return self.outcome != "running"

    @property
    def retryable(self) -> bool:
        return self.result is not None and self.result.outcome in RETRYABLE


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
    stopped_by: str | None = None
    retrying: bool = False  # a retry of this run is starting or running

    def view(self) -> LiveRun:
        # A link carries the values the run ran with, except those masking changed (a
        # text parameter with personal data in it): a masked value is not what ran.
        link = {k: v for k, v in self.raw_params.items() if self.params.get(k) == _stored(v)}
        return LiveRun(
            id=self.id,
            workflow=self.workflow.name,
            actor=self.actor,
            params=self.params,
            link_params=link,
            started_at=self.started_at,
            progress=self.progress,
            outcome=self.result.outcome if self.result else "running",
            result=self.result,
            retry_of=self.retry_of,
            finished_at=self.finished_at,
            stopped_by=self.stopped_by,
        )


def _stored(value: Any) -> Any:
    """A value as the store writes it unmasked (dates as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value


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

    `params` are checked against the workflow's declared parameters (params.checked_params). With
    `retry_of`, reruns only the failed items of that run (its params are used, `params` is
    ignored); that run's result must still be held here, and no other retry of it may be
    going. Raises ActionDenied if the principal may not open the integrations page,
    ValidationFailed for a wrong parameter, BackofficeError if the run cannot start.
    """
    principal = _allowed(principal, "run workflows")
    if retry_of is None:
        params = checked_params(workflow, params)
    keep = {p.name for p in workflow.params if p.kind != "text"}
    store = runs.store_for(settings.audit_url)
    source: _Entry | None = None
    previous: RunResult | None = None
    # One acquisition for the checks and the registration: two clicks (or two tabs) cannot
    # both pass the bound, nor both retry the same run.
    with _lock:
        if retry_of is not None:
            source = _previous(retry_of, workflow.name)
            params, previous = dict(source.raw_params), source.result
        running = sum(1 for e in _runs.values() if e.result is None)
        if running >= MAX_RUNNING:
            raise BackofficeError(
                f"{running} workflow runs are already going on this server; "
                "wait for one to finish and run it again."
            )
        entry = _Entry(
            id=uuid.uuid4().hex,
            workflow=workflow,
            actor=principal.username,
            raw_params=dict(params),
            params=runs.mask_params(params, keep=keep),
            started_at=datetime.now(UTC),
            store=store,
            retry_of=retry_of,
        )
        _runs[entry.id] = entry
        if source is not None:
            source.retrying = True
    try:
        store.create(
            workflow.name,
            principal,
            params,
            retry_of=retry_of,
            run_id=entry.id,
            started_at=entry.started_at,
            keep=keep,
        )
    except BaseException:
        with _lock:
            _runs.pop(entry.id, None)
            if source is not None:
                source.retrying = False
        raise
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


def _allowed(principal: Principal | None, what: str) -> Principal:
    """Deny by default: only who may open the integrations page may touch its runs."""
    if principal is None or not may_open(principal, PAGE):
        raise ActionDenied(f"Your role may not {what}.")
    return principal


def _previous(run_id: str, workflow: str) -> _Entry:
    """The held run a retry starts from (the caller holds _lock)."""
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
    if entry.result.outcome not in RETRYABLE:
        raise BackofficeError(
            f"Run {run_id} ended {entry.result.outcome}: only a partial or stopped run can be "
            "retried; run the workflow again."
        )
    if entry.retrying:
        raise BackofficeError(f"Run {run_id} is being retried already; open that retry.")
    return entry


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
        log.warning("workflow run %s failed: %s", entry.id, masked_line(exc))
        result = RunResult(outcome="failed", error=masked_line(exc))
    except Exception as exc:  # anything else must still end the run, not leave it running
        log.error("workflow run %s crashed: %s", entry.id, type(exc).__name__)
        log.debug("workflow run %s crash", entry.id, exc_info=True)
        error = f"Unexpected error ({type(exc).__name__}); the server log has the details."
        result = RunResult(outcome="failed", error=error)
    if result.outcome not in RETRYABLE and result.frames:
        result = replace(result, frames={})  # nothing will be retried: keep the result only
    try:
        entry.store.finish(entry.id, result, stopped_by=entry.stopped_by)
    except Exception as exc:  # the result stays here; the record reads interrupted later
        reason = masked_line(exc) if isinstance(exc, BackofficeError) else type(exc).__name__
        log.error("workflow run %s: its end was not recorded: %s", entry.id, reason)
    with _lock:
        entry.result = result
        entry.finished_at = datetime.now(UTC)
        if result.outcome != "stopped":  # a Stop after the last item did not stop it
            entry.stopped_by = None
        if _runs.get(entry.id) is entry:  # not forgotten by reset() meanwhile
            _finished.append(entry.id)
        source = _runs.get(entry.retry_of) if entry.retry_of else None
        if source is not None:
            source.retrying = False
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


def get(run_id: str, principal: Principal | None) -> LiveRun | None:
    """The run as it is now, or None if this process does not hold it (see the RunStore).
    ActionDenied for who may not open the integrations page."""
    _allowed(principal, "see workflow runs")
    with _lock:
        entry = _runs.get(run_id)
        return entry.view() if entry else None


def stop(run_id: str, principal: Principal | None) -> bool:
    """Ask a running run to stop (it ends `stopped` after the calls in flight), recording
    who asked (the first one); False if this process holds no such running run.
    ActionDenied for who may not open the integrations page."""
    principal = _allowed(principal, "stop workflow runs")
    with _lock:
        entry = _runs.get(run_id)
        if entry is None or entry.result is not None:
            return False
        if entry.stopped_by is None:
            entry.stopped_by = principal.username
    entry.stop.set()
    log.info("workflow run %s: stop asked by %s", run_id, principal.username)
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
