"""Integrations › one run: its progress while it runs, its result when it has finished.

A run this server process holds (lib.workflows.live) shows its progress (done / failed / left,
and not run once Stop left items undone; the current step) refreshed by a fragment every
second with a Stop button, then its outcome, the result table masked, downloads, the failed
items with "Retry the failed items" (a partial or stopped run), and its steps. Every read of
the registry passes the signed-in principal: live checks it again on each fragment rerun.
A run recorded by another process, or before this one restarted (lib.workflows.runs),
shows what its record keeps: outcome, steps and failed items, not its rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from lib.access.masking import mask_table, named_columns
from lib.access.principal import Principal
from lib.errors import BackofficeError
from lib.ui import export, session_guard
from lib.ui.integrations_runs_table import params_text, when_text
from lib.ui.navigation import PRINCIPAL_KEY
from lib.ui.widgets import escape_markdown, show_error
from lib.workflows import live
from lib.workflows.declaration import Workflow
from lib.workflows.live import LiveRun
from lib.workflows.model import FailedItem, StepReport
from lib.workflows.runs import RunRecord, RunStore

K = "integrations_"
PROGRESS = f"{K}progress"  # the progress fragment's key
STOPPING = f"{K}stopping"  # the run whose Stop was pressed in this session
OPENED = f"{K}opened"  # a run started by Retry: the page opens it
REFRESH_S = 1.0  # how often a running run's progress is read again
BADGES: dict[str, tuple[str, str]] = {  # outcome -> (colour, icon)
    "running": ("blue", ":material/progress_activity:"),
    "ok": ("green", ":material/check_circle:"),
    "partial": ("orange", ":material/warning:"),
    "failed": ("red", ":material/error:"),
    "stopped": ("gray", ":material/stop_circle:"),
    "interrupted": ("red", ":material/sync_problem:"),
}
STEP_COLUMNS = ["name", "kind", "items", "done", "failed", "rows", "seconds"]
FAILED_COLUMNS = ["step", "item", "error"]
NOT_HELD = (
    "The rows of this run are no longer held: a run keeps its result only in the server "
    "process that ran it, until it restarts. Run the workflow again to see them."
)

Shown = LiveRun | RunRecord  # a run as this process holds it, or as its record keeps it
# Starts a run (lib.workflows.live.start with the page's principal, settings and engine).
Start = Callable[..., str]


def badge(outcome: str) -> None:
    colour, icon = BADGES.get(outcome, ("gray", ":material/help:"))
    st.badge(outcome, icon=icon, color=colour)  # type: ignore[arg-type]


def masked(frame: pd.DataFrame, workflow: Workflow | None) -> pd.DataFrame:
    """The rows as anyone may see them: the workflow's declared kinds, every other column
    named like personal data (lib.access.masking's one rule), and contact details typed into
    any other text (a ticket's subject), as the customer page masks them."""
    kinds = {**named_columns(frame.columns), **dict(workflow.mask if workflow else {})}
    return mask_table(frame, kinds)


def show(
    run_id: str,
    workflows: Mapping[str, Workflow],
    start: Start,
    store: RunStore,
    principal: Principal,
) -> Shown | None:
    """The run `run_id`, from this process if it holds it, else from its record; None when
    neither knows it (RunsUnavailable when the store cannot be read, ActionDenied when the
    principal may not see runs)."""
    held = live.get(run_id, principal)
    if held is not None:
        workflow = workflows.get(held.workflow)
        _heading(workflow.title if workflow else held.workflow, held)
        if held.outcome == "running":
            _progress(run_id)
        else:
            _finished(held, workflow, start)
        return held
    record = store.get(run_id)
    if record is None:
        return None
    workflow = workflows.get(record.workflow)
    _heading(workflow.title if workflow else record.workflow, record)
    _stored(record)
    return record


def _heading(title: str, run: LiveRun | RunRecord) -> None:
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{escape_markdown(title)}**")
        badge(run.outcome)
    parts = [f"run {run.id}", f"started {when_text(run.started_at)} by {run.actor}"]
    if shown := params_text(run.params):
        parts.append(shown)
    if run.retry_of:
        parts.append(f"a retry of run {run.retry_of}")
    # A Stop pressed after the last item finished did not stop the run: not shown then.
    if run.stopped_by and run.outcome in ("running", "stopped"):
        parts.append(f"stop asked by {run.stopped_by}")
    st.caption(escape_markdown(" · ".join(parts)))


@session_guard.fragment(run_every=REFRESH_S, key=PROGRESS)
def _progress(run_id: str) -> None:
    """Done / failed / left of the step running now, read again every REFRESH_S; the whole
    page runs again once the run has finished, to show its result. Each rerun checks the
    browser session first (logged out elsewhere or expired: the sign-in form), and Stop
    runs as session_guard.actor (signed out by then: denied)."""
    principal = st.session_state.get(PRINCIPAL_KEY)
    try:
        held = live.get(run_id, session_guard.actor(principal))
    except BackofficeError as exc:
        show_error(exc)
        return
    if held is None or held.done:
        st.rerun()
    st.progress(progress_fraction(held), text=escape_markdown(progress_text(held)))
    if st.session_state.get(STOPPING) == run_id:
        st.caption("Stopping: the calls in flight finish, no new ones start.")
    elif st.button("Stop", key=f"{K}stop", icon=":material/stop:"):
        try:
            live.stop(run_id, session_guard.actor(principal))
        except BackofficeError as exc:
            show_error(exc)
            return
        st.session_state[STOPPING] = run_id
        st.caption("Stopping: the calls in flight finish, no new ones start.")


def progress_fraction(held: LiveRun) -> float:
    snap = held.progress.snapshot()
    total = int(snap["total"])
    over = sum(int(snap.get(k, 0) or 0) for k in ("done", "failed", "not_run"))
    return min(over / total, 1.0) if total else 0.0


def progress_text(held: LiveRun) -> str:
    """ "Step orders: 12 done / 1 failed / 27 left", and "/ 8 not run" once Stop left items
    undone (when the runner counts them apart: Progress.snapshot()'s `not_run`)."""
    snap = held.progress.snapshot()
    done, failed, left = (int(snap[k]) for k in ("done", "failed", "left"))
    text = f"Step {snap['step'] or 'starting'}: {done:,} done / {failed:,} failed / {left:,} left"
    not_run = int(snap.get("not_run", 0) or 0)
    return f"{text} / {not_run:,} not run" if not_run > 0 else text


def _finished(held: LiveRun, workflow: Workflow | None, start: Start) -> None:
    result = held.result
    if result is None:
        st.info(NOT_HELD, icon=":material/hourglass_disabled:")
        return
    if result.error:
        st.error(escape_markdown(result.error), icon=":material/error:")
    if result.failed:  # first: what is left to do, and the button that does it
        _failed(result.failed)
        if (
            workflow is not None
            and held.retryable
            and st.button(
                "Retry the failed items", key=f"{K}retry", type="primary", icon=":material/replay:"
            )
        ):
            try:  # the retry runs with the first run's own values
                new_id = start(workflow, {}, retry_of=held.id)
            except BackofficeError as exc:
                show_error(exc)
            else:
                st.session_state[OPENED] = new_id
    if result.result is not None:
        _rows(held.id, masked(result.result, workflow), workflow)
    _steps(result.steps)


def _rows(run_id: str, frame: pd.DataFrame, workflow: Workflow | None) -> None:
    st.caption(f"{len(frame):,} rows")
    st.dataframe(frame, hide_index=True, width="stretch", key=f"{K}result")
    name = re.sub(r"[^A-Za-z0-9_]+", "_", workflow.name if workflow else "workflow")
    with st.container(horizontal=True):
        st.download_button(
            "Download CSV",
            export.to_csv(frame),
            file_name=f"{name}_{run_id}.csv",
            mime=export.CSV_MIME,
            icon=":material/download:",
            key=f"{K}csv",
        )
        st.download_button(
            "Download XLSX",
            export.to_xlsx(frame, sheet_name=name[:31]),
            file_name=f"{name}_{run_id}.xlsx",
            mime=export.XLSX_MIME,
            icon=":material/download:",
            key=f"{K}xlsx",
        )


def failed_frame(failed: Sequence[FailedItem | Mapping[str, Any]]) -> pd.DataFrame:
    rows = [f if isinstance(f, Mapping) else asdict(f) for f in failed]
    return pd.DataFrame(
        [{c: r.get(c) for c in FAILED_COLUMNS} for r in rows], columns=FAILED_COLUMNS
    )


def steps_frame(steps: Sequence[StepReport | Mapping[str, Any]]) -> pd.DataFrame:
    rows = [s if isinstance(s, Mapping) else s.as_dict() for s in steps]
    return pd.DataFrame([{c: r.get(c) for c in STEP_COLUMNS} for r in rows], columns=STEP_COLUMNS)


def _failed(failed: Sequence[FailedItem | Mapping[str, Any]]) -> None:
    st.markdown(f"**Failed items** ({len(failed):,})")
    st.dataframe(failed_frame(failed), hide_index=True, width="stretch", key=f"{K}failed")


def _steps(steps: Sequence[StepReport | Mapping[str, Any]]) -> None:
    if not steps:
        return
    st.markdown("**Steps**")
    st.dataframe(
        steps_frame(steps),
        hide_index=True,
        width="stretch",
        key=f"{K}steps",
        column_config={"seconds": st.column_config.NumberColumn("seconds", format="%.2f")},
    )


def _stored(record: RunRecord) -> None:
    """A run known only from its record: what the record keeps."""
    if record.outcome == "running":
        st.info(
            "This run is not held by this server process: it runs in another one, or stopped "
            "with a process that ended.",
            icon=":material/sync_problem:",
        )
    if record.error:
        st.error(escape_markdown(record.error), icon=":material/error:")
    if record.outcome != "running":
        st.caption(f"{record.rows:,} rows")
    if record.outcome in ("ok", "partial", "stopped"):
        st.info(NOT_HELD, icon=":material/hourglass_disabled:")
    if record.failed:
        _failed(record.failed)
    _steps(record.steps or [])
