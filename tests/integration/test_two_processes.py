"""Two app processes (`streamlit run` on two loopback ports) sharing one PostgreSQL for the
shop, the crm and the audit log, as N replicas behind a load balancer would.

- 100 approvals of 50 pending orders, made in the real UI (headless Chromium, ten browser
  contexts at once, five signed in to each process): every order is opened and ticked in
  two contexts on different processes, which then press Approve together. Each order is
  approved exactly once (one `ok` audit row, the other attempt a `conflict` row), and the
  audit chain, appended to by both processes at once, verifies.
- Wrong passwords for one user, made on both processes at once, lock it after
  lockout.MAX_FAILURES in all: the right password is then refused on either.
- The once-only background jobs (watchers, scheduled reports, prune, health checks) run
  under one lease: one process holds it round after round while both run; killed, its
  jobs move to the other process once the lease expires.

Needs PostgreSQL's server binaries (a private server: tests/integration/servers.py) and
Chromium; without them it skips, saying which, unless CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.access import lockout
from lib.audit import AuditStore
from lib.audit.schema import audit_log
from lib.demo.services.serve import free_port
from lib.jobs import lease as leases
from lib.jobs.worker import LEASE_ROUNDS, MIN_LEASE_S, ONCE
from lib.records import schema
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _need_chromium
from tests.integration.servers import PrivatePostgres
from tests.replicas import browser as ui
from tests.replicas import data
from tests.replicas.apps import App, replica_config, start_app
from tests.stack import copy_demo, demo_services_over

pytestmark = pytest.mark.integration

ORDERS = 50  # approved twice each: 100 approvals
PAIRS = 5  # browser contexts per process; pair k (one on each) approves orders[k::PAIRS]
# Ten pages and two app servers share the machine: about 2.5 min on an idle 2-core box, far
# longer when other work loads it (pytest's default 300 s would count the module's setup too).
APPROVALS_TIMEOUT_S = 900
SIGN_IN_AT_ONCE = 2  # page loads at once (the sign-ins): the rest are runs of loaded pages
POLL_S = 0.5  # the jobs' round in both processes: the lease is held max(5 rounds, 5 s)
LEASE_S = max(LEASE_ROUNDS * POLL_S, MIN_LEASE_S)


@dataclass
class Replicas:
    apps: list[App]
    audit_url: str
    shop_url: str
    orders: list[int]  # pending when the processes started


@pytest.fixture(scope="module")
def replicas(
    _private_postgres: PrivatePostgres,
    seeded_demo_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Replicas]:
    pg = _private_postgres
    if not pg.running:
        pg.start()
    demo_dir = copy_demo(seeded_demo_dir, tmp_path_factory.mktemp("replicas") / "demo")
    urls = {name: pg.new_database() for name in ("shop", "crm", "audit")}
    data.load(demo_dir / "shop.sqlite", urls["shop"], schema.shop, data.SHOP_TABLES)
    data.load(demo_dir / "crm.sqlite", urls["crm"], schema.crm, data.CRM_TABLES)
    orders = data.pending_orders(urls["shop"], ORDERS)
    assert len(orders) == ORDERS
    with demo_services_over(demo_dir) as services:
        config = replica_config(
            tmp_path_factory.mktemp("replicas-config"), demo_dir, services, urls, poll_s=POLL_S
        )
        apps: list[App] = []
        try:
            for _ in range(2):
                apps.append(start_app(config, free_port()))
            yield Replicas(apps, urls["audit"], urls["shop"], orders)
        finally:
            for app in apps:
                app.stop()


def _statuses(shop_url: str, ids: list[int]) -> dict[int, str]:
    engine = sa.create_engine(shop_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            o = schema.orders.c
            rows = conn.execute(sa.select(o.id, o.status).where(o.id.in_(ids))).all()
    finally:
        engine.dispose()
    return {r.id: r.status for r in rows}


def _outcomes(audit_url: str, action: str, target_ids: list[str]) -> dict[str, list[str]]:
    """Per target, the outcomes of its `action` audit rows in the order written."""
    engine = sa.create_engine(audit_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            a = audit_log.c
            rows = conn.execute(
                sa.select(a.target_id, a.outcome)
                .where(a.action == action, a.target_id.in_(target_ids))
                .order_by(a.id)
            ).all()
    finally:
        engine.dispose()
    found: dict[str, list[str]] = {t: [] for t in target_ids}
    for r in rows:
        found[r.target_id].append(r.outcome)
    return found


def _failure_report(replicas: Replicas) -> str:
    return "\n".join(f"--- app :{a.port} stderr ---\n{a.tail(1500)}" for a in replicas.apps)


# --- the lease itself, on SQLite and PostgreSQL ---------------------------------------------


def test_one_holder_at_a_time_and_the_lease_moves_when_it_expires(audit_url: str) -> None:
    engine = sa.create_engine(audit_url, poolclass=sa.pool.NullPool)
    now = [1000.0]
    a, b = (leases.Lease(engine, "t", ttl_s=10, clock=lambda: now[0]) for _ in range(2))
    try:
        assert a.hold() and not b.hold()  # the first takes it; the other is refused
        now[0] += 9
        assert a.hold() and not b.hold()  # renewed: 10 s from now again
        now[0] += 11  # a stops renewing (it died): expired
        assert b.hold() and not a.hold()
        row = leases.read(engine, "t")
        assert row is not None
        assert (row.holder, row.rounds, row.takeovers) == (b.holder, 1, 1)
        b.release()  # a clean stop: free at once
        assert a.hold()
        assert leases.read(engine, "t").takeovers == 2  # type: ignore[union-attr]
    finally:
        engine.dispose()


# --- two streamlit processes --------------------------------------------------------------


@pytest.mark.timeout(APPROVALS_TIMEOUT_S)
def test_100_approvals_of_50_orders_over_two_processes_approve_each_once(
    replicas: Replicas,
) -> None:
    _need_chromium()
    first, second = replicas.apps
    orders = replicas.orders
    pairs = PAIRS
    share = [orders[k::pairs] for k in range(pairs)]

    async def approver(page, app: App, ids: list[int], ready: list[asyncio.Barrier]) -> list:
        said = []
        for n, order_id in enumerate(ids):
            try:
                if n:  # the first is shown since the sign-in
                    await ui.search_order(page, order_id)  # one run, no page load
                await ui.select_first_row(page)
                await ready[n].wait()  # the other process's page shows it pending too: go
                said.append((order_id, await ui.approve_selected(page, order_id)))
            except Exception:
                await ui.screenshot(page, f"replicas-{app.port}-{order_id}")
                raise
        return said

    async def main() -> list:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # Pair k: one page on each process, signed in on a link to its first order.
                pages = [
                    (k, app, await ui.new_page(chromium))
                    for k in range(pairs)
                    for app in (first, second)
                ]
                for at in range(0, len(pages), SIGN_IN_AT_ONCE):
                    await asyncio.gather(
                        *(
                            ui.open_order(page, app.url, share[k][0], "operator", "operator-demo")
                            for k, app, page in pages[at : at + SIGN_IN_AT_ONCE]
                        )
                    )
                print(f"{len(pages)} sign-ins: {time.monotonic() - began:.1f} s")
                jobs = []
                for k in range(pairs):
                    ready = [asyncio.Barrier(2) for _ in share[k]]
                    for _, app, page in pages[2 * k : 2 * k + 2]:
                        jobs.append(approver(page, app, share[k], ready))
                return await asyncio.gather(*jobs)
            finally:
                await chromium.close()

    began = time.monotonic()
    try:
        said = ui.run_async(main)
    except Exception:
        print(_failure_report(replicas))
        raise
    print(f"100 approvals in the browser: {time.monotonic() - began:.1f} s")

    # Every order approved, each exactly once: one `ok` row and one `conflict` row, and the
    # pages said so (one "approved", one "already approved").
    assert _statuses(replicas.shop_url, orders) == dict.fromkeys(orders, "approved")
    outcomes = _outcomes(replicas.audit_url, "order.approve", [str(i) for i in orders])
    assert {t: sorted(o) for t, o in outcomes.items()} == {
        str(i): ["conflict", "ok"] for i in orders
    }
    per_order: dict[int, list[str]] = {i: [] for i in orders}
    for attempts in said:
        for order_id, answer in attempts:
            per_order[order_id].append(answer)
    assert {i: sorted(a) for i, a in per_order.items()} == {
        i: ["approved", "conflict"] for i in orders
    }

    store = AuditStore(replicas.audit_url)
    try:
        report = store.verify()
        assert report.ok, report
    finally:
        store.dispose()
    assert all(app.alive() for app in replicas.apps), _failure_report(replicas)


def test_the_lockout_counts_wrong_passwords_made_on_both_processes(replicas: Replicas) -> None:
    _need_chromium()
    first, second = replicas.apps
    user = "support"
    tries = [(first, 3), (second, lockout.MAX_FAILURES - 3)]  # 5 in all, at once on both

    async def guess(page, app: App, times: int) -> list[str]:
        return [
            await ui.refused_sign_in(page, app.url, user, f"wrong-{app.port}-{n}")
            for n in range(times)
        ]

    async def main() -> tuple[list[list[str]], list[str]]:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                pages = [await ui.new_page(chromium) for _ in tries]
                both = zip(pages, tries, strict=True)
                guesses = await asyncio.gather(*(guess(p, a, n) for p, (a, n) in both))
                right = [  # the right password, on each process
                    await ui.refused_sign_in(page, app.url, user, f"{user}-demo")
                    for page, (app, _) in zip(pages, tries, strict=True)
                ]
                return guesses, right
            finally:
                await chromium.close()

    guesses, right = ui.run_async(main)
    # Every guess was refused as wrong, but the one that locked the name (told it is locked).
    told = sorted(g for answers in guesses for g in answers)
    assert told == ["locked"] + ["wrong"] * (lockout.MAX_FAILURES - 1), _failure_report(replicas)
    assert right == ["locked", "locked"]
    outcomes = sorted(_outcomes(replicas.audit_url, lockout.LOGIN, [user])[user])
    assert outcomes == ["failed"] * lockout.MAX_FAILURES + ["locked"]  # no `ok` row
    store = AuditStore(replicas.audit_url)
    try:
        assert lockout.locked_until(store, user) is not None
        assert store.verify().ok
    finally:
        store.dispose()


def test_the_once_only_jobs_run_in_one_process_and_move_when_it_dies(replicas: Replicas) -> None:
    apps = replicas.apps
    _need_chromium()
    ui.run_async(lambda: ui.visit([app.url for app in apps]))  # Home.py starts their jobs
    engine = sa.create_engine(replicas.audit_url, poolclass=sa.pool.NullPool)
    try:
        deadline = time.monotonic() + 30
        while (before := leases.read(engine, ONCE)) is None:  # the first round takes it
            assert time.monotonic() < deadline, _failure_report(replicas)
            time.sleep(POLL_S)
        holder = next(app for app in apps if app.pid == before.pid)
        rounds = 4 * LEASE_ROUNDS  # several times the lease: it would have moved by now
        time.sleep(rounds * POLL_S)
        after = leases.read(engine, ONCE)
        assert after is not None
        assert after.holder == before.holder and after.since == before.since
        assert after.takeovers == before.takeovers  # nobody else ran them meanwhile
        # The holder kept running them: a hold a round (two when the reports step ran).
        assert 0 < after.rounds - before.rounds <= 2 * (rounds + 2)
        assert all(app.alive() for app in apps)

        # The holder dies without a word: the other process takes the jobs over.
        other = next(app for app in apps if app is not holder)
        holder.kill()
        deadline = time.monotonic() + LEASE_S + 10
        moved = leases.read(engine, ONCE)
        while moved is not None and moved.pid != other.pid:
            assert time.monotonic() < deadline, f"still {moved}\n{_failure_report(replicas)}"
            time.sleep(POLL_S)
            moved = leases.read(engine, ONCE)
        assert moved is not None and moved.takeovers == after.takeovers + 1
        assert other.alive()
    finally:
        engine.dispose()
