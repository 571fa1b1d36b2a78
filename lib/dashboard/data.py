"""The dashboard's data: its KPIs and chart frames for one view, from the named queries
queries/dashboard_*.sql over the snapshot tables (never the live ones: the page is read on
every rerun).

A seller (principal.tenant) sees its own orders only, whatever the view asks (`scoped`), and
no marketing spend (company-wide): the spend KPIs and the revenue_vs_spend chart are left out.
When the spend sheet cannot be read, the rest stands: the spend KPIs are None with the reason
as their note, and revenue_vs_spend has no spend.

Chart frames (DashboardData.charts), one row per group:
- revenue_by_segment: period (start of the day/week/month), segment, orders, revenue_krw
- revenue_vs_spend: month, revenue_krw, spend_krw (monthly whatever the granularity; a month
  the view covers in part counts its revenue and its share of spend for the days covered;
  spend_krw is NaN for a month the sheet lacks)
- share_by_segment: segment, revenue_krw, share (a fraction of the whole revenue kept)
- share_by_method: method, revenue_krw, share
- refunds_by_reason: category, refunds, refunded_krw (refunds done on the orders placed in
  the view, by the category of their reason)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pandas as pd

from lib.access.policy import may_open
from lib.access.principal import Principal
from lib.dashboard.model import DashboardData, Filters, Kpi
from lib.dates import age_text
from lib.errors import ActionDenied, BackofficeError, one_line
from lib.reading.engine import Engine
from lib.url_values import quoted

SOURCES = ("shop", "crm", "sheets")
SELLER_SOURCES = ("shop", "crm")  # a seller's dashboard has no spend (the sheet)
PAGE = "dashboard"

# key -> (label, unit); the order the page shows them in
KPIS: dict[str, tuple[str, str]] = {
    "gmv": ("GMV", "krw"),
    "revenue_kept": ("Revenue kept", "krw"),
    "orders": ("Orders", "count"),
    "aov": ("Average order value", "krw"),
    "refund_rate": ("Refund rate", "percent"),
    "new_customers": ("New customers", "count"),
    "backlog": ("Pending orders", "count"),
    "marketing_spend": ("Marketing spend", "krw"),
    "revenue_per_spend": ("Revenue per ₩ spent", "ratio"),
}
SPEND_KPIS = ("marketing_spend", "revenue_per_spend")
SPEND_CHARTS = ("revenue_vs_spend",)
NO_SPEND = pd.DataFrame(
    {"month": pd.Series(dtype="datetime64[us]"), "spend_krw": pd.Series(dtype="float64")}
).assign(days=0, month_days=1)
FIGURES = ("orders", "orders_not_rejected", "gmv", "revenue_krw", "refunded_krw", "new_customers")

T = TypeVar("T")
# engine -> what -> (the snapshots' version it was read at, value): the latest day and the
# filters' options change only when a snapshot does, not on every rerun.
_CACHE: weakref.WeakKeyDictionary[Engine, dict[str, tuple[tuple[int, ...], Any]]] = (
    weakref.WeakKeyDictionary()
)
_CACHE_LOCK = threading.Lock()


def _per_version(engine: Engine, what: str, read: Callable[[], T]) -> T:
    version = engine.data_version(SELLER_SOURCES)
    with _CACHE_LOCK:
        cached = _CACHE.get(engine, {}).get(what)
    if cached is not None and cached[0] == version:
        return cached[1]
    value = read()
    with _CACHE_LOCK:
        _CACHE.setdefault(engine, {})[what] = (version, value)
    return value


@dataclass(frozen=True)
class Options:
    """What the filters offer: seller id -> name, segments, payment methods (sorted)."""

    sellers: dict[int, str]
    segments: list[str]
    methods: list[str]


def latest_day(engine: Engine) -> date | None:
    """The latest order's day (the default range ends with it); None without orders. Read
    once per version of the snapshots."""
    return _per_version(engine, "latest", lambda: _latest_day(engine))


def _latest_day(engine: Engine) -> date | None:
    df = engine.query("dashboard_latest")
    value = df["latest"].iloc[0] if len(df) else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def options(engine: Engine) -> Options:
    """What the filters offer, read once per version of the snapshots."""
    return _per_version(engine, "options", lambda: _options(engine))


def _options(engine: Engine) -> Options:
    df = engine.query("dashboard_options")
    by_kind = {kind: rows for kind, rows in df.groupby("kind")}
    sellers = by_kind.get("seller", df.iloc[0:0])
    return Options(
        sellers={int(v): str(n) for v, n in zip(sellers["value"], sellers["label"], strict=True)},
        segments=sorted(by_kind["segment"]["value"]) if "segment" in by_kind else [],
        methods=sorted(by_kind["method"]["value"]) if "method" in by_kind else [],
    )


def checked(filters: Filters, opts: Options, principal: Principal) -> tuple[Filters, list[str]]:
    """The view with a seller, segment or method the data does not know dropped, a one-line
    problem each (a seller's own tenant is never dropped: `scoped` binds it)."""
    problems: list[str] = []
    changes: dict[str, object] = {}
    seller = filters.seller_id
    if principal.tenant is None and seller is not None and seller not in opts.sellers:
        problems.append(f"Ignored seller '{filters.seller_id}' from the link: no such seller.")
        changes["seller_id"] = None
    for name, known in (("segment", opts.segments), ("method", opts.methods)):
        value = getattr(filters, name)
        if value is not None and value not in known:
            problems.append(f"Ignored {name} '{quoted(value)}' from the link: no such {name}.")
            changes[name] = None
    return replace(filters, **changes), problems  # type: ignore[arg-type]


def scoped(principal: Principal, filters: Filters) -> Filters:
    """The view this principal may see: ActionDenied unless it may open the dashboard; a
    seller is bound to its own tenant whatever the view asked."""
    if not may_open(principal, PAGE):
        raise ActionDenied("You may not open the dashboard.")
    if principal.tenant is not None:
        return replace(filters, seller_id=principal.tenant)
    return filters


def _sums(frame: pd.DataFrame) -> dict[str, float]:
    return {c: float(frame[c].sum()) if len(frame) else 0.0 for c in FIGURES}


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or not bottom:
        return None
    return top / bottom


def _waited(oldest: object, now: datetime) -> str:
    if oldest is None or pd.isna(oldest):
        return ""
    return f"oldest waiting {age_text(now - pd.Timestamp(oldest).to_pydatetime())}"


def _shares(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    out = frame.groupby(by, as_index=False)["revenue_krw"].sum()
    out = out.sort_values(["revenue_krw", by], ascending=[False, True], ignore_index=True)
    total = out["revenue_krw"].sum()
    out["share"] = out["revenue_krw"] / total if total else float("nan")
    return out[[by, "revenue_krw", "share"]]


def _month_starts(filters: Filters) -> list[pd.Timestamp]:
    start = pd.Timestamp(filters.date_from).to_period("M")
    end = pd.Timestamp(filters.date_to).to_period("M")
    return [p.to_timestamp() for p in pd.period_range(start, end, freq="M")]


def _revenue_vs_spend(filters: Filters, figures: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    months = pd.DataFrame({"month": _month_starts(filters)})
    revenue = figures.groupby("month", as_index=False)["revenue_krw"].sum()
    revenue["month"] = pd.to_datetime(revenue["month"])
    spent = spend[["month", "spend_krw"]].copy()
    spent["month"] = pd.to_datetime(spent["month"])
    out = months.merge(revenue, on="month", how="left").merge(spent, on="month", how="left")
    out["revenue_krw"] = out["revenue_krw"].fillna(0)
    return out[["month", "revenue_krw", "spend_krw"]]


def _charts(
    filters: Filters, figures: pd.DataFrame, refunds: pd.DataFrame, spend: pd.DataFrame | None
) -> dict[str, pd.DataFrame]:
    by_segment = figures.groupby(["period", "segment"], as_index=False)[
        ["orders", "revenue_krw"]
    ].sum()
    by_segment["period"] = pd.to_datetime(by_segment["period"])
    charts = {
        "revenue_by_segment": by_segment[["period", "segment", "orders", "revenue_krw"]],
        "share_by_segment": _shares(figures, "segment"),
        "share_by_method": _shares(figures, "method"),
        "refunds_by_reason": refunds[["category", "refunds", "refunded_krw"]].reset_index(
            drop=True
        ),
    }
    if spend is not None:
        charts["revenue_vs_spend"] = _revenue_vs_spend(filters, figures, spend)
    return charts


def _spent(spend: pd.DataFrame) -> float:
    return float(spend["spend_krw"].sum())


def _spend_note(spend: pd.DataFrame) -> str:
    if len(spend) and (spend["days"] < spend["month_days"]).any():
        return "months in part: their share of days"
    return ""


def load(
    engine: Engine, principal: Principal, filters: Filters, *, now: datetime | None = None
) -> DashboardData:
    """Everything the dashboard draws for this view, as this principal may see it.

    `now` (UTC) is what the backlog's oldest wait is measured to (default: now)."""
    view = scoped(principal, filters)
    seller = principal.tenant is not None
    now = now or datetime.now(UTC).replace(tzinfo=None)
    params, before = view.bound(), view.previous().bound()

    figures = engine.query("dashboard_figures", **params)
    current, previous = _sums(figures), _sums(engine.query("dashboard_figures", **before))
    backlog = engine.query("dashboard_backlog", **params)
    refunds = engine.query("dashboard_refunds", **params)
    spend = spend_before = None
    spend_problem = ""
    if not seller:
        try:
            spend = engine.query("dashboard_spend", **params)
            spend_before = engine.query("dashboard_spend", **before)
        except BackofficeError as exc:  # the sheet: the rest of the dashboard still stands
            spend, spend_before = NO_SPEND, NO_SPEND
            spend_problem = f"unavailable: {one_line(exc, 200)}"

    def kpi(key: str, value: float | None, prev: float | None, note: str = "") -> Kpi:
        label, unit = KPIS[key]
        return Kpi(key, label, value, prev, unit, note)

    def derived(s: dict[str, float]) -> dict[str, float | None]:
        return {
            "gmv": s["gmv"],
            "revenue_kept": s["revenue_krw"],
            "orders": s["orders"],
            "aov": _ratio(s["gmv"], s["orders_not_rejected"]),
            "refund_rate": _ratio(s["refunded_krw"], s["gmv"]),
            "new_customers": s["new_customers"],
        }

    now_values, prev_values = derived(current), derived(previous)
    kpis = [kpi(k, now_values[k], prev_values[k]) for k in now_values]
    pending = int(backlog["pending"].iloc[0]) if len(backlog) else 0
    oldest = backlog["oldest_at"].iloc[0] if len(backlog) else None
    kpis.append(kpi("backlog", pending, None, _waited(oldest, now)))
    if spend is not None and spend_before is not None:
        spent, spent_before = _spent(spend), _spent(spend_before)
        if spend_problem:
            spent = spent_before = None
        note = spend_problem or _spend_note(spend)
        kpis.append(kpi("marketing_spend", spent, spent_before, note))
        kpis.append(
            kpi(
                "revenue_per_spend",
                _ratio(current["revenue_krw"], spent),
                _ratio(previous["revenue_krw"], spent_before),
            )
        )

    labels: dict[str, str] = {}
    if view.seller_id is not None:
        name = options(engine).sellers.get(view.seller_id)
        labels["seller"] = name or f"Seller {view.seller_id}"
    sources = SELLER_SOURCES if seller else SOURCES
    return DashboardData(
        filters=view,
        kpis=tuple(kpis),
        charts=_charts(view, figures, refunds, spend),
        refreshed_at=engine.refreshed_at(sources),
        sources=sources,
        tenant=principal.tenant,
        labels=labels,
    )
