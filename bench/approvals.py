"""Order approvals per second through `lib.actions.run("order.approve", ...)`, audit chain on.

`python -m bench.approvals [--rounds 2] [--threads 8]`

PostgreSQL: orders, payments and audit_log in one fresh database, so each approval's change
and its audit row commit in one transaction (the chain lock serializes the appends).
SQLite: copies of the demo files with the audit log in its own file, as the demo runs.
Each run approves every pending demo order (about 1,200), sequentially and then from
`--threads` threads, each order once; between runs the orders (never the audit log) are
set back to pending with a plain UPDATE. At the end the chain must verify and hold one
`ok` row per approval.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.databases import PG_SERVER, ServerUnavailable, fresh_postgres, must_fail_when_skipped
from bench.report import BenchFailed, Benchmark, cli, table
from lib import actions
from lib.access.principal import Principal
from lib.actions.context import ActionContext
from lib.audit import AuditStore
from lib.demo.load_sql import copy_tables
from lib.demo.seed import seed
from lib.records.database import make_engine
from lib.records.schema import orders

OPERATOR = Principal("operator", "Oscar Operator", ("operator",))
WARMUP_ORDERS = 20


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.approvals", description=__doc__.split("\n")[0]
    )
    p.add_argument("--rounds", type=int, default=2, help="runs per mode (the best counts)")
    p.add_argument("--threads", type=int, default=8, help="threads of the concurrent mode")
    p.add_argument("--pg", default=PG_SERVER, help="PostgreSQL server (SQLAlchemy URL, no db)")
    return p


def _pending(shop: sa.Engine) -> list[int]:
    with shop.connect() as conn:
        stmt = sa.select(orders.c.id).where(orders.c.status == "pending").order_by(orders.c.id)
        return list(conn.execute(stmt).scalars())


def _reset(shop: sa.Engine, ids: list[int]) -> None:
    """Back to pending: the orders only; the audit log keeps every approval."""
    with shop.begin() as conn:
        conn.execute(sa.update(orders).where(orders.c.id.in_(ids)).values(status="pending"))


def _approve_all(ids: list[int], threads: int) -> float:
    """Approve each order once; seconds taken. Every approval must come back ok."""

    def approve(order_id: int) -> str:
        return actions.run("order.approve", OPERATOR, order_id=order_id).outcome

    start = time.perf_counter()
    if threads == 1:
        outcomes = [approve(i) for i in ids]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            outcomes = list(pool.map(approve, ids))
    elapsed = time.perf_counter() - start
    failed = {o: outcomes.count(o) for o in set(outcomes) if o != "ok"}
    if failed:
        raise BenchFailed(f"{sum(failed.values())} of {len(ids)} approvals were not ok: {failed}")
    return elapsed


def measure(ctx: ActionContext, rounds: int, threads: int) -> dict[str, Any]:
    """Both modes on one context; the chain verified afterwards."""
    shop = ctx.databases["shop"]
    ids = _pending(shop)
    if not ids:
        raise BenchFailed("the demo data has no pending orders")
    approved = 0
    out: dict[str, Any] = {"orders": len(ids)}
    with actions.use_context(ctx):
        _approve_all(ids[:WARMUP_ORDERS], 1)  # connections, the action tables, the policy
        approved += WARMUP_ORDERS
        for label, n in (("sequential", 1), (f"{threads}_threads", threads)):
            runs = []
            for _ in range(rounds):
                _reset(shop, ids)
                runs.append(_approve_all(ids, n))
                approved += len(ids)
            best = min(runs)
            out[label] = {
                "threads": n,
                "best_s": round(best, 3),
                "runs_s": [round(r, 3) for r in runs],
                "approvals_per_s": round(len(ids) / best, 1),
            }
    start = time.perf_counter()
    report = ctx.audit.verify()
    verify_s = time.perf_counter() - start
    ok_rows = len(ctx.audit.query(limit=None, action="order.approve", outcome="ok"))
    out["audit"] = {
        "verify_ok": report.ok,
        "rows_checked": report.rows_checked,
        "approve_ok_rows": ok_rows,
        "approvals": approved,
        "verify_s": round(verify_s, 3),
    }
    if not report.ok:
        raise BenchFailed(f"audit chain broken at row {report.first_broken_id}: {report.problem}")
    if ok_rows != approved:
        raise BenchFailed(f"{approved} approvals but {ok_rows} audit rows say so")
    return out


def _dispose(ctx: ActionContext) -> None:
    ctx.audit.dispose()
    for engine in ctx.databases.values():
        engine.dispose()


def on_postgres(demo: Path, server: str, rounds: int, threads: int) -> dict[str, Any]:
    with fresh_postgres(server) as url:
        copy_tables(demo / "shop.sqlite", url, ["orders", "payments"])
        audit = AuditStore(url)
        audit.create_schema()
        ctx = ActionContext(audit=audit, databases={"shop": make_engine(url)})
        try:
            return measure(ctx, rounds, threads)
        finally:
            _dispose(ctx)


def on_sqlite(demo: Path, work: Path, rounds: int, threads: int) -> dict[str, Any]:
    shutil.copy(demo / "shop.sqlite", work / "shop.sqlite")
    audit = AuditStore(f"sqlite:///{work / 'audit.sqlite'}")
    audit.create_schema()
    ctx = ActionContext(
        audit=audit, databases={"shop": make_engine(f"sqlite:///{work}/shop.sqlite")}
    )
    try:
        return measure(ctx, rounds, threads)
    finally:
        _dispose(ctx)


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"rounds": args.rounds, "threads": args.threads}
    with tempfile.TemporaryDirectory(prefix="bo_bench_") as tmp:
        demo, work = Path(tmp) / "demo", Path(tmp) / "work"
        work.mkdir()
        seed(demo)
        backends: dict[str, Callable[[], dict[str, Any]]] = {
            "postgresql": lambda: on_postgres(demo, args.pg, args.rounds, args.threads),
            "sqlite": lambda: on_sqlite(demo, work, args.rounds, args.threads),
        }
        for name, measure_on in backends.items():
            print(f"{name} ...", flush=True)
            try:
                results[name] = measure_on()
            except ServerUnavailable as exc:
                if must_fail_when_skipped():
                    raise
                print(f"{name}: skipped: {exc}", flush=True)
                results[name] = {"skipped": str(exc)}
    return results


def _modes(r: dict[str, Any]) -> list[str]:
    return ["sequential", f"{r['threads']}_threads"]


def show(r: dict[str, Any]) -> str:
    rows = []
    for backend in ("postgresql", "sqlite"):
        b = r[backend]
        if "skipped" in b:
            rows.append((backend, "skipped", "", "", ""))
            continue
        for mode in _modes(r):
            m = b[mode]
            rows.append(
                (
                    f"{backend}, {mode.replace('_', ' ')}",
                    b["orders"],
                    m["best_s"],
                    m["approvals_per_s"],
                    "yes" if b["audit"]["verify_ok"] else "NO",
                )
            )
    return table(["order.approve", "orders", "seconds", "approvals/s", "chain ok"], rows) + (
        f"\nbest of {r['rounds']} runs per mode; audit chain verified after all runs"
    )


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for backend in ("postgresql", "sqlite"):
        b = r[backend]
        if "skipped" in b:
            out.append((f"approvals {backend}", "skipped"))
            continue
        for mode in _modes(r):
            out.append(
                (
                    f"approvals {backend}, {mode.replace('_', ' ')}",
                    f"{b[mode]['approvals_per_s']:,.0f} /s",
                )
            )
        out.append(
            (f"approvals {backend}, chain verify", "ok" if b["audit"]["verify_ok"] else "BROKEN")
        )
    return out


BENCHMARK = Benchmark("approvals", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
