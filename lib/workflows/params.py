"""A workflow's run parameters from URL or form text, typed as declared: one way to read
them for the page, a shared link and a declared default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from lib.errors import ValidationFailed
from lib.url_values import parse_date, parse_int, quoted

if TYPE_CHECKING:
    from lib.workflows.declaration import Param, Workflow

MAX_TEXT = 200  # characters of a text parameter


def parse_params(workflow: Workflow, raw: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Run parameters from URL or form text: each declared one typed (int, date, choice,
    text), a missing or empty one its default, a wrong one its default with a note saying
    what was ignored. Keys the workflow does not declare are left alone (not noted)."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    for param in workflow.params:
        text = raw.get(param.name)
        text = "" if text is None else str(text).strip()
        if not text:
            values[param.name] = param.default
            continue
        value = typed(param, text)
        if value is None:
            notes.append(f"Ignored {param.label} '{quoted(text)}' from the link{rule(param)}.")
            value = param.default
        values[param.name] = value
    return values, notes


def typed(param: Param, raw: str | date) -> Any:
    """`raw` as a value of the parameter, or None when it is not one."""
    if param.kind == "date":
        return raw if isinstance(raw, date) else parse_date(raw)
    if isinstance(raw, date):
        return None
    if param.kind == "int":
        low = param.min
        return parse_int(raw, minimum=low) if param.max is None else parse_int(raw, low, param.max)
    if param.kind == "choice":
        return raw if raw in param.options else None
    text = raw.strip()
    return text if 0 < len(text) <= MAX_TEXT else None


def rule(param: Param) -> str:
    """What a value must be, for a note: ": a whole number from 1 to 2000"."""
    if param.kind == "int":
        low = "" if param.min is None else f" from {param.min}"
        high = "" if param.max is None else f" to {param.max}"
        return f": a whole number{low}{high}"
    if param.kind == "date":
        return ": a date as YYYY-MM-DD"
    if param.kind == "choice":
        return f": one of {', '.join(param.options)}"
    return f": text of at most {MAX_TEXT} characters"


def checked_params(workflow: Workflow, params: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared parameter typed (a missing, None or empty one its default), read by
    the one parser of run parameters (lib.workflows.params.typed): a value a caller typed
    (int, date) is read as its text would be, so bounds, options and lengths are the form's
    and the link's. Raises ValidationFailed naming the first wrong parameter."""
    declared = {p.name for p in workflow.params}
    unknown = sorted(str(k) for k in params if k not in declared)
    if unknown:
        name = quoted(unknown[0])
        raise ValidationFailed(f"Workflow '{workflow.name}' has no parameter '{name}'.")
    values: dict[str, Any] = {}
    for param in workflow.params:
        value = params.get(param.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            values[param.name] = param.default
            continue
        text = _as_text(param.kind, value)
        parsed = typed(param, text) if text is not None else None
        if parsed is None:
            raise ValidationFailed(f"{param.label or param.name} must be {rule(param)[2:]}.")
        values[param.name] = parsed
    return values


def _as_text(kind: str, value: Any) -> str | None:
    """A typed value as the link would write it; None for a value of another kind."""
    if isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "date" and isinstance(value, date):
        return value.isoformat()  # a datetime's has a time: not a date
    return None
