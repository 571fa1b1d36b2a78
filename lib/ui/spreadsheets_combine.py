"""Spreadsheets › Combine: a demo view or two tables of your choice (sheet with sheet, or a
sheet with a database table), joined in DuckDB on key columns with a measure summed on each
side; the result as a table and a bar, line or pie chart, keys that did not match reported
above the chart.

Every choice is in the URL (view, left, right, lkey, rkey, lmeasure, rmeasure, bymonth, from,
to, chart, show) so a view can be shared; a value the page does not know is ignored with a
note. Tables and columns are offered from the user's catalogue only (lib.reading.combine: the
sheets and the database tables behind the pages the role may open); a table outside it, asked
for by a link, is ignored with a note and never read. "Download XLSX" under the result writes
the very rows shown (rebuilt here from the choices, masked), never data sent by the browser;
"Export to Google Sheet" under a combination of your own sends sheet.export its choices (the
URL's, parsed by lib.reading.combine.combination there too), and the server rebuilds the rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from lib.access.principal import Principal
from lib.actions import export_data
from lib.config import runtime
from lib.errors import BackofficeError
from lib.reading import combine as cb
from lib.reading.combine_views import VIEWS, View, run_view
from lib.reading.engine import Engine
from lib.reading.queries import load_query
from lib.ui import export, spreadsheets_export, url_state
from lib.ui.combine_chart import CHARTS, chart
from lib.ui.widgets import escape_markdown, freshness_bar, show_error

K = "combine_"  # widget keys: combine_view, combine_chart, combine_left, ...
SEEDS = "combine_seeds"
CUSTOM = "custom"
DEFAULT_VIEW = "marketing"
DEFAULT_CHART = "bar"
# What "build your own" starts from: the marketing sheet against orders, by month.
DEFAULT_LEFT = ("sheets.marketing_spend", ("month",), "spend_krw")
DEFAULT_RIGHT = ("shop.orders", ("ordered_at",), "amount")
PARAMS = ("view", "left", "right", "lkey", "rkey", "lmeasure", "rmeasure", "bymonth")
PARAMS += ("from", "to", "chart", "show")


def _title(view: str) -> str:
    return VIEWS[view].title if view in VIEWS else "Build your own: two tables"


def _list(raw: str | None) -> list[str]:
    return [v.strip() for v in (raw or "").split(url_state.SEP) if v.strip()]


def _from_url(engine: Engine, principal: Principal) -> dict[str, Any]:
    """Every choice the URL asks for, checked; each value ignored gets a note."""
    q, notes = st.query_params, []

    def ignored(name: str, value: str, why: str) -> None:
        notes.append(f"Ignored {name} '{url_state.quoted(value)}' from the link: {why}.")

    seeds: dict[str, Any] = {"notes": notes}
    view = (q.get("view") or "").strip()
    if view and view not in (*VIEWS, CUSTOM):
        ignored("view", view, "no such view")
        view = ""
    custom_asked = any(q.get(p) for p in PARAMS[1:8])
    seeds["view"] = view or (CUSTOM if custom_asked else DEFAULT_VIEW)
    chart_kind = (q.get("chart") or "").strip()
    if chart_kind and chart_kind not in CHARTS:
        ignored("chart", chart_kind, "a chart is bar, line or pie")
    seeds["chart"] = chart_kind if chart_kind in CHARTS else DEFAULT_CHART
    for name in ("from", "to"):
        raw = q.get(name)
        seeds[name] = url_state.parse_date(raw)
        if raw and seeds[name] is None:
            ignored(name, raw, "not a date (YYYY-MM-DD)")
    raw = (q.get("bymonth") or "").strip()
    if raw and raw not in ("0", "1"):
        ignored("bymonth", raw, "it is 1 or 0")
    seeds["bymonth"] = None if raw not in ("0", "1") else raw == "1"
    seeds["show"] = _list(q.get("show"))
    if seeds["view"] == CUSTOM:
        seeds.update(_sides_from_url(engine, principal, ignored))
    return seeds


def _sides_from_url(engine: Engine, principal: Principal, ignored: Any) -> dict[str, Any]:
    """left/right tables, their keys and measures, each checked against the catalogue."""
    q, out = st.query_params, {}
    cat = cb.catalogue(engine, principal)
    for side in ("l", "r"):
        name = "left" if side == "l" else "right"
        table = (q.get(name) or "").strip()
        if table and table not in cat.columns:
            ignored(name, table, "not a table you may combine")
            table = ""
        out[name] = table or None
        keys = []
        for key in _list(q.get(f"{side}key")):
            if table and key in cat.columns[table] and key not in keys:
                keys.append(key)
            else:
                ignored(f"{side}key", key, f"not a column of {table or 'the table'}")
        out[f"{side}key"] = keys[: cb.MAX_KEYS]
        measure = (q.get(f"{side}measure") or "").strip()
        if measure and not (table and (measure == cb.ROWS or measure in cat.measures(table))):
            ignored(f"{side}measure", measure, "not a number column of the table")
            measure = ""
        out[f"{side}measure"] = measure or None
    return out


def render(principal: Principal) -> None:
    engine = runtime.engine()
    seeds = url_state.entered(SEEDS, f"{K}view", lambda: _from_url(engine, principal))
    for note in seeds.get("notes", []):
        st.caption(escape_markdown(note))  # it quotes the URL
    names = [*VIEWS, CUSTOM]
    view = st.selectbox(
        "View", names, index=names.index(seeds["view"]), format_func=_title, key=f"{K}view"
    )
    url: dict[str, object] = dict.fromkeys(PARAMS)
    url["view"] = view
    kind = st.session_state.get(f"{K}chart") or seeds["chart"]  # kept when nothing is charted
    url["chart"] = None if kind == DEFAULT_CHART else kind
    try:
        if view == CUSTOM:
            result, shared = _custom(engine, principal, seeds, url), False
        else:
            result, shared = _view(engine, VIEWS[view], seeds, url), VIEWS[view].shared_axis
    except BackofficeError as exc:
        url_state.write(url)
        show_error(exc)
        return
    if result is None:
        url_state.write(url)
        return
    _show(result, seeds, url, shared, VIEWS.get(view))
    if view == CUSTOM and not result.frame.empty:
        # The choices, not the rows: sheet.export rebuilds and masks them on the server.
        choices = {k: url[k] for k in cb.CHOICES}
        spreadsheets_export.google_section(
            principal, export_data.CUSTOM, f"{K}export", combination=choices
        )
    url_state.write(url)


def _view(engine: Engine, view: View, seeds: Mapping[str, Any], url: dict) -> cb.Combined:
    if view.about:
        st.caption(view.about)
    c1, c2 = st.columns(2)
    start = c1.date_input("From month", value=seeds["from"], key=f"{K}from", format="YYYY-MM-DD")
    end = c2.date_input(
        "To month (not included)", value=seeds["to"], key=f"{K}to", format="YYYY-MM-DD"
    )
    url["from"], url["to"] = start, end
    with st.spinner("Combining…"):
        result = run_view(engine, view, start or None, end or None)
    freshness_bar(engine, load_query(engine.queries_dir, view.query).sources, "combine")
    return result


def _default_keys(cat: cb.Catalogue, table: str) -> list[str]:
    dated = cat.of(table, "temporal") or [
        c for c in cat.of(table, "text") if c.endswith(("_at", "_date", "month"))
    ]
    return (dated or cat.of(table))[:1]


def _default_measure(cat: cb.Catalogue, table: str, keys: list[str]) -> str:
    numbers = [c for c in cat.measures(table) if c not in keys]
    return next((c for c in numbers if c != "id" and not c.endswith("_id")), cb.ROWS)


def _pick_side(
    cat: cb.Catalogue, col: Any, side: str, seeds: Mapping[str, Any], default: tuple
) -> cb.Side:
    name = "left" if side == "l" else "right"
    tables = cat.tables()
    fallback = tables[0] if side == "l" else tables[-1]  # two different sheets, if no database
    table0 = seeds.get(name) or (default[0] if default[0] in tables else fallback)
    table = col.selectbox(
        f"{name.title()} table", tables, index=tables.index(table0), key=f"{K}{name}"
    )
    from_seed = table == seeds.get(name)
    keys0 = seeds.get(f"{side}key") if from_seed else None
    if not keys0:
        keys0 = list(default[1]) if table == default[0] else _default_keys(cat, table)
    keys = col.multiselect(
        f"{name.title()} key columns",
        cat.of(table),
        default=[k for k in keys0 if k in cat.of(table)],
        max_selections=cb.MAX_KEYS,
        key=f"{K}{side}key_{table}",
    )
    measures = [cb.ROWS, *cat.measures(table)]
    m0 = seeds.get(f"{side}measure") if from_seed else None
    if not m0:
        m0 = default[2] if table == default[0] else _default_measure(cat, table, keys)
    measure = col.selectbox(
        f"{name.title()} measure (summed)",
        measures,
        index=measures.index(m0) if m0 in measures else 0,
        format_func=lambda m: "number of rows" if m == cb.ROWS else f"sum of {m}",
        key=f"{K}{side}measure_{table}",
    )
    return cb.Side(table, tuple(keys), measure)


def _custom(
    engine: Engine, principal: Principal, seeds: Mapping[str, Any], url: dict
) -> cb.Combined | None:
    cat = cb.catalogue(engine, principal)
    for line in cat.unavailable:
        st.caption(escape_markdown(line))
    if not cat.columns:
        st.info("No table can be read right now.")
        return None
    c1, c2 = st.columns(2)
    left = _pick_side(cat, c1, "l", seeds, DEFAULT_LEFT)
    right = _pick_side(cat, c2, "r", seeds, DEFAULT_RIGHT)
    by_month = st.checkbox(
        "Compare the first key columns by month",
        value=True if seeds.get("bymonth") is None else seeds["bymonth"],
        key=f"{K}bymonth",
        help="A date (or a text column holding dates) is read as its month.",
    )
    url.update(
        left=left.table, right=right.table, lkey=list(left.keys), rkey=list(right.keys),
        lmeasure=left.measure, rmeasure=right.measure, bymonth="1" if by_month else "0",
    )  # fmt: skip
    if not left.keys or len(left.keys) != len(right.keys):
        st.info("Pick as many key columns on each side (at least one).")
        return None
    # The same parser sheet.export checks these choices with on the server.
    chosen = cb.combination(cat, {k: url[k] for k in cb.CHOICES})
    sources = sorted({left.table.split(".")[0], right.table.split(".")[0]})
    freshness_bar(engine, sources, "combine")
    with st.spinner("Combining…"):
        return cb.combine(engine, cat, chosen.left, chosen.right, by_month=chosen.by_month)


def _show(
    c: cb.Combined, seeds: dict[str, Any], url: dict, shared: bool, view: View | None
) -> None:
    notes = c.notes()
    for line in notes:
        if line.startswith("Every "):
            st.success(escape_markdown(line), icon=":material/check:")
        else:
            st.warning(escape_markdown(line), icon=":material/link_off:")
    if c.frame.empty:
        st.info("Neither table has a row with those keys.")
        return
    options = [*c.left_measures, *c.right_measures]
    default = [*c.left_measures, *view.chart] if view else options
    asked = [m for m in seeds.get("show", []) if m in options]
    unknown = [m for m in seeds.get("show", []) if m not in options]
    if unknown and not seeds.get("show_noted"):
        st.caption(escape_markdown(
            f"Ignored show '{url_state.quoted(', '.join(unknown))}' from the link: "
            "no such measure."
        ))  # fmt: skip
    seeds["show_noted"] = True
    c1, c2 = st.columns([1, 3])
    kind = c1.segmented_control(
        "Chart",
        list(CHARTS),
        default=seeds["chart"],
        required=True,
        format_func=CHARTS.get,
        key=f"{K}chart",
    )
    kind = kind if kind in CHARTS else DEFAULT_CHART
    shown = c2.multiselect(
        "Measures in the chart",
        options,
        default=asked or [m for m in default if m in options],
        key=f"{K}show_{'|'.join(options)}",
    )
    url["chart"] = None if kind == DEFAULT_CHART else kind
    url["show"] = None if set(shown) == set(default) else shown
    figure = chart(c, shown, kind, shared_axis=shared) if shown else None
    if figure is None:
        st.info("Pick a measure to chart.")
    else:
        st.altair_chart(figure, width="stretch", height=420)
    st.dataframe(
        c.frame, hide_index=True, width="stretch", key=f"{K}table", column_config=_columns(c)
    )
    name = re.sub(r"[^A-Za-z0-9_]+", "_", view.name if view else f"{c.left}_{c.right}")
    st.download_button(
        "Download XLSX",
        export.to_xlsx(_for_xlsx(c), sheet_name=name[:31]),
        file_name=f"combine_{name}.xlsx",
        mime=export.XLSX_MIME,
        icon=":material/download:",
        key=f"{K}xlsx",
    )


def _for_xlsx(c: cb.Combined) -> pd.DataFrame:
    """The rows as shown (already masked), a month as a date: spreadsheets have no months."""
    out = c.frame.copy()
    for key in c.keys:
        if pd.api.types.is_datetime64_any_dtype(out[key]):
            out[key] = [None if pd.isna(v) else v.date() for v in out[key]]
    return out


def _columns(c: cb.Combined) -> dict[str, Any]:
    """A month as 2025-05, a date as a date, measures with thousands separators."""
    out: dict[str, Any] = {}
    for key in c.keys:
        if pd.api.types.is_datetime64_any_dtype(c.frame[key]):
            fmt = "YYYY-MM" if c.by_month else "YYYY-MM-DD"
            out[key] = st.column_config.DateColumn(key, format=fmt)
    for m in (*c.left_measures, *c.right_measures):
        out[m] = st.column_config.NumberColumn(m, format="localized")
    out[cb.MATCH] = st.column_config.TextColumn("match", help="Which side has this key")
    return out
