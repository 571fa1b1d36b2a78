"""The filters a table page declares (lib.ui.table_page): each reads its URL parameters,
draws its widget, writes itself back to the URL, binds its query parameters and says when
its value cannot match anything.

Widgets get the URL's values as their defaults (not through session state): a value set in
session state reaches the browser only with the first render of its widget, and a rerun
that overtakes that render (the sign-in's cookie check does) left the browser showing an
empty filter while the table was filtered. Dates and whole numbers are parsed in one place,
lib.ui.url_state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import streamlit as st

from lib.access import pii_search
from lib.access.principal import Principal
from lib.actions.context import current as action_context
from lib.ui import url_state

Options = Mapping[Any, str] | Callable[[], Mapping[Any, str]]


def _label(value: object) -> str:
    return str(value).replace("_", " ").capitalize()


@dataclass(frozen=True)
class Search:
    """A search box. With `pii_target` set it follows lib.access.pii_search's rules: a term
    on personal data stays out of the URL and is counted in the audit log; `bind` turns the
    parsed search into the query's parameters and `refuse` says when it may not run."""

    param: str = "q"
    label: str = "Search"
    placeholder: str = ""
    pii_target: str | None = None  # "order", "customer": what the audit row names
    kinds: tuple[str, ...] = pii_search.KINDS
    bind: Callable[[Any], dict[str, Any]] = lambda s: {"q": s}
    refuse: Callable[[pii_search.Search], str | None] = lambda s: s.problem
    advanced: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return (self.param,)

    def from_url(self, query: Mapping[str, str], options: Mapping[Any, str]) -> tuple[Any, list]:
        return (query.get(self.param) or "").strip() or None, []

    def widget(self, prefix: str, start: Any, options: Mapping[Any, str]) -> Any:
        icon = ":material/search:"
        text = st.text_input(
            self.label,
            value=start or "",
            key=prefix + self.param,
            placeholder=self.placeholder,
            icon=icon,
        )
        return (text or "").strip() or None

    def parsed(self, value: str | None) -> pii_search.Search:
        return pii_search.parse(value, kinds=self.kinds)

    def url(self, value: str | None) -> dict[str, object]:
        return {self.param: self.parsed(value).in_url if self.pii_target else value}

    def query_params(self, value: str | None) -> dict[str, Any]:
        return self.bind(self.parsed(value) if self.pii_target else value)

    def problem(self, value: str | None) -> str | None:
        return self.refuse(self.parsed(value)) if self.pii_target else None

    def record(self, value: str | None, principal: Principal, page: Any) -> str | None:
        """A new search on personal data gets its audit row (the term masked) and a note
        that the link leaves it out; the same search again is not a new one. Returns why
        the search may not run (too many of them), or None."""
        if not self.pii_target:
            return None
        parsed = self.parsed(value)
        audit = action_context().audit
        refused = pii_search.record_once(
            st.session_state, page.key("searched"), audit, principal, parsed, self.pii_target
        )
        if parsed.kind is not None and not refused:
            st.caption(pii_search.NOTE)
        return refused


@dataclass(frozen=True)
class Choice:
    """One value among `options` (value -> label), or `any_label` for no filter."""

    param: str
    label: str
    options: Options
    query: str  # the bound parameter; None when "any"
    any_label: str = "Any"
    parse: Callable[[str], Any] = str
    bind: Callable[[Any], dict[str, Any]] | None = None
    advanced: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return (self.param,)

    def from_url(self, query: Mapping[str, str], options: Mapping[Any, str]) -> tuple[Any, list]:
        raw = (query.get(self.param) or "").strip()
        if not raw:
            return None, []
        try:
            value = self.parse(raw)
        except ValueError:
            value = None
        if value is None or (options and value not in options):
            shown = url_state.quoted(raw)
            return None, [f"Ignored {self.label.lower()} '{shown}' from the link: no such value."]
        return value, []

    def widget(self, prefix: str, start: Any, options: Mapping[Any, str]) -> Any:
        values = [None, *options]
        if start is not None and start not in values:  # the options could not be loaded
            values.append(start)
        return st.selectbox(
            self.label,
            values,
            index=values.index(start),
            key=prefix + self.param,
            format_func=lambda v: self.any_label if v is None else options.get(v, f"#{v}"),
        )

    def url(self, value: Any) -> dict[str, object]:
        return {self.param: value}

    def query_params(self, value: Any) -> dict[str, Any]:
        return self.bind(value) if self.bind else {self.query: value}

    def problem(self, value: Any) -> str | None:
        return None


@dataclass(frozen=True)
class MultiChoice:
    """Any of `options` (none chosen: no filter); binds `<query>_all` and `<query>s`."""

    param: str
    label: str
    options: Sequence[str]
    query: str  # "status" binds status_all and statuses
    placeholder: str = "Any"
    format: Callable[[str], str] = _label  # an option's label
    advanced: bool = False

    @property
    def params(self) -> tuple[str, ...]:
        return (self.param,)

    def from_url(self, query: Mapping[str, str], options: Mapping[Any, str]) -> tuple[Any, list]:
        asked = [v for v in (query.get(self.param) or "").split(url_state.SEP) if v]
        unknown = [v for v in asked if v not in self.options]
        notes = []
        if unknown:
            shown = url_state.quoted(", ".join(unknown))
            notes.append(
                f"Ignored {self.label.lower()} '{shown}' from the link: not a known value."
            )
        return tuple(v for v in self.options if v in asked), notes

    def widget(self, prefix: str, start: Any, options: Mapping[Any, str]) -> Any:
        chosen = st.multiselect(
            self.label,
            list(self.options),
            default=list(start),
            key=prefix + self.param,
            format_func=self.format,
            placeholder=self.placeholder,
        )
        return tuple(v for v in self.options if v in chosen)

    def url(self, value: tuple[str, ...]) -> dict[str, object]:
        return {self.param: list(value)}

    def query_params(self, value: tuple[str, ...]) -> dict[str, Any]:
        plural = f"{self.query}es" if self.query.endswith("s") else f"{self.query}s"
        return {f"{self.query}_all": not value, plural: list(value)}

    def problem(self, value: Any) -> str | None:
        return None


@dataclass(frozen=True)
class DateRange:
    """From and to (inclusive) dates; binds `<query>_from` / `<query>_to` as ISO text."""

    label_from: str = "From"
    label_to: str = "To (inclusive)"
    param_from: str = "from"
    param_to: str = "to"
    query: str = "date"
    advanced: bool = True
    # The range when the URL names neither end (e.g. the last 30 days); None: no range.
    default: Callable[[], tuple[date | None, date | None]] | None = None

    @property
    def params(self) -> tuple[str, ...]:
        return (self.param_from, self.param_to)

    def from_url(self, query: Mapping[str, str], options: Mapping[Any, str]) -> tuple[Any, list]:
        if self.default and not (query.get(self.param_from) or query.get(self.param_to)):
            return self.default(), []
        parse = url_state.parse_date
        return (parse(query.get(self.param_from)), parse(query.get(self.param_to))), []

    def widget(self, prefix: str, start: Any, options: Mapping[Any, str]) -> Any:
        left, right = st.columns(2)
        fmt = "YYYY-MM-DD"
        low = left.date_input(
            self.label_from, value=start[0], key=prefix + self.param_from, format=fmt
        )
        high = right.date_input(
            self.label_to, value=start[1], key=prefix + self.param_to, format=fmt
        )
        return (low, high)

    def url(self, value: tuple[date | None, date | None]) -> dict[str, object]:
        return {self.param_from: value[0], self.param_to: value[1]}

    def query_params(self, value: tuple[date | None, date | None]) -> dict[str, Any]:
        iso = [d.isoformat() if d else None for d in value]
        return {f"{self.query}_from": iso[0], f"{self.query}_to": iso[1]}

    def problem(self, value: tuple[date | None, date | None]) -> str | None:
        if value[0] and value[1] and value[0] > value[1]:
            return f"The '{self.label_from}' date is after the '{self.label_to}' date."
        return None


@dataclass(frozen=True)
class NumberRange:
    """A minimum and a maximum whole number; binds `min_<query>` / `max_<query>`."""

    label_min: str
    label_max: str
    param_min: str = "min"
    param_max: str = "max"
    query: str = "amount"
    step: int = 1
    advanced: bool = True

    @property
    def params(self) -> tuple[str, ...]:
        return (self.param_min, self.param_max)

    def from_url(self, query: Mapping[str, str], options: Mapping[Any, str]) -> tuple[Any, list]:
        parse = url_state.parse_int
        return (
            parse(query.get(self.param_min), minimum=0),
            parse(query.get(self.param_max), minimum=0),
        ), []

    def widget(self, prefix: str, start: Any, options: Mapping[Any, str]) -> Any:
        left, right = st.columns(2)
        low = left.number_input(
            self.label_min, value=start[0], key=prefix + self.param_min, min_value=0, step=self.step
        )
        high = right.number_input(
            self.label_max, value=start[1], key=prefix + self.param_max, min_value=0, step=self.step
        )
        return (None if low is None else int(low), None if high is None else int(high))

    def url(self, value: tuple[int | None, int | None]) -> dict[str, object]:
        return {self.param_min: value[0], self.param_max: value[1]}

    def query_params(self, value: tuple[int | None, int | None]) -> dict[str, Any]:
        return {f"min_{self.query}": value[0], f"max_{self.query}": value[1]}

    def problem(self, value: tuple[int | None, int | None]) -> str | None:
        if value[0] is not None and value[1] is not None and value[0] > value[1]:
            return f"The {self.label_min.lower()} is above the {self.label_max.lower()}."
        return None


Filter = Search | Choice | MultiChoice | DateRange | NumberRange


@dataclass(frozen=True)
class Sort:
    """The sortable columns (query column -> label) and the default (column, direction)."""

    columns: Mapping[str, str]
    default: tuple[str, str]
    param: str = "sort"
    directions: Mapping[str, str] = field(
        default_factory=lambda: {"desc": "Descending", "asc": "Ascending"}
    )

    def from_url(self, query: Mapping[str, str]) -> tuple[str, str]:
        return url_state.parse_sort(query.get(self.param), self.columns, self.default)

    def widget(self, prefix: str, start: tuple[str, str]) -> tuple[str, str]:
        left, right = st.columns(2)
        by = left.selectbox(
            "Sort by",
            list(self.columns),
            index=list(self.columns).index(start[0]),
            key=f"{prefix}sort_by",
            format_func=self.columns.get,
        )
        direction = right.selectbox(
            "Order",
            list(self.directions),
            index=list(self.directions).index(start[1]),
            key=f"{prefix}sort_dir",
            format_func=self.directions.get,
        )
        return (by, direction)

    def url(self, value: tuple[str, str]) -> dict[str, object]:
        return {self.param: url_state.encode_sort(value, self.default)}
