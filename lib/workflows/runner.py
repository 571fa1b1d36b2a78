"""Run a workflow: its steps in order, per-item calls in parallel, then the combine query.

- a query step runs its named query on the engine, bound with the run parameters it declares;
- a call step GETs a REST source (all its pages, up to `max_rows` rows);
- a for_each step makes one call per distinct key of an earlier step's rows, at most
  `concurrency` at once. An item that fails after its retries is listed (FailedItem) and the
  run goes on: it ends `partial`. Stop is honoured before each call: the items not started
  are listed as "not run: stopped" and the run ends `stopped`.
- a query or call step that fails ends the run `failed` with its one-line error.

`previous` (a partial or stopped run of the same workflow and parameters): its rows are
kept, only its failed items (and the steps it never reached) are run again, and the result
is combined anew; the run is `ok` when none fails this time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import duckdb
import pandas as pd

from lib.access.masking import masked_line
from lib.errors import BackofficeError, one_line
from lib.reading.queries import load_query
from lib.reading.sources.flatten import to_arrow
from lib.workflows import calls
from lib.workflows.combine import combine
from lib.workflows.declaration import TEMPLATE, Param, Step, Workflow, templates
from lib.workflows.model import FailedItem, Progress, RunResult, StepReport
from lib.workflows.params import typed

log = logging.getLogger(__name__)

NOT_RUN = "not run: stopped"


def run_workflow(
    workflow: Workflow,
    params: Mapping[str, Any],
    *,
    engine: Any,
    settings: Any,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    previous: RunResult | None = None,
) -> RunResult:
    """Run `workflow` with typed run parameters (lib.workflows.params.parse_params); never
    raises for a back end's failure: the outcome and errors are in the RunResult."""
    run = _Run(workflow, params, engine, settings, progress or Progress(), stop, previous)
    try:
        return run.go()
    finally:
        run.sessions.close()


def item_label(step: Step, key: Any) -> str:
    """How a failed item is named: by the rows it comes from when the key is their id
    ("customers 17"), else by the key's field ("customer_id 17", not "tickets 17")."""
    return f"{step.for_each} {key}" if step.key == "id" else f"{step.key} {key}"


class _Run:
    def __init__(
        self,
        workflow: Workflow,
        params: Mapping[str, Any],
        engine: Any,
        settings: Any,
        progress: Progress,
        stop: threading.Event | None,
        previous: RunResult | None,
    ) -> None:
        self.workflow, self.engine, self.settings = workflow, engine, settings
        self.params = {p.name: _typed(p, params.get(p.name, p.default)) for p in workflow.params}
        self.progress, self.stop = progress, stop or threading.Event()
        self.previous = previous
        self.sessions = calls.Sessions()
        self.frames: dict[str, pd.DataFrame] = {}
        self.failed: list[FailedItem] = []
        self.reports: list[StepReport] = []
        self.stopped = False

    def go(self) -> RunResult:
        for step in self.workflow.steps:
            if self.stop.is_set():
                self.stopped = True
                break
            if self._kept(step):
                continue
            report = StepReport(step.name, step.kind, started_at=datetime.now(UTC))
            self.reports.append(report)
            began = time.monotonic()
            try:
                self._step(step, report)
            except calls.Stopped:  # Stop pressed while the step's call waited to retry
                report.seconds = time.monotonic() - began
                self.stopped = True
                break
            except Exception as exc:  # a whole step failed: no result
                report.failed = max(report.failed, 1)
                report.seconds = time.monotonic() - began
                error = masked_line(f"Step '{step.name}': {reason(exc)}")
                log.warning("workflow %s: %s", self.workflow.name, error)
                return self._result("failed", error)
            report.seconds = time.monotonic() - began
            report.rows = len(self.frames[step.name])
        result = None
        if all(s.name in self.frames for s in self.workflow.steps):
            try:
                query = load_query(self.settings.queries_dir, self.workflow.combine)
                result = combine(self.frames, query, self.params)
            except Exception as exc:
                error = f"Combine query '{self.workflow.combine}': {reason(exc)}"
                return self._result("failed", masked_line(error))
        outcome = "stopped" if self.stopped else "partial" if self.failed else "ok"
        return self._result(outcome, None, result)

    def _result(self, outcome: str, error: str | None, result=None) -> RunResult:
        return RunResult(outcome, self.frames, result, self.failed, self.reports, error)

    # --- one step -----------------------------------------------------------------------

    def _kept(self, step: Step) -> bool:
        """True if the previous run has this step's rows with no failed item: kept as is."""
        prev = self.previous
        if prev is None or step.name not in prev.frames:
            return False
        if any(f.step == step.name for f in prev.failed):
            return False
        self.frames[step.name] = prev.frames[step.name]
        old = next((r for r in prev.steps if r.name == step.name), None)
        self.reports.append(replace(old) if old else StepReport(step.name, step.kind))
        return True

    def _step(self, step: Step, report: StepReport) -> None:
        prev = self.previous
        retry_keys: list[FailedItem] | None = None
        if prev is not None and step.name in prev.frames:
            retry_keys = [f for f in prev.failed if f.step == step.name]
        if step.kind == "query":
            self.progress.begin_step(step.name, 1)
            report.items = 1
            self.frames[step.name] = self._query(step)
            report.done = 1
            self.progress.item_done(True)
        elif step.kind == "call":
            self.progress.begin_step(step.name, 1)
            report.items = 1
            try:
                rows = self._fetch(step, None)
            except calls.Stopped:
                self.progress.item_not_run()
                raise
            except calls.CallFailed:
                self.progress.item_done(False)
                raise
            self.frames[step.name] = frame_of(rows)
            report.done = 1
            self.progress.item_done(True)
        else:
            self._for_each(step, report, retry_keys)

    def _query(self, step: Step) -> pd.DataFrame:
        query = load_query(self.settings.queries_dir, step.query or "")
        bound = {k: v for k, v in self.params.items() if k in query.params}
        bound.update({k: render(v, None, self.params) for k, v in step.params.items()})
        return self.engine.query(step.query, **bound)

    def _fetch(self, step: Step, row: Mapping[str, Any] | None) -> list[dict]:
        """Every row of one call (all its pages, at most max_rows)."""
        cfg = self.settings.source(step.source)
        policy = calls.policy_for(cfg, step.timeout, step.retries, step.backoff)
        path = render_path(step.path, row, self.params)
        query = {}
        for name, value in step.params.items():
            value = render(value, row, self.params)
            if value is not None:  # an "(any)" parameter drops its filter
                query[name] = wire(value)
        limit = render(step.max_rows, None, self.params)
        rows: list[dict] = []
        for page in calls.pages(
            cfg,
            self.sessions.get(cfg),
            path,
            query,
            pagination=step.pagination,
            items=step.items,
            page_size=step.page_size,
            policy=policy,
            stop=self.stop,
        ):
            rows.extend(page)
            if limit is not None and len(rows) >= int(limit):
                return rows[: int(limit)]
        return rows

    def _for_each(self, step: Step, report: StepReport, retry: list[FailedItem] | None) -> None:
        parent = self.frames[step.for_each or ""]
        items = distinct_keys(parent, step.key or "")
        if retry is not None:
            keys = {f.key for f in retry if f.key is not None}
            labels = {f.item for f in retry if f.key is None}  # items made without their key
            items = [
                (k, r) for k, r in items if k in keys or masked_line(item_label(step, k)) in labels
            ]
        report.items = len(items)
        self.progress.begin_step(step.name, len(items))

        def work(key: Any, row: Mapping[str, Any]) -> list[dict] | str:
            if self.stop.is_set():
                self.progress.item_not_run()
                return NOT_RUN
            try:
                rows = self._fetch(step, row)
            except calls.Stopped:  # to be run again like the items not started
                self.progress.item_not_run()
                return NOT_RUN
            except calls.CallFailed as exc:
                self.progress.item_done(False)
                return str(exc)
            self.progress.item_done(True)
            return [{**r, step.key: key} if step.key not in r else r for r in rows]

        with ThreadPoolExecutor(max_workers=self.workflow.concurrency) as pool:
            futures = [pool.submit(work, key, row) for key, row in items]
            answers = [f.result() for f in futures]
        rows: list[dict] = []
        for (key, _), answer in zip(items, answers, strict=True):
            if isinstance(answer, str):
                # Masked once, here: a key or a path may carry an e-mail address or a phone.
                item = masked_line(item_label(step, key))
                self.failed.append(FailedItem(step.name, item, masked_line(answer), key))
                report.failed += 1
                self.stopped = self.stopped or answer == NOT_RUN
            else:
                rows.extend(answer)
                report.done += 1
        new = frame_of(rows, key=step.key)
        if retry is not None and self.previous is not None:
            kept = self.previous.frames[step.name]
            # An empty side has no types to agree with: the other one is the frame.
            if not kept.empty:
                new = kept if new.empty else pd.concat([kept, new], ignore_index=True)
        self.frames[step.name] = new


# --- values ---------------------------------------------------------------------------------


def _typed(param: Param, value: Any) -> Any:
    """A run parameter as its kind: a caller may pass the link's text ("50", "2026-01-31")."""
    if isinstance(value, str) and param.kind in ("int", "date"):
        parsed = typed(param, value) if value.strip() else None
        return param.default if parsed is None else parsed
    return value


def frame_of(rows: list[dict], key: str | None = None) -> pd.DataFrame:
    """Rows flattened as the rest source flattens them; with no rows, at least the key."""
    if not rows:
        return pd.DataFrame({key: pd.Series([], dtype=object)} if key else {})
    return to_arrow(rows).to_pandas()


def distinct_keys(frame: pd.DataFrame, key: str) -> list[tuple[Any, dict[str, Any]]]:
    """(key, row) for each distinct non-empty key, in the rows' order."""
    if frame.empty:
        return []
    if key not in frame.columns:
        raise BackofficeError(f"the rows have no field '{key}'")
    seen: dict[Any, dict[str, Any]] = {}
    for row in frame.to_dict("records"):
        value = plain(row.get(key))
        if value is not None and value not in seen:
            seen[value] = {k: plain(v) for k, v in row.items()}
    return list(seen.items())


def plain(value: Any) -> Any:
    """A frame's value as JSON would have it: numpy scalars as Python, 17.0 as 17, NaN None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float):
        if value != value:
            return None
        if value.is_integer():
            return int(value)
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def render(value: Any, row: Mapping[str, Any] | None, run: Mapping[str, Any]) -> Any:
    """A declared value with its "{x}" filled: the row's field x, else run parameter x. A
    value that is only "{x}" keeps x's type (None included)."""
    names = templates(value)
    if not names:
        return value
    if value == f"{{{names[0]}}}":
        return _lookup(names[0], row, run)
    return TEMPLATE.sub(lambda m: str(wire(_lookup(m.group(1), row, run))), value)


def render_path(path: str, row: Mapping[str, Any] | None, run: Mapping[str, Any]) -> str:
    def one(match: Any) -> str:
        value = _lookup(match.group(1), row, run)
        if value is None or value == "":
            raise calls.CallFailed(f"no value for '{match.group(1)}' in {path}")
        return quote(str(wire(value)), safe="")

    return TEMPLATE.sub(one, path)


def _lookup(name: str, row: Mapping[str, Any] | None, run: Mapping[str, Any]) -> Any:
    if row is not None and name in row:
        return row[name]
    if name in run:
        return run[name]
    raise calls.CallFailed(f"the rows have no field '{name}'")


def wire(value: Any) -> Any:
    """A value as a query string carries it: dates ISO, true/false in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value


def reason(exc: BaseException) -> str:
    """The error's own words for ours (no secrets in them), the first line of DuckDB's (the
    combine query's), else only the error's type."""
    if isinstance(exc, BackofficeError):
        return one_line(exc)
    if isinstance(exc, duckdb.Error):
        return one_line((str(exc).splitlines() or [""])[0], 200)
    return type(exc).__name__
