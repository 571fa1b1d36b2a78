"""Workflow declarations: `workflows/<name>.toml` read into frozen dataclasses, checked key by
key. A broken file is skipped with a one-line reason naming the file and the key; the others
still load. workflows/customer_orders.toml is a full example. In short:

    title, description; concurrency = 8 (per-item calls at once, 1..32)
    combine = "q"               queries/q.sql over the steps' rows, each a table named after
                                its step, bound with the run parameters it names
    mask = { col = "name" }     optional masking kinds of result columns
    [params.x]                  label, kind = choice|text|int|date, options (choice), min/max
                                (int), default (required unless optional = true), help
    [[steps]] name, query = "q" [params]            a named query on the engine
    [[steps]] name, source, path, params, pagination = none|page|cursor, items, page_size,
              max_rows, timeout, retries, backoff   a GET to a rest source
              + for_each = "<earlier step>", key    one GET per distinct key of its rows

A value "{x}" in params or path is run parameter x, or (for_each) the row's field x first.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lib.access.mask_rules import rule_for
from lib.errors import BackofficeError, one_line
from lib.workflows.params import parse_params, rule, typed

__all__ = ["DeclarationError", "Param", "Step", "Workflow", "load_workflow", "load_workflows"]
__all__ += ["parse_params", "templates", "validate"]

NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # workflow, step and parameter names
TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PARAM_KINDS = ("choice", "text", "int", "date")
PAGINATIONS = ("none", "page", "cursor")
# The page's own URL parameters and Streamlit's (embed, embed_options).
RESERVED_PARAMS = frozenset({"workflow", "run", "embed", "embed_options"})
MAX_CONCURRENCY = 32

_TOP_KEYS = {"title", "description", "concurrency", "combine", "mask", "params", "steps"}
_PARAM_KEYS = {"label", "kind", "options", "optional", "default", "min", "max", "help"}
_QUERY_KEYS = {"name", "query", "params"}
_CALL_KEYS = {"name", "source", "path", "params", "pagination", "items", "page_size"}
_CALL_KEYS |= {"max_rows", "timeout", "retries", "backoff", "for_each", "key"}


class DeclarationError(BackofficeError):
    """A workflow file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Param:
    name: str
    label: str
    kind: str  # one of PARAM_KINDS
    default: Any = None  # int, date or str; None only when optional
    optional: bool = False  # the form offers "(any)"/empty; its value is None
    options: tuple[str, ...] = ()  # choice only
    min: int | None = None  # int only
    max: int | None = None
    help: str = ""


@dataclass(frozen=True)
class Step:
    name: str
    kind: str  # "query" | "call" | "for_each"
    query: str | None = None  # query steps: queries/<query>.sql
    source: str | None = None  # call steps: a [sources.X] of kind rest
    path: str = ""
    # Query-string values (call steps) or extra query parameters (query steps); a "{x}" value
    # is the row's field x (for_each) else run parameter x.
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    pagination: str = "none"
    items: str = "items"  # the body's list of rows; "" = the body is the row (or the list)
    page_size: int = 100
    max_rows: int | str | None = None  # a number or "{run param}"
    for_each: str | None = None  # the earlier step whose rows this one calls per key
    key: str | None = None  # the field of those rows naming the item
    timeout: float | None = None  # None: the source's `timeout`
    retries: int | None = None  # None: the source's `retries`
    backoff: float | None = None  # None: the source's `backoff`


@dataclass(frozen=True)
class Workflow:
    name: str
    title: str
    description: str
    concurrency: int
    combine: str
    steps: tuple[Step, ...]
    params: tuple[Param, ...] = ()
    mask: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    path: Path | None = None

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


def templates(value: object) -> list[str]:
    """The "{x}" names in a declared value (none in a non-string)."""
    return TEMPLATE.findall(value) if isinstance(value, str) else []


def load_workflows(
    folder: Path, settings: Any | None = None
) -> tuple[dict[str, Workflow], dict[str, str]]:
    """Every workflows/*.toml that can be used, by name, and path -> one-line reason for the
    others. With `settings`, sources and queries are checked too (see `validate`)."""
    found: dict[str, Workflow] = {}
    errors: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.toml")) if Path(folder).is_dir() else []:
        try:
            workflow = load_workflow(path)
            if settings is not None:
                validate(workflow, settings)
        except DeclarationError as exc:
            errors[str(path)] = str(exc)
            continue
        found[workflow.name] = workflow
    return found, errors


def load_workflow(path: Path) -> Workflow:
    """One declaration file; DeclarationError naming the file and key when it is wrong."""
    where = path.name
    if not NAME.match(path.stem):
        _fail(where, "", "the file name must be lower case letters, digits and _")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DeclarationError(f"{where}: cannot be read ({type(exc).__name__})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DeclarationError(f"{where}: not valid TOML ({one_line(exc)})") from exc
    _no_unknown(where, "", raw, _TOP_KEYS)
    params = tuple(_param(where, n, p) for n, p in _table(where, "params", raw).items())
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        _fail(where, "steps", "at least one [[steps]] is required")
    steps: list[Step] = []
    for i, spec in enumerate(steps_raw):
        steps.append(_step(where, i, spec, steps, {p.name: p for p in params}))
    mask = _table(where, "mask", raw)
    for column, kind in mask.items():
        try:
            rule_for(kind)
        except ValueError as exc:
            _fail(where, f"mask.{column}", str(exc))
    combine = raw.get("combine")
    if not isinstance(combine, str) or not NAME.match(combine):
        _fail(where, "combine", "a query name (queries/<combine>.sql) is required")
    concurrency = raw.get("concurrency", 4)
    if not _is_int(concurrency) or not 1 <= concurrency <= MAX_CONCURRENCY:
        _fail(where, "concurrency", f"must be a whole number from 1 to {MAX_CONCURRENCY}")
    return Workflow(
        name=path.stem,
        title=_text(where, "title", raw.get("title", path.stem)),
        description=_text(where, "description", raw.get("description", "")),
        concurrency=concurrency,
        combine=combine,
        steps=tuple(steps),
        params=params,
        mask=MappingProxyType(dict(mask)),
        path=path,
    )


def validate(workflow: Workflow, settings: Any) -> None:
    """What a file alone cannot tell: each call step's source is declared and of kind rest,
    each query exists and every parameter it binds is given. DeclarationError otherwise."""
    from lib.reading.queries import load_query  # the reading side, only when checking

    where = workflow.path.name if workflow.path else workflow.name
    sources = {s.name: s for s in settings.sources}
    run_params = {p.name for p in workflow.params}
    for i, step in enumerate(workflow.steps):
        at = f"steps[{i}]"
        if step.source is not None:
            src = sources.get(step.source)
            if src is None:
                _fail(where, f"{at}.source", f"no source named '{step.source}' is configured")
            if src.kind != "rest":
                _fail(where, f"{at}.source", f"'{step.source}' is a {src.kind} source, not rest")
        if step.query is not None:
            query = _query(where, f"{at}.query", settings.queries_dir, step.query, load_query)
            missing = query.params - run_params - set(step.params)
            if missing:
                _fail(where, f"{at}.query", f"'{step.query}' needs {', '.join(sorted(missing))}")
    combine = _query(where, "combine", settings.queries_dir, workflow.combine, load_query)
    missing = combine.params - run_params
    if missing:
        _fail(where, "combine", f"'{workflow.combine}' needs {', '.join(sorted(missing))}")


def _query(where: str, key: str, folder: Path, name: str, load: Any) -> Any:
    try:
        return load(folder, name)
    except BackofficeError as exc:
        _fail(where, key, str(exc))


def _param(where: str, name: str, spec: Any) -> Param:
    at = f"params.{name}"
    if not NAME.match(name) or name in RESERVED_PARAMS:
        reserved = "/".join(sorted(RESERVED_PARAMS))
        _fail(where, at, f"a parameter name is lower case letters, digits and _ (not {reserved})")
    if not isinstance(spec, dict):
        _fail(where, at, "must be a table")
    _no_unknown(where, at, spec, _PARAM_KEYS)
    kind = spec.get("kind")
    if kind not in PARAM_KINDS:
        _fail(where, f"{at}.kind", f"must be one of {', '.join(PARAM_KINDS)}")
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        _fail(where, f"{at}.optional", "must be true or false")
    options: tuple[str, ...] = ()
    if kind == "choice":
        raw_options = spec.get("options")
        if not isinstance(raw_options, list) or not raw_options:
            _fail(where, f"{at}.options", "a choice needs a list of options")
        if not all(isinstance(o, str) and o.strip() for o in raw_options):
            _fail(where, f"{at}.options", "options must be non-empty strings")
        options = tuple(raw_options)
    elif "options" in spec:
        _fail(where, f"{at}.options", "only a choice has options")
    low, high = spec.get("min"), spec.get("max")
    for bound, value in (("min", low), ("max", high)):
        if value is not None and (kind != "int" or not _is_int(value)):
            _fail(where, f"{at}.{bound}", "only an int has min and max, whole numbers")
    if low is not None and high is not None and low > high:
        _fail(where, f"{at}.min", "is above max")
    param = Param(
        name=name,
        label=_text(where, f"{at}.label", spec.get("label", name)),
        kind=kind,
        optional=optional,
        options=options,
        min=low,
        max=high,
        help=_text(where, f"{at}.help", spec.get("help", "")),
    )
    default = spec.get("default")
    if optional and default is not None:  # its "(any)" (None) would read as the default
        _fail(where, f"{at}.default", "an optional parameter has no default (left empty: any)")
    if default is None:
        if not optional:
            _fail(where, f"{at}.default", "a parameter that is not optional needs a default")
        return param
    value = typed(param, default if isinstance(default, str | date) else str(default))
    if value is None or isinstance(default, bool):
        _fail(where, f"{at}.default", f"{default!r} is not a valid {kind}{rule(param)}")
    return Param(**{**param.__dict__, "default": value})


def _step(where: str, i: int, spec: Any, earlier: list[Step], params: dict[str, Param]) -> Step:
    at = f"steps[{i}]"
    if not isinstance(spec, dict):
        _fail(where, at, "must be a table")
    name = spec.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        _fail(where, f"{at}.name", "lower case letters, digits and _ are required")
    if any(s.name == name for s in earlier):
        _fail(where, f"{at}.name", f"'{name}' is the name of an earlier step")
    at = f"steps.{name}"
    is_query, is_call = "query" in spec, "source" in spec or "path" in spec
    if is_query == is_call:
        _fail(where, at, "a step has either `query`, or `source` and `path`")
    step_params = spec.get("params", {})
    if not isinstance(step_params, dict):
        _fail(where, f"{at}.params", "must be a table")
    for key, value in step_params.items():
        if not isinstance(value, str | int | float | bool):
            _fail(where, f"{at}.params.{key}", "must be a string, number or true/false")
    if is_query:
        _no_unknown(where, at, spec, _QUERY_KEYS)
        query = spec["query"]
        if not isinstance(query, str) or not NAME.match(query):
            _fail(where, f"{at}.query", "must be a query name (queries/<query>.sql)")
        _known_templates(where, f"{at}.params", step_params, params)
        return Step(name=name, kind="query", query=query, params=MappingProxyType(step_params))
    _no_unknown(where, at, spec, _CALL_KEYS)
    for key in ("source", "path"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            _fail(where, f"{at}.{key}", "is required for a call step")
    if not spec["path"].startswith("/"):
        _fail(where, f"{at}.path", "must start with /")
    for_each, key = spec.get("for_each"), spec.get("key")
    if for_each is not None:
        parent = next((s for s in earlier if s.name == for_each), None)
        if parent is None:
            _fail(where, f"{at}.for_each", f"'{for_each}' is not an earlier step")
        if parent.kind == "for_each":
            # A retry gets the parent's failed items' rows anew and would not call them.
            _fail(where, f"{at}.for_each", f"'{for_each}' is a per-item step itself")
        if not isinstance(key, str) or not key:
            _fail(where, f"{at}.key", "a for_each step names the field of the key")
    else:
        if key is not None:
            _fail(where, f"{at}.key", "only a for_each step has a key")
        # Without rows, "{x}" can only be a run parameter.
        _known_templates(where, f"{at}.params", step_params, params)
        _known_templates(where, f"{at}.path", {"path": spec["path"]}, params)
    pagination = spec.get("pagination", "none")
    if pagination not in PAGINATIONS:
        _fail(where, f"{at}.pagination", f"must be one of {', '.join(PAGINATIONS)}")
    items = spec.get("items", "items")
    if not isinstance(items, str):
        _fail(where, f"{at}.items", 'must be the name of the body\'s list (or "")')
    page_size = _number(where, f"{at}.page_size", spec.get("page_size", 100), int, 1, 10_000)
    max_rows = spec.get("max_rows")
    if isinstance(max_rows, str):
        names = templates(max_rows)
        if len(names) != 1 or max_rows != f"{{{names[0]}}}":
            _fail(where, f"{at}.max_rows", 'must be a number or "{an int parameter}"')
        if names[0] not in params or params[names[0]].kind != "int":
            _fail(where, f"{at}.max_rows", f"'{names[0]}' is not an int parameter")
    elif max_rows is not None:
        _number(where, f"{at}.max_rows", max_rows, int, 1, 10**9)
    return Step(
        name=name,
        kind="for_each" if for_each else "call",
        source=spec["source"],
        path=spec["path"],
        params=MappingProxyType(step_params),
        pagination=pagination,
        items=items,
        page_size=page_size,
        max_rows=max_rows,
        for_each=for_each,
        key=key,
        timeout=_number(where, f"{at}.timeout", spec.get("timeout"), float, 0.05, 600),
        retries=_number(where, f"{at}.retries", spec.get("retries"), int, 0, 10),
        backoff=_number(where, f"{at}.backoff", spec.get("backoff"), float, 0, 60),
    )


def _known_templates(where: str, at: str, values: Mapping, params: dict[str, Param]) -> None:
    for key, value in values.items():
        for name in templates(value):
            if name not in params:
                _fail(where, f"{at}.{key}" if key != "path" else at, f"'{{{name}}}' is unknown")


def _table(where: str, key: str, raw: Mapping) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        _fail(where, key, "must be a table")
    return value


def _text(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        _fail(where, key, "must be a string")
    return value


def _number(where: str, key: str, value: Any, kind: type, low: float, high: float) -> Any:
    if value is None:
        return None
    ok = _is_int(value) if kind is int else isinstance(value, int | float) and value is not True
    if not ok or isinstance(value, bool) or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        _fail(where, key, f"must be {what} from {low:g} to {high:g}")
    return kind(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _no_unknown(where: str, at: str, raw: Mapping, allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            _fail(where, f"{at}.{key}" if at else key, "is not a known key")


def _fail(where: str, key: str, problem: str) -> Any:
    raise DeclarationError(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
