"""What can be exported and how its rows leave the app: read in full, masked, typed.

Exportable: the Customers and Orders lists (the same named queries their pages read), every
table of the `sheets` source, and the demo's combined views (lib.reading.combine_views, rebuilt
here). Each belongs to a page (`Exportable.page`): a user is offered, and may export, only what
the pages they may open show (policy.may_open): the Customers list needs /customers, the Orders
list /orders, the sheets and views /spreadsheets. `exportables(engine, principal)` is that
list; `allowed` refuses anything else with ActionDenied, on the server. A combination of the
user's own (`combined`, CUSTOM) is exported from its choices: lib.reading.combine.combination
checks them against that user's catalogue (lib.reading.combine_access), and it is rebuilt here.

Personal data is masked the way the pages mask it, except on the records the viewer holds an
active unmask grant for (lib.access.unmask), and then only the kinds granted. Every column
named like personal data (email, phone, name, ...: lib.access.masking.named_columns) is masked
too, and a sheet or a view has no record to grant: there it is always masked.

The same masked frame feeds the XLSX download (lib.ui.export.to_xlsx) and the Google
Sheets export (`sheet_cells`), so both show exactly what the preview shows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from lib.access import policy
from lib.access.masking import PII_COLUMNS, mask_frame, named_columns
from lib.access.principal import Principal
from lib.access.unmask import KINDS, utc_now
from lib.audit.store import utc_text
from lib.errors import ActionDenied, ActionFailed, ValidationFailed
from lib.reading import catalog, combine, combine_access
from lib.reading.catalog import NotInCatalogue
from lib.reading.combine_views import VIEWS, run_view
from lib.records.database import READ_ONLY
from lib.records.schema import unmask_grants

MAX_ROWS = 50_000  # one export; a Google Sheet holds 10M cells, people read far fewer
SHEETS = "sheets"  # the source whose tables are exportable
PAGE = "spreadsheets"  # the page of the sheets and the views
VIEW = "combine"  # a view's name: "combine.marketing"
CUSTOM = f"{VIEW}.custom"  # a combination of the user's own, exported with its choices


# A file's directories in a load error (as lib.ui.spreadsheets_sheets shows it): not the user's.
_DIRS = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\\/\s'\"]+[\\/])+")


@dataclass(frozen=True)
class Exportable:
    """One thing that can be exported: the named query that reads it (with the parameters
    that select every row) or the table of the `sheets` source, its columns, which hold
    personal data, and the column naming the customer a grant is for."""

    name: str
    label: str
    query: str | None  # None: the table `table` of the `sheets` source (lib.reading.catalog)
    params: Mapping[str, Any]
    columns: tuple[str, ...] = ()  # () = every column the query selects
    personal: Mapping[str, str] = field(default_factory=dict)  # column -> kind
    record: str | None = None  # column holding the customer id a grant names
    dates: frozenset[str] = frozenset()  # columns that are dates, not times
    table: str | None = None  # a table of the `sheets` source
    page: str = PAGE  # the page whose users may export it
    view: str | None = None  # a combined view (lib.reading.combine_views.VIEWS)


_ALL_CUSTOMERS = {
    "segment_all": True,
    "segments": [],
    "status_all": True,
    "statuses": [],
    "date_from": None,
    "date_to": None,
    "q_id": None,
    "q_email": None,
    "q_phone": None,
    "q_name": None,
}
_ALL_ORDERS = {
    "status_all": True,
    "statuses": [],
    "date_from": None,
    "date_to": None,
    "min_amount": None,
    "max_amount": None,
    "seller_id": None,
    "q": None,
    "q_name": None,
    "q_email": None,
}

LISTS: dict[str, Exportable] = {
    "customers": Exportable(
        "customers",
        "Customers (list)",
        "customers_list",
        _ALL_CUSTOMERS,
        ("id", "name", "email", "phone", "address", "segment", "status", "signup_date"),
        PII_COLUMNS["customers"],
        "id",
        frozenset({"signup_date"}),
        page="customers",
    ),
    "orders": Exportable(
        "orders",
        "Orders & payments (list)",
        "orders_list",
        _ALL_ORDERS,
        ("id", "ordered_at", "status", "amount", "balance", "method", "seller", "customer_id")
        + ("customer",),
        {"customer": "name"},
        "customer_id",
        page="orders",
    ),
}


def _sheet_exportable(table: str, spec: Mapping[str, Any]) -> Exportable:
    declared = {str(c): str(k) for c, k in dict(spec.get("columns") or {}).items()}
    return Exportable(
        f"{SHEETS}.{table}",
        f"Sheet: {table}",
        None,
        {},
        tuple(declared),
        named_columns(declared),
        None,
        frozenset(c for c, k in declared.items() if k == "date"),
        table,
    )


def _view_exportable(name: str) -> Exportable:
    view = VIEWS[name]
    return Exportable(
        f"{VIEW}.{name}", f"View: {view.title}", None, {}, dates=frozenset({"month"}), view=name
    )


def every(engine: Any) -> dict[str, Exportable]:
    """Name -> everything `engine` (an Engine) could export, for anyone: the lists, each
    declared table of its `sheets` source, then the combined views. Not an offer: see
    `exportables`."""
    out = {name: e for name, e in LISTS.items()}
    sources = getattr(engine, "sources", {})
    if SHEETS in sources:
        for table, spec in dict(sources[SHEETS].options.get("tables") or {}).items():
            out[f"{SHEETS}.{table}"] = _sheet_exportable(str(table), spec)
    return out | {f"{VIEW}.{name}": _view_exportable(name) for name in VIEWS}


def exportables(engine: Any, principal: Principal | None) -> dict[str, Exportable]:
    """What `principal` may export: what the pages they may open show."""
    return {n: e for n, e in every(engine).items() if policy.may_open(principal, e.page)}


def allowed(engine: Any, principal: Principal | None, name: str) -> Exportable:
    """The exportable `name`, or ActionDenied when `principal` may not open its page."""
    item = every(engine).get(name)
    if item is None or not policy.may_open(principal, item.page):
        raise ActionDenied(f"Your role may not export {name}: it may not open that page.")
    return item


def combined(
    engine: Any, principal: Principal | None, choices: Mapping[str, Any]
) -> tuple[Exportable, pd.DataFrame]:
    """The custom combination `choices` names (lib.reading.combine.combination, against
    `principal`'s catalogue) and its rows, rebuilt here, its personal keys masked as the page
    masks them (`masked` then masks every column named like personal data). ActionDenied for
    a table `principal` may not combine, before anything is read."""
    for side in ("left", "right"):
        table = choices.get(side)
        if not isinstance(table, str) or not combine_access.may_combine(engine, principal, table):
            raise ActionDenied(f"Your role may not combine the {side} table it names.")
    cat = combine.catalogue(engine, principal)
    for side in ("left", "right"):
        if choices[side] not in cat.columns:
            why = "; ".join(cat.unavailable)
            raise ActionFailed(f"The {side} table cannot be read now. {why}".strip())
    try:
        chosen = combine.combination(cat, choices)
    except NotInCatalogue as exc:
        raise ValidationFailed(str(exc)) from None
    left, right, by_month = chosen.left, chosen.right, chosen.by_month
    result = combine.combine(engine, cat, left, right, by_month=by_month)
    # A month is a date; so is a key that is a DATE on both sides (else a time, or text).
    dates = {
        lk
        for i, (lk, rk) in enumerate(zip(left.keys, right.keys, strict=True))
        if (by_month and i == 0)
        or cat.type_of(left.table, lk) == cat.type_of(right.table, rk) == "DATE"
    }
    label = f"Combination: {left.name} and {right.name}"
    return Exportable(CUSTOM, label, None, {}, dates=frozenset(dates)), result.frame


def read(engine: Any, item: Exportable, limit: int = MAX_ROWS + 1) -> pd.DataFrame:
    """Every row of `item` (at most `limit`), its columns only, personal data NOT masked."""
    if item.view is not None:
        return run_view(engine, VIEWS[item.view]).frame.head(limit).reset_index(drop=True)
    if item.query is None:
        df = _sheet_rows(engine, str(item.table), limit)
    else:
        df = engine.query(item.query, **dict(item.params), limit=limit, offset=0)
    columns = [c for c in item.columns if c in df.columns] if item.columns else list(df.columns)
    return df[columns].reset_index(drop=True)


def _sheet_rows(engine: Any, table: str, limit: int) -> pd.DataFrame:
    """A declared sheet's rows; ActionFailed in one line when it did not load."""
    try:
        return catalog.rows(engine, SHEETS, table, limit=limit)
    except NotInCatalogue as exc:  # declared, but its last load failed: say why it did
        try:
            why = engine.table_errors(SHEETS).get(table) or str(exc)
        except Exception:  # the reason is a courtesy; the refusal stands without it
            why = str(exc)
        why = _DIRS.sub("", " ".join(why.split()))  # one line, no server directories
        raise ActionFailed(f"sheet '{table}' cannot be read: {why}") from None


def grants(store: Any, actor: Principal) -> dict[int, set[str]]:
    """Customer id -> the kinds `actor` may see unmasked there now (active grants only, and
    only kinds the actor's roles may still unmask). One read of the audit database."""
    allowed = policy.unmask_kinds(actor) & set(KINDS)
    if not allowed:
        return {}
    stmt = sa.select(unmask_grants.c.customer_id, unmask_grants.c.fields).where(
        unmask_grants.c.actor == actor.username,
        unmask_grants.c.expires_at > utc_text(utc_now()),
    )
    out: dict[int, set[str]] = {}
    with store.db.connect().execution_options(**{READ_ONLY: True}) as conn:
        if not sa.inspect(conn).has_table(unmask_grants.name):
            return {}
        for customer_id, fields in conn.execute(stmt):
            kinds = {k for k in str(fields).split(",") if k} & allowed
            out.setdefault(int(customer_id), set()).update(kinds)
    return {k: v for k, v in out.items() if v}


def masked(
    df: pd.DataFrame, item: Exportable, granted: Mapping[int, set[str]] | None = None
) -> tuple[pd.DataFrame, int]:
    """`df` with its personal data masked except what `granted` reveals on each record;
    and how many rows show something unmasked."""
    out = mask_frame(df, named_columns(df.columns) | dict(item.personal))
    if not granted or item.record is None or item.record not in df.columns:
        return out, 0
    shown_rows = 0
    for position, record in enumerate(df[item.record].tolist()):
        if record is None or (isinstance(record, float) and math.isnan(record)):
            continue
        kinds = granted.get(int(record), set())
        columns = [c for c, k in item.personal.items() if k in kinds and c in df.columns]
        for column in columns:
            out.at[position, column] = df.at[position, column]
        shown_rows += bool(columns)
    return out, shown_rows


def typed(df: pd.DataFrame, item: Exportable) -> pd.DataFrame:
    """Date columns as dates (DuckDB hands them over as midnight timestamps), times without
    a time zone in UTC (spreadsheets have none)."""
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            out[column] = series
        if column in item.dates and pd.api.types.is_datetime64_any_dtype(series):
            out[column] = pd.Series(
                [None if pd.isna(v) else v.date() for v in series], index=out.index, dtype=object
            )
    return out


def sheet_cell(value: Any) -> Any:
    """One cell as sent with valueInputOption USER_ENTERED: numbers and booleans as JSON
    numbers and booleans, dates and times in ISO form (which Sheets reads as dates), text
    behind a quote prefix so it stays the very text (never a formula, number or date)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return "" if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text else ""


def sheet_cells(df: pd.DataFrame) -> list[list[Any]]:
    """The header row (as text) and every row of a typed, masked frame, as Sheets cells."""
    header = [sheet_cell(str(c)) for c in df.columns]
    return [header] + [[sheet_cell(v) for v in row] for row in df.itertuples(index=False)]
