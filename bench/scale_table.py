"""bench.scale's markdown table: one column per backend, the goal, the naive ratio."""

from __future__ import annotations

from typing import Any

# figure key -> (what it is, goal as shown, goal value or None, unit)
ROWS: tuple[tuple[str, str, str, float | None, str], ...] = (
    ("orders_first_view_s", "Orders, first view (count + newest 20)", "≤ 0.2 s", 0.2, "s"),
    ("orders_search_s", "Orders, search by customer name", "≤ 0.2 s", 0.2, "s"),
    ("orders_id_search_s", "Orders, search by order id", "≤ 0.05 s", 0.05, "s"),
    ("orders_next_page_s", "Orders, next page", "≤ 0.2 s", 0.2, "s"),
    ("orders_filter_s", "Orders, status = pending", "≤ 0.2 s", 0.2, "s"),
    ("orders_sort_s", "Orders, sort by amount desc", "≤ 0.2 s", 0.2, "s"),
    ("orders_deep_page_s", "Orders, page 500 from a URL", "≤ 0.2 s", 0.2, "s"),
    ("customers_first_view_s", "Customers, first view", "≤ 0.2 s", 0.2, "s"),
    ("customers_search_s", "Customers, search by name", "≤ 0.2 s", 0.2, "s"),
    ("customers_next_page_s", "Customers, next page", "≤ 0.2 s", 0.2, "s"),
    ("customers_sort_s", "Customers, sort by segment", "≤ 0.2 s", 0.2, "s"),
    ("customers_filter_s", "Customers, status = blocked", "≤ 0.2 s", 0.2, "s"),
    ("seller_statement_s", "Seller portal, statement (months + newest month)", "", None, "s"),
    ("dashboard_warm_s", "Dashboard queries, warm", "≤ 0.12 s", 0.12, "s"),
    ("dashboard_cold_s", "Dashboard queries, cold", "≤ 1 s", 1.0, "s"),
    ("rss_mb", "App process peak RSS, 10 sessions", "≤ 1,024 MB", 1024.0, "MB"),
    ("naive_orders_first_view_s", "naive: read_sql + pandas, first view", "", None, "s"),
    ("before_orders_first_view_s", "before: DuckDB over the scanners, first view", "", None, "s"),
)


def _value(v: Any, unit: str, goal: float | None) -> str:
    if v is None:
        return "–"
    text = f"{v:,.0f} MB" if unit == "MB" else (f"{v:.3f} s" if v < 10 else f"{v:,.1f} s")
    if goal is not None and v > goal:
        text += " ✗"
    return text


def _ratio(fast: Any, naive: Any) -> str:
    if not fast or not naive:
        return "–"
    return f"{naive / fast:,.0f}× faster"


def markdown(doc: dict[str, Any], size: Any, runs: int, machine: dict[str, Any]) -> str:
    backends = [b for b in doc if b != "load"]
    head = ["", *backends, "goal"]
    lines = [
        f"Scale benchmark: {size.orders:,} orders, {size.customers:,} customers; each figure "
        f"the median of {runs} runs (server time); {machine.get('cpus')} CPUs, "
        f"Python {machine.get('python')}, DuckDB {machine.get('duckdb')}. ✗: misses the goal.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for key, label, goal_text, goal, unit in ROWS:
        cells = [_value(doc[b].get(key), unit, goal) for b in backends]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {goal_text} |")
    ratios = [
        _ratio(doc[b].get("orders_first_view_s"), doc[b].get("naive_orders_first_view_s"))
        for b in backends
    ]
    lines.append("| first view vs naive | " + " | ".join(ratios) + " | |")
    load = doc.get("load") or {}
    if load:
        cells = []
        for b in backends:
            r = load.get(b)
            if r is None or r.get("p50_s") is None:
                cells.append("–")
                continue
            server = r.get("server") or {}
            text = f"p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s, {r['errors']} errors"
            if server.get("run_p50_s") is not None:
                text += (
                    f" (server run p50 {server['run_p50_s']:.3f} s, p95 "
                    f"{server['run_p95_s']:.3f} s; {server['cpu_s_per_interaction']:.3f} CPU s "
                    "per interaction)"
                )
            cells.append(text)
        sessions = next(iter(load.values())).get("sessions")
        lines.append(
            f"| Load: {sessions} browser sessions on Orders, per interaction | "
            + " | ".join(cells)
            + " | ≤ 0.2 s, no errors |"
        )
        scripts = [(load.get(b) or {}).get("apptest") for b in backends]
        if any(scripts):
            cells = [
                "–"
                if not r or r.get("p50_s") is None
                else f"p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s, {r['errors']} errors "
                f"({r['interactions']} runs, {r['cpu_s_per_interaction']:.3f} CPU s each)"
                for r in scripts
            ]
            n = next(r for r in scripts if r).get("sessions")
            lines.append(
                f"| Load: {n} AppTest sessions on Orders (server script runs) | "
                + " | ".join(cells)
                + " | ≤ 0.2 s, no errors |"
            )
    return "\n".join(lines)
