"""The Integrations page: workflows across the back ends (declared in workflows/*.toml), their
runs, and the back ends' health.

Sections, top to bottom: Workflows (pick one, its parameters as a form, Run; the open run's
progress or result), Recent runs (picking one opens it), Back-end health (lib.ui.health).

The URL holds the workflow (`workflow=`), its parameters by name (`tier=gold&limit=20`) and
the open run (`run=<id>`), so a shared link opens the same form, or the same run: from this
process's live registry when it ran here, else from its record in the runs store. A link's
values the page cannot use are ignored with a note; other parameters are dropped.

The link of an open run carries the values it ran with: from the live registry when this
process holds the run (LiveRun.link_params: every value but a text one masking changed),
else as stored, where only text parameters are ever masked (lib.workflows.runs.mask_params).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from lib.access.principal import Principal
from lib.config import runtime
from lib.errors import BackofficeError
from lib.ui import health, url_state
from lib.ui import integrations_form as form
from lib.ui import integrations_run as run_view
from lib.ui import integrations_runs_table as recent
from lib.ui.widgets import escape_markdown, show_error
from lib.workflows import live
from lib.workflows.declaration import RESERVED_PARAMS, Step, Workflow, load_workflows
from lib.workflows.runs import RunStore, store_for

WF_KEY = "integrations_workflow"  # the workflow selectbox
SEEDS = "integrations_seeds"  # what the link asked for, read when the page is entered
RUN = "integrations_open_run"  # the run shown below the form (the URL's run=)
PICKED = "integrations_picked"  # a run picked in Recent runs, opened on the next run
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _run_of(
    run_id: str, store: RunStore, principal: Principal
) -> tuple[str, dict[str, Any]] | None:
    """The workflow run `run_id` ran and the parameters its link carries, if this process
    or the store knows it."""
    held = live.get(run_id, principal)
    if held is not None:
        return held.workflow, held.link_params
    record = store.get(run_id)
    return (record.workflow, record.params) if record is not None else None


def link_params(workflow: Workflow, shown: run_view.Shown) -> dict[str, str | None]:
    """The URL parameters of an open run: the values it ran with that its link may carry
    (a text value masking changed is left out: it is not the value that ran)."""
    params = shown.link_params if isinstance(shown, live.LiveRun) else shown.params
    return {k: v for k, v in form.encoded(workflow, params).items() if k in params}


def _from_url(
    workflows: Mapping[str, Workflow], store: RunStore, principal: Principal
) -> dict[str, Any]:
    """What the link asks for, checked; a note for each value ignored. Opens its run, whose
    workflow and parameters the form then shows."""
    q, notes = st.query_params, []
    raw = q.to_dict()
    name = (q.get("workflow") or "").strip()
    if name and name not in workflows:
        quoted = url_state.quoted(name)
        notes.append(f"Ignored workflow '{quoted}' from the link: no such workflow.")
        name = ""
    run_id = (q.get("run") or "").strip()
    if run_id:
        shown, found = url_state.quoted(run_id), None
        try:
            found = _run_of(run_id, store, principal) if _RUN_ID.fullmatch(run_id) else None
            why = "no such run"
        except BackofficeError as exc:  # the runs store is unavailable
            why = str(exc).rstrip(".")
        if found is None:
            notes.append(f"Ignored run '{shown}' from the link: {why}.")
            run_id = ""
        elif found[0] in workflows:
            name = found[0]  # the run decides what the form shows
            raw = {k: url_state.encode(v) for k, v in found[1].items()}
    st.session_state[RUN] = run_id or None
    chosen = name or next(iter(workflows), "")
    values, more = form.seeds(workflows[chosen], raw) if chosen else ({}, [])
    return {"workflow": chosen, "values": values, "notes": notes + more}


def render(principal: Principal) -> None:
    st.title("Integrations")
    settings, engine = runtime.settings(), runtime.engine()
    workflows, broken = load_workflows(settings.workflows_dir, settings)
    for path, error in broken.items():
        st.warning(escape_markdown(f"{Path(path).name}: {error}"), icon=":material/warning:")
    store = store_for(settings.audit_url)

    def start(workflow: Workflow, params: Mapping[str, Any], retry_of: str | None = None) -> str:
        return live.start(
            workflow, dict(params), principal, settings=settings, engine=engine, retry_of=retry_of
        )

    st.subheader("Workflows", divider="gray")
    if not workflows:
        st.info("No workflow is declared (workflows/*.toml).", icon=":material/info:")
        url_state.write({"workflow": None, "run": None})
    else:
        _workflows(workflows, store, start, principal)
    st.subheader("Recent runs", divider="gray")
    _recent(workflows, store)
    st.subheader("Back-end health", divider="gray")
    health.panel()


def _workflows(
    workflows: Mapping[str, Workflow], store: RunStore, start: run_view.Start, principal: Principal
) -> None:
    seeds = url_state.entered(SEEDS, WF_KEY, lambda: _from_url(workflows, store, principal))
    for note in seeds["notes"]:
        st.caption(escape_markdown(note))  # it quotes the URL
    picked = st.session_state.pop(PICKED, None)
    if picked is not None:  # set before the selectbox is drawn: it may not change after
        st.session_state[RUN] = picked["run"]
        if picked["workflow"] in workflows:
            st.session_state[WF_KEY] = picked["workflow"]
    if st.session_state.get(WF_KEY) not in workflows:
        st.session_state[WF_KEY] = seeds["workflow"] if seeds["workflow"] in workflows else None
    names = list(workflows)
    if st.session_state[WF_KEY] is None:
        st.session_state[WF_KEY] = names[0]
    name = st.selectbox(
        "Workflow",
        names,
        key=WF_KEY,
        format_func=lambda n: workflows[n].title,
        on_change=lambda: st.session_state.pop(RUN, None),  # the open run is another's
    )
    workflow = workflows[name]
    _about(workflow)
    start_values = seeds["values"] if name == seeds["workflow"] else form.seeds(workflow, {})[0]
    values, pressed = form.form(workflow, start_values)
    _keep_only(workflow)
    if pressed:
        _start(workflow, values, start)
    url = {"workflow": name, **form.encoded(workflow, values)}
    run_id = st.session_state.get(RUN)
    shown = _show_run(run_id, workflows, start, store, principal) if run_id else None
    if shown is not None and shown.workflow == name:
        url.update(link_params(workflow, shown))  # the link is the open run's
    url_state.write({**url, "run": shown.id if shown else None})
    opened = st.session_state.pop(run_view.OPENED, None)
    if opened:  # a retry started: show it
        st.session_state[RUN] = opened
        url_state.write({"run": opened})
        st.rerun()


def _show_run(
    run_id: str,
    workflows: Mapping[str, Workflow],
    start: run_view.Start,
    store: RunStore,
    principal: Principal,
) -> run_view.Shown | None:
    try:
        shown = run_view.show(run_id, workflows, start, store, principal)
    except BackofficeError as exc:  # the runs store is unavailable, or the run is denied
        show_error(exc)
        return None
    if shown is None:
        st.caption(escape_markdown(f"Run {run_id} is not known here."))
        st.session_state.pop(RUN, None)
    return shown


def _about(workflow: Workflow) -> None:
    if workflow.description:
        st.caption(escape_markdown(workflow.description))
    with st.expander(f"Steps ({len(workflow.steps)})", icon=":material/account_tree:"):
        for i, step in enumerate(workflow.steps, 1):
            st.markdown(f"{i}\\. **{escape_markdown(step.name)}**: {escape_markdown(_what(step))}")


def _what(step: Step) -> str:
    """What a step does, in a few words."""
    if step.query is not None:
        return f"the query {step.query}"
    call = f"GET {step.path} on {step.source}"
    return f"{call}, once per row of {step.for_each} (by {step.key})" if step.for_each else call


def _start(workflow: Workflow, values: Mapping[str, Any], start: run_view.Start) -> None:
    """Start a run with the form's values, read again by the one parser of run parameters."""
    raw = {k: v for k, v in form.encoded(workflow, values).items() if v is not None}
    params, notes = form.seeds(workflow, raw)
    if notes:
        for note in notes:
            st.warning(escape_markdown(note), icon=":material/edit_off:")
        return
    try:
        st.session_state[RUN] = start(workflow, params)
    except BackofficeError as exc:
        show_error(exc)


def _keep_only(workflow: Workflow) -> None:
    """Drop the URL parameters that are not the page's or this workflow's."""
    own = RESERVED_PARAMS | {p.name for p in workflow.params}  # the page's own, then the form's
    for name in [n for n in st.query_params if n not in own]:
        del st.query_params[name]


def _recent(workflows: Mapping[str, Workflow], store: RunStore) -> None:
    try:
        records = store.recent(limit=recent.LIMIT)
    except BackofficeError as exc:
        show_error(exc)
        return
    titles = {n: w.title for n, w in workflows.items()}
    record = recent.picked(records, titles)
    if record is not None:
        st.session_state[PICKED] = {"run": record.id, "workflow": record.workflow}
        st.rerun()
