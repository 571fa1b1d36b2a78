"""One backend's figures for bench.scale: the pages' listings, the naive read_sql baseline,
the landed DuckDB path ("before") and the dashboard (bench.scale_dashboard, helper H4).

Every list figure goes through the page's own declaration (lib.ui.orders.PAGE,
lib.ui.customers.PAGE): the filter values are read from a URL-like dict by the page's own
filters, turned into the query's bound parameters by table_page.View, and fetched by the
page's listing, as a page run does, without drawing anything. Server time only: no
Streamlit run, no browser. The app's config (BACKOFFICE_CONFIG) must point at the backend.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from bench.report import REPO, BenchFailed

SLOW_S = 5.0  # a path slower than this is timed once (the "before" path, the naive one)
NAIVE_NOTE = (
    "naive: pandas.read_sql of the whole joined orders list (orders + payments + sellers from "
    "shop, then customers' id and name from crm, merged in pandas), sorted by ordered_at desc "
    "in pandas, len() as the count and the first 20 rows as the page, as an admin tool that "
    "reads the table into a DataFrame does"
)
BEFORE_NOTE = (
    "before: the landed DuckDB path, Engine.page over bench/queries/"
    "scale_orders_list_before.sql (queries/orders_list.sql before issue 13) through the "
    "scanners; one untimed run first (the sources attached, their snapshot tables copied)"
)


def timed(fn: Callable[[], Any], runs: int, warmup: int = 1, slow: float | None = None) -> dict:
    """Median of `runs` runs after `warmup` untimed ones; a first timed run slower than
    `slow` seconds is the only one (with no warm-up either: it is already minutes)."""
    times: list[float] = []
    for i in range(warmup + runs):
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        if slow is not None and i == 0 and took > slow:
            return {"median_s": round(took, 4), "runs_s": [round(took, 4)], "single_run": True}
        if i >= warmup:
            times.append(took)
    return {"median_s": round(statistics.median(times), 4), "runs_s": [round(t, 4) for t in times]}


# --- the pages' listings ---------------------------------------------------------------------


def _view(page: Any, url: Mapping[str, str]) -> tuple[dict[str, Any], tuple[str, str]]:
    """The bound parameters and sort the page would use for this URL."""
    from lib.ui.table_page import View

    values = tuple(f.from_url(url, {})[0] for f in page.filters)
    view = View(values, page.sort.from_url(url))
    problems = (f.problem(v) for f, v in zip(page.filters, values, strict=True))
    problem = next((p for p in problems if p), None)
    if problem:
        raise BenchFailed(f"{page.name}: the page refuses {sorted(url)}: {problem}")
    return view.params(page), view.sort


def _total(count: Any) -> int:
    """The list's count as a number (a capped lib.reading.source_query.Count: its value)."""
    return int(getattr(count, "value", count))


def fetch(
    page: Any, url: Mapping[str, str], number: int = 1, after: Any = None
) -> tuple[pd.DataFrame, int, Any]:
    """One page of the list and its count, as lib.ui.table_paging reads it: by keyset
    (`after` the last row's key) when the listing has fetch_page, else by offset. Returns
    (rows, count, the last row's key or None)."""
    params, sort = _view(page, url)
    size = page.page_size
    listing = page.listing
    if hasattr(listing, "fetch_page"):
        got = listing.fetch_page(params, sort, size, (number - 1) * size, after, None)
        return got.rows, _total(got.count or 0), got.last_key
    df, total = listing.fetch(params, sort, size, (number - 1) * size)
    return df, _total(total), None


def next_page(page: Any, url: Mapping[str, str]) -> Callable[[], Any]:
    """The Next button from the first page: what the listing reads for page 2 (after the
    shown page's last row when it pages by keyset)."""
    _, _, last_key = fetch(page, url)

    def run() -> Any:
        df, total, _ = fetch(page, url, 2, last_key)
        if df.empty:
            raise BenchFailed(f"{page.name}: no second page (count {total})")
        return df

    return run


DEEP_PAGE = 500  # a page number pasted in a URL: read by its keys, not by skipping rows


def deep_page(page: Any, url: Mapping[str, str], number: int) -> Callable[[], Any]:
    """A page number opened from a URL (`?page=500`): no keyset to start from. A list with
    fewer pages (a tiny benchmark) opens its last."""
    _, total, _ = fetch(page, url)
    number = max(1, min(number, total // page.page_size))

    def run() -> Any:
        df, total, _ = fetch(page, url, number)
        if df.empty:
            raise BenchFailed(f"{page.name}: no page {number} (count {total})")
        return df

    return run


def statement() -> Callable[[], Any]:
    """The Seller portal's statement as seller 1 opens it: the month picker's months, then
    the newest month's statement (every order line, in the shop's own database)."""
    from lib.access.principal import Principal
    from lib.config.settings import load_settings
    from lib.reading.source_query import SourceQueries
    from lib.reports import statement as st

    settings = load_settings()
    queries = SourceQueries(settings.sources, settings.queries_dir)
    seller = Principal("seller1", "Seller 1", ("seller",), tenant=1)

    def run() -> Any:
        months = st.seller_months(queries, seller, 1)
        if not months:
            raise BenchFailed("seller 1 has no months")
        return st.load_statement(queries, seller, 1, months[0])

    return run


def _checked(page: Any, url: Mapping[str, str], what: str) -> Callable[[], Any]:
    def run() -> Any:
        df, total, _ = fetch(page, url)
        if df.empty or total <= 0:
            raise BenchFailed(f"{what}: no rows (count {total})")
        return df, total

    return run


def samples(urls: Mapping[str, str]) -> dict[str, str]:
    """A real order id and the first characters of a real customer's name (never printed)."""
    crm = sa.create_engine(urls["crm"], poolclass=sa.pool.NullPool)
    shop = sa.create_engine(urls["shop"], poolclass=sa.pool.NullPool)
    try:
        with shop.connect() as conn:  # an order half-way down, and its customer (who has one)
            top = conn.execute(sa.text("SELECT max(id) FROM orders")).scalar_one()
            order_id, customer_id = conn.execute(
                sa.text(
                    "SELECT id, customer_id FROM orders WHERE id >= :k AND customer_id IS NOT NULL "
                    "ORDER BY id LIMIT 1"
                ),
                {"k": top // 2},
            ).one()
        with crm.connect() as conn:
            name = conn.execute(
                sa.text("SELECT name FROM customers WHERE id = :id"), {"id": customer_id}
            ).scalar_one()
        prefix = _prefix(crm, str(name))
    finally:
        crm.dispose()
        shop.dispose()
    return {"name_prefix": prefix, "order_id": str(order_id)}


MAX_NAME_MATCHES = 5_000  # the pages refuse a name search matching more customers


def _prefix(crm: sa.Engine, name: str) -> str:
    """The shortest beginning of `name` (2 characters at least) that the pages search:
    matching at most MAX_NAME_MATCHES customers."""
    name = name.strip()
    with crm.connect() as conn:
        for n in range(2, len(name) + 1):
            prefix = name[:n]
            matches = conn.execute(
                sa.text("SELECT count(*) FROM customers WHERE lower(name) LIKE :p"),
                {"p": prefix.lower() + "%"},
            ).scalar_one()
            if matches <= MAX_NAME_MATCHES:
                return prefix
    return name


def counts(urls: Mapping[str, str]) -> dict[str, int]:
    """Rows the backend holds: what the figures were measured on."""
    out = {}
    for db, table in (("shop", "orders"), ("crm", "customers")):
        engine = sa.create_engine(urls[db], poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                # Table names are these constants, never input.
                out[table] = int(
                    conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                )
        finally:
            engine.dispose()
    return out


def listings(urls: Mapping[str, str], runs: int) -> dict[str, Any]:
    """The Orders and Customers lists' figures, each the median of `runs`."""
    from lib.ui import customers, orders

    s = samples(urls)
    o, c = orders.PAGE, customers.PAGE
    plan = {
        "orders_first_view_s": _checked(o, {}, "orders first view"),
        "orders_search_s": _checked(o, {"q": s["name_prefix"]}, "orders name search"),
        "orders_next_page_s": next_page(o, {}),
        "customers_search_s": _checked(c, {"q": s["name_prefix"]}, "customers name search"),
        "orders_id_search_s": _checked(o, {"q": s["order_id"]}, "orders id search"),
        "orders_filter_s": _checked(o, {"status": "pending"}, "orders status=pending"),
        "orders_sort_s": _checked(o, {"sort": "-amount"}, "orders amount desc"),
        "orders_deep_page_s": deep_page(o, {}, DEEP_PAGE),
        "customers_first_view_s": _checked(c, {}, "customers first view"),
        "customers_next_page_s": next_page(c, {}),
        "customers_sort_s": _checked(c, {"sort": "segment"}, "customers by segment"),
        "customers_filter_s": _checked(c, {"status": "blocked"}, "customers status=blocked"),
        "seller_statement_s": statement(),
    }
    out: dict[str, Any] = {}
    runs_of: dict[str, list[float]] = {}
    for key, fn in plan.items():
        t = timed(fn, runs)
        out[key] = t["median_s"]
        runs_of[key] = t["runs_s"]
    out["runs_s"] = runs_of
    return out


# --- the naive baseline and the landed DuckDB path -------------------------------------------

NAIVE_ORDERS = """
SELECT o.id, o.ordered_at, o.status, o.amount, p.balance_amount AS balance, p.method,
       s.name AS seller, p.payment_key, o.seller_id, o.customer_id
FROM orders AS o
LEFT JOIN payments AS p ON p.order_id = o.id
LEFT JOIN sellers AS s ON s.id = o.seller_id
"""


def naive_first_view(urls: Mapping[str, str], runs: int) -> dict[str, Any]:
    """The Orders first view the naive way (NAIVE_NOTE); one run when a run takes > 5 s."""
    shop = sa.create_engine(urls["shop"])
    crm = sa.create_engine(urls["crm"])

    def run() -> tuple[pd.DataFrame, int]:
        df = pd.read_sql(sa.text(NAIVE_ORDERS), shop)
        names = pd.read_sql(
            sa.text("SELECT id AS customer_id, name AS customer FROM customers"), crm
        )
        df = df.merge(names, how="left", on="customer_id")
        total = len(df)
        page = df.sort_values(["ordered_at", "id"], ascending=False).head(20)
        return page, total

    try:
        return timed(run, runs, warmup=0, slow=SLOW_S)
    finally:
        shop.dispose()
        crm.dispose()


BEFORE_SQL = "scale_orders_list_before.sql"
BEFORE_PARAMS = {
    "status_all": True,
    "statuses": [],
    "seller_id": None,
    "date_from": None,
    "date_to": None,
    "min_amount": None,
    "max_amount": None,
    "q": None,
    "q_name": None,
    "q_email": None,
}


def before_first_view(runs: int) -> dict[str, Any]:
    """The Orders first view through the landed DuckDB path (BEFORE_NOTE)."""
    from lib.config.runtime import settings
    from lib.reading.engine import Engine

    # The app's queries (the engine may build derived tables from them) and the old list.
    queries = Path(tempfile.mkdtemp(prefix="bench-scale-queries-"))
    for path in [*(REPO / "queries").glob("*.sql"), REPO / "bench" / "queries" / BEFORE_SQL]:
        (queries / path.name).symlink_to(path)
    eng = Engine(settings().sources, queries)

    def run() -> Any:
        return eng.page(
            BEFORE_SQL.removesuffix(".sql"),
            sort=("ordered_at", "desc"),
            limit=20,
            offset=0,
            **BEFORE_PARAMS,
        )

    try:
        _ready(run)
        return timed(run, runs, warmup=0, slow=SLOW_S)
    finally:
        eng.close()
        shutil.rmtree(queries, ignore_errors=True)


def _ready(run: Callable[[], Any], patience_s: float = 900) -> None:
    """Run once untimed, waiting while the engine says a snapshot it needs is being built
    (the engine copies snapshot tables in the background: the seller names here)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            run()
            return
        except Exception as exc:
            if type(exc).__name__ != "SnapshotBuilding" or time.monotonic() > deadline:
                raise
            time.sleep(2)


def dashboard(config: Path, runs: int) -> dict[str, Any]:
    """bench.scale_dashboard.measure (helper H4) when it is there; nulls with a note if not."""
    try:
        from bench import scale_dashboard  # type: ignore[attr-defined]
    except ImportError:
        return {
            "dashboard_warm_s": None,
            "dashboard_cold_s": None,
            "dashboard_note": "bench/scale_dashboard.py (helper H4) has not landed",
        }
    got = dict(scale_dashboard.measure(config, runs=runs))
    out = {k: got.get(k) for k in ("dashboard_warm_s", "dashboard_cold_s")}
    extra = {k: v for k, v in got.items() if k not in out}
    if extra:
        out["dashboard"] = extra
    return out
