"""The Import section: a declared sheet into a system of record through `sheet.import_rows`.

Choose the sheet (a table of the `sheets` source, read from DuckDB) and the target among
lib.actions.sheets.IMPORTS, map each target column to a sheet column, run a dry run (rows
new / changed / unchanged and every invalid cell by its address), then import all or
nothing. The sheet and the target are in the URL (`sheet`, `target`); the mapping is not.

A cell the sheet itself could not read is NULL in DuckDB, so its problem comes from the
engine (Engine.problems, exact addresses); the dry run adds what the target refuses, at
the row number each row was loaded with (cells.ROW: blank rows are not in DuckDB).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from lib.access import policy
from lib.access.principal import Principal
from lib.actions import Result, run
from lib.actions.sheets import IMPORTS, MAX_ROWS, DryRun, dry_run
from lib.config import runtime
from lib.errors import BackofficeError
from lib.reading import catalog
from lib.reading.sources.cells import ROW, CellProblem
from lib.ui import session_guard, url_state
from lib.ui.widgets import RESULT_ICONS, escape_markdown, show_error

ACTION = "sheet.import_rows"
SOURCE = "sheets"
SHEET_KEY, TARGET_KEY = "import_sheet", "import_target"
DRY_KEY, GO_KEY = "import_dry_run", "import_go"
SEEDS, NOTES = "import_seeds", "import_notes"
PARAMS = ("sheet", "target")  # the URL parameters this section owns (lib.ui.spreadsheets)
CHECKED, DONE = "import_checked", "import_done"  # the last dry run; the last import's result
SKIP = "(not imported)"


@dataclass(frozen=True)
class Checked:
    """A dry run and the choices it was made for (a change of any of them makes it stale)."""

    choice: tuple[Any, ...]
    run: DryRun
    problems: tuple[CellProblem, ...]
    rows: int
    too_many: bool


def _declared() -> list[str]:
    """The tables of the `sheets` source, as configured (and declared through Connect)."""
    try:
        tables = runtime.settings().source(SOURCE).options.get("tables") or {}
    except BackofficeError:
        return []
    return [str(t) for t in tables]


def _from_url(sheets: list[str], targets: list[str]) -> dict[str, str | None]:
    """The sheet and target the link asks for; one not offered is ignored with a note."""
    notes, out = [], {}
    for name, offered in (("sheet", sheets), ("target", targets)):
        raw = (st.query_params.get(name) or "").strip()
        if raw and raw not in offered:
            notes.append(f"Ignored {name} '{url_state.quoted(raw)}' from the link: no such {name}.")
        out[name] = raw if raw in offered else None
    st.session_state[NOTES] = notes
    return out


def _pick(label: str, options: list[str], key: str, start: str | None) -> str:
    if st.session_state.get(key) not in (None, *options):
        del st.session_state[key]  # the list changed since (a sheet removed, the policy)
    index = options.index(start) if start in options else 0
    return st.selectbox(label, options, index=index, key=key)


def _mapping(sheet: str, target: str, header: list[str]) -> dict[str, str]:
    """target column -> sheet column, one selectbox per target column (same name first)."""
    spec = IMPORTS[target]
    mapping: dict[str, str] = {}
    cols = st.columns(min(len(spec.columns), 5))
    for i, column in enumerate(spec.columns):
        must = column in spec.required
        options = header if must else [SKIP, *header]
        default = options.index(column) if column in options else 0
        label = f"{column} ({spec.columns[column]}{', required' if must else ''})"
        key = f"import_map_{sheet}_{target}_{column}"
        with cols[i % len(cols)]:
            chosen = st.selectbox(label, options, index=default, key=key) if options else None
        if chosen is not None and chosen != SKIP:
            mapping[column] = chosen
    return mapping


def _records(df: pd.DataFrame, mapping: Mapping[str, str]) -> list[dict[str, Any]]:
    """The sheet's rows keyed by the target's columns, as Python values (NULL -> None)."""
    out = []
    for rec in df.to_dict("records"):
        out.append({t: (None if _missing(rec[s]) else rec[s]) for t, s in mapping.items()})
    return out


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _read(sheet: str, limit: int = MAX_ROWS + 1) -> pd.DataFrame:
    """The sheet's rows as loaded into DuckDB (one more than an import takes, to tell), with
    each one's spreadsheet row number in ROW."""
    return catalog.rows(runtime.engine(), SOURCE, sheet, limit=limit, row_numbers=True)


def _check(
    sheet: str, target: str, mapping: Mapping[str, str], choice: tuple[Any, ...]
) -> tuple[Checked, list[dict[str, Any]], list[int] | None]:
    """The dry run of these choices, with the sheet's own problems in the mapped columns;
    the rows and their spreadsheet row numbers, for the import."""
    df = _read(sheet)
    too_many = len(df) > MAX_ROWS
    head, numbers = df.head(MAX_ROWS), None
    if ROW in head.columns:
        numbers = [int(n) for n in head[ROW]]
        head = head.drop(columns=[ROW])
    rows = _records(head, mapping)
    loaded = runtime.engine().problems(SOURCE).get(sheet, [])
    mapped = set(mapping.values())
    own = [p for p in loaded if p.header in mapped]
    result = dry_run(
        target, rows, mapping=mapping, sheet_columns=list(head.columns), row_numbers=numbers
    )
    seen = {p.address for p in own}
    problems = (*own, *(p for p in result.problems if p.address not in seen))
    problems = tuple(sorted(problems, key=lambda p: (p.row, len(p.column), p.column)))
    return Checked(choice, result, problems, len(rows), too_many), rows, numbers


def _show(checked: Checked, target: str) -> None:
    r = checked.run
    new, changed, same = st.columns(3)
    new.metric("New rows", f"{r.new:,}")
    changed.metric("Changed rows", f"{r.changed:,}")
    same.metric("Unchanged rows", f"{r.unchanged:,}")
    if checked.too_many:
        st.error(f"The sheet has more than {MAX_ROWS:,} rows: import it in parts.")
    if checked.problems:
        st.error(
            f"{len(checked.problems):,} invalid cells: nothing can be imported until they are "
            "fixed in the sheet (and it is refreshed).",
            icon=":material/edit_off:",
        )
        frame = pd.DataFrame(
            [(p.address, p.header, p.expected, p.found) for p in checked.problems],
            columns=["Cell", "Column", "Expected", "Found"],
        )
        st.dataframe(frame, hide_index=True, key="import_problems")
    elif not (r.new or r.changed):
        st.info(f"Nothing would change: every row is already in {target}.")
    else:
        st.success(f"Every cell is valid: {r.new + r.changed:,} rows would go into {target}.")


def _import(principal: Principal, sheet: str, target: str, mapping: Mapping[str, str]) -> None:
    """Import with a fresh read of the sheet; refused again if a cell went bad since."""
    checked, rows, numbers = _check(sheet, target, mapping, st.session_state[CHECKED].choice)
    st.session_state[CHECKED] = checked
    if checked.problems or checked.too_many:
        return  # the refreshed dry run shows why
    actor = session_guard.actor(principal)
    result = run(ACTION, actor, table=target, rows=rows, row_numbers=numbers)
    st.session_state[DONE] = result
    st.session_state.pop(CHECKED, None)  # its counts are stale now: dry-run again


def render(principal: Principal) -> None:
    st.subheader("Import into a system of record")
    if not policy.may_run(principal, ACTION):
        st.info("Your role may not import spreadsheets.")
        return
    sheets, targets = _declared(), list(IMPORTS)
    if not sheets:
        st.info("No sheet is declared yet.")
        return
    start = url_state.entered(SEEDS, SHEET_KEY, lambda: _from_url(sheets, targets))
    for note in st.session_state.pop(NOTES, []):
        st.caption(escape_markdown(note))  # it quotes the URL
    left, right = st.columns(2)
    with left:
        sheet = _pick("Sheet", sheets, SHEET_KEY, start["sheet"])
    with right:
        default = start["target"] or (sheet if sheet in targets else None)
        target = _pick("Import into", targets, TARGET_KEY, default)
    url_state.write({"sheet": sheet, "target": target})

    try:
        header = list(catalog.columns(runtime.engine(), SOURCE, sheet))
    except BackofficeError as exc:
        show_error(exc)
        return
    st.caption(f"Map each column of {target} to a column of the sheet {sheet}.")
    mapping = _mapping(sheet, target, header)
    choice = (sheet, target, tuple(sorted(mapping.items())))

    if st.button("Dry run", key=DRY_KEY, icon=":material/fact_check:"):
        st.session_state.pop(DONE, None)
        try:
            st.session_state[CHECKED] = _check(sheet, target, mapping, choice)[0]
        except BackofficeError as exc:
            show_error(exc)
    checked: Checked | None = st.session_state.get(CHECKED)
    fresh = checked is not None and checked.choice == choice
    ready = fresh and not checked.problems and not checked.too_many
    if st.button(
        f"Import into {target}",
        key=GO_KEY,
        type="primary",
        icon=":material/upload:",
        disabled=not ready,
        help=None if ready else "Run a dry run of these choices first; it must find no problem.",
    ):
        try:
            _import(principal, sheet, target, mapping)
        except BackofficeError as exc:
            show_error(exc)
        else:
            st.rerun()  # drawn again: the Import button off until the next dry run
    done: Result | None = st.session_state.get(DONE)
    if done is not None:  # kept until the next dry run, with its audit row's request id
        line = escape_markdown(f"{done.message} Audit row: request {done.request_id}.")
        if done.ok:
            st.success(line, icon=RESULT_ICONS["ok"])
        elif done.outcome == "conflict":
            st.warning(line, icon=RESULT_ICONS["conflict"])
        else:
            st.error(line, icon=RESULT_ICONS.get(done.outcome))
    checked = st.session_state.get(CHECKED)
    if checked is not None and checked.choice == choice:
        _show(checked, target)
