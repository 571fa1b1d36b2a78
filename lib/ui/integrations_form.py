"""Integrations › a workflow's run parameters as form fields.

Each declared parameter is one field (choice: a selectbox, with "(any)" when optional; int: a
number input within its bounds; date: a date input; text: a text input). The URL names a
parameter by its name (`?workflow=customer_orders&tier=gold&limit=20`): the fields start from
the link, read through lib.workflows.declaration.parse_params (the one parser of run
parameters), and are written back to the link on every run of the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import streamlit as st

from lib.ui import url_state
from lib.workflows.declaration import Param, Workflow, parse_params
from lib.workflows.params import MAX_TEXT

ANY = "(any)"


def field_key(workflow: Workflow, name: str) -> str:
    """A field's widget key: per workflow, so two workflows' `limit` never share a value."""
    return f"integrations_p_{workflow.name}_{name}"


def submit_key(workflow: Workflow) -> str:
    return f"integrations_run_{workflow.name}"


def seeds(workflow: Workflow, raw: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The fields' first values from the link (only the workflow's own parameters), and a
    note for each value the parser ignored."""
    asked = {p.name: raw[p.name] for p in workflow.params if raw.get(p.name) not in (None, "")}
    values, notes = parse_params(workflow, asked)
    return dict(values), list(notes)


def encoded(workflow: Workflow, values: Mapping[str, Any]) -> dict[str, str | None]:
    """The parameters as the URL writes them; None (optional, not given) leaves them out."""
    return {p.name: url_state.encode(values.get(p.name)) or None for p in workflow.params}


def form(workflow: Workflow, start: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The fields in one form with its Run button: the values they hold, and whether Run was
    pressed in this run. Values change only when the form is submitted."""
    values: dict[str, Any] = {}
    with st.form(f"integrations_form_{workflow.name}", border=True):
        columns = st.columns(min(max(len(workflow.params), 1), 3))
        for i, param in enumerate(workflow.params):
            with columns[i % len(columns)]:
                values[param.name] = _field(workflow, param, start.get(param.name))
        pressed = st.form_submit_button(
            "Run", key=submit_key(workflow), type="primary", icon=":material/play_arrow:"
        )
    return values, pressed


def _field(workflow: Workflow, param: Param, value: Any) -> Any:
    key, label = field_key(workflow, param.name), param.label or param.name
    hint = param.help or None
    if param.kind == "choice":
        options: list[Any] = list(param.options)
        if param.optional:
            options.insert(0, None)
        index = options.index(value) if value in options else 0
        return st.selectbox(
            label,
            options,
            index=index,
            key=key,
            help=hint,
            format_func=lambda v: ANY if v is None else v,
        )
    if param.kind == "int":
        return st.number_input(
            label,
            min_value=param.min,
            max_value=param.max,
            value=value if isinstance(value, int) else None,
            step=1,
            key=key,
            help=hint,
        )
    if param.kind == "date":
        return st.date_input(
            label,
            value=value if isinstance(value, date) else None,
            min_value=url_state.MIN_DATE,
            max_value=url_state.MAX_DATE,
            format="YYYY-MM-DD",
            key=key,
            help=hint,
        )
    text = value if isinstance(value, str) else ""
    return st.text_input(label, value=text, max_chars=MAX_TEXT, key=key, help=hint).strip() or None
