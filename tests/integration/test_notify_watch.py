"""The watchers: one message per episode of a backlog or a source down, across processes,
sent again only after the condition cleared. The audit database on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lib.config.settings import load_settings
from lib.health.checker import TargetHealth
from lib.notify import outbox
from lib.notify.config import NotifyConfig
from lib.notify.outboxes import ensured
from lib.notify.watch import Watchers
from lib.records.database import make_engine

ROUTES = {"orders.backlog": ["ops_chat"], "source.down": ["ops_chat"]}


def _config(**extra: Any) -> NotifyConfig:
    return NotifyConfig.of(
        {
            "channels": {"ops_chat": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}},
            "routes": ROUTES,
            **extra,
        }
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def audit_urls(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite'}"
    return request.getfixturevalue("pg_server").new()


@pytest.fixture
def shop(tmp_path: Path, demo_dir: Path) -> Path:
    path = tmp_path / "shop.sqlite"
    shutil.copy(demo_dir / "shop.sqlite", path)
    return path


class Checker:
    """What lib.health.checker.HealthChecker.snapshot() gives, set by the test."""

    def __init__(self) -> None:
        self.state: dict[str, bool | None] = {}

    def snapshot(self) -> list[TargetHealth]:
        return [
            TargetHealth(
                name, "sql", "db:5432", ok, None, None, None, None if ok else "refused", None, None
            )
            for name, ok in self.state.items()
        ]


@pytest.fixture
def processes(audit_urls: str, shop: Path) -> Iterator[tuple[list[Watchers], sa.Engine, Checker]]:
    """Two app processes' watchers (own engines each) on one audit database and shop."""
    settings = load_settings()
    checker = Checker()
    engines: list[sa.Engine] = []
    watchers: list[Watchers] = []
    for _ in range(2):
        audit, shop_engine = make_engine(audit_urls), make_engine(f"sqlite:///{shop}")
        engines += [audit, shop_engine]
        outboxes = ensured({"audit": audit, "shop": shop_engine})
        watchers.append(
            Watchers(settings, outboxes, config=_config(backlog_orders=5), checker=checker)
        )
    yield watchers, engines[0], checker
    for engine in engines:
        engine.dispose()


def _messages(audit: sa.Engine) -> list[str]:
    with audit.connect() as conn:
        return list(conn.scalars(sa.select(outbox.outbox.c.subject).order_by(outbox.outbox.c.id)))


def _pending(shop: Path) -> tuple[int, datetime]:
    with closing(sqlite3.connect(shop)) as con:
        count, oldest = con.execute(
            "SELECT count(*), min(ordered_at) FROM orders WHERE status = 'pending'"
        ).fetchone()
    return count, datetime.strptime(oldest[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _set_pending(shop: Path, keep: int) -> None:
    """Approve every pending order but the `keep` oldest."""
    with closing(sqlite3.connect(shop)) as con, con:
        con.execute(
            "UPDATE orders SET status = 'approved' WHERE status = 'pending' AND id NOT IN "
            "(SELECT id FROM orders WHERE status = 'pending' ORDER BY ordered_at, id LIMIT ?)",
            (keep,),
        )


def test_a_backlog_over_the_limit_is_told_once_across_processes_and_again_after_it_cleared(
    processes, shop
):
    watchers, audit, _ = processes
    count, oldest = _pending(shop)
    assert count > 5  # the demo has a backlog
    soon = oldest + timedelta(hours=1)  # nobody waits too long yet: the count decides
    for w in watchers + watchers:
        w.tick(soon)
    assert _messages(audit) == [
        f"Approval backlog: {count:,} pending orders, the oldest waiting 1 h 0 min"
    ]

    _set_pending(shop, 5)  # cleared: at the limit, not over it
    for w in watchers:
        w.tick(soon)
    assert len(_messages(audit)) == 1
    with closing(sqlite3.connect(shop)) as con, con:
        con.execute("UPDATE orders SET status = 'pending' WHERE status = 'approved'")
    for w in watchers:
        w.tick(soon)
    assert len(_messages(audit)) == 2  # a new episode


def test_an_order_pending_too_long_is_a_backlog_even_under_the_count(processes, shop):
    watchers, audit, _ = processes
    _set_pending(shop, 2)
    _, oldest = _pending(shop)
    watchers[0].tick(oldest + timedelta(hours=47))
    assert _messages(audit) == []
    watchers[1].tick(oldest + timedelta(hours=49))
    assert _messages(audit) == ["Approval backlog: 2 pending orders, the oldest waiting 2 d 1 h"]


def test_a_source_going_down_is_told_once_and_again_only_after_it_was_up(processes):
    watchers, audit, checker = processes
    now = datetime.now(UTC)
    checker.state = {"crm": None, "shop": True}
    for w in watchers:
        w.tick(now)
    checker.state = {"crm": False, "shop": True}
    for w in watchers + watchers:
        w.tick(now)
    down = [m for m in _messages(audit) if m.startswith("Source")]
    assert down == ["Source crm is down"]
    checker.state = {"crm": True, "shop": True}
    watchers[1].tick(now)
    checker.state = {"crm": False, "shop": False}
    for w in watchers:
        w.tick(now)
    down = [m for m in _messages(audit) if m.startswith("Source")]
    assert sorted(down) == ["Source crm is down", "Source crm is down", "Source shop is down"]


def test_nothing_is_watched_for_events_that_are_not_routed(processes, shop):
    watchers, audit, checker = processes
    quiet = Watchers(
        watchers[0].settings,
        {"audit": watchers[0].audit, "shop": watchers[0].shop},
        config=NotifyConfig.of({}),
        checker=checker,
    )
    checker.state = {"crm": False}
    quiet.tick(datetime.now(UTC))
    assert _messages(audit) == []


def test_source_down_reads_the_processs_running_health_checker_and_never_starts_one(
    tmp_path: Path, demo_dir: Path
):
    import streamlit as st

    from lib.health.checker import for_process
    from tests.stack import write_config

    # Every demo service points at a closed port: the REST sources are down.
    settings = load_settings(write_config(tmp_path, demo_dir))
    audit = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    shop = make_engine(f"sqlite:///{demo_dir / 'shop.sqlite'}")
    watchers = Watchers(settings, ensured({"audit": audit, "shop": shop}), config=_config())
    st.cache_resource.clear()  # stops a checker an earlier test left (its round may finish)
    deadline = time.monotonic() + 10
    while any(t.name == "health-checker" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "an earlier test's health checker still runs"
        time.sleep(0.05)
    try:
        watchers.tick(datetime.now(UTC))  # no health panel shown: no checker runs
        assert not [m for m in _messages(audit) if m.startswith("Source")]
        checker = for_process(settings)  # what the health panel does
        checker.check_now()
        watchers.tick(datetime.now(UTC))
        down = [m for m in _messages(audit) if m.startswith("Source")]
        assert "Source customer_api is down" in down
        assert len(down) == len(set(down))
    finally:
        st.cache_resource.clear()
        audit.dispose()
        shop.dispose()


def _no_health_checker_running() -> None:
    import streamlit as st

    st.cache_resource.clear()  # stops a checker an earlier test left (its round may finish)
    deadline = time.monotonic() + 10
    while any(t.name == "health-checker" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "an earlier test's health checker still runs"
        time.sleep(0.05)


def test_the_processs_jobs_announce_a_source_down_with_no_health_panel_shown(
    tmp_path: Path, demo_dir: Path
):
    """Home.py starts the process's jobs; with source.down routed they start the process's
    health checker (one: the panel's), so a source that is down is announced though nobody
    opened a health panel in that process."""
    import streamlit as st

    from lib.health.checker import for_process
    from lib.jobs.worker import Jobs
    from tests.stack import write_config

    # Every demo service points at a closed port (the REST sources are down); the chat and
    # mail channels too, so nothing reaches a demo sink that may be running.
    config = write_config(tmp_path, demo_dir)
    settings = load_settings(config)
    audit = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    shop = make_engine(f"sqlite:///{demo_dir / 'shop.sqlite'}")
    _no_health_checker_running()
    jobs = Jobs(settings, outboxes=ensured({"audit": audit, "shop": shop}))
    try:
        jobs.start()
        # Started by the jobs thread's first round that holds the "jobs.once" lease.
        deadline = time.monotonic() + 10
        while not any(t.name == "health-checker" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the jobs started no health checker"
            time.sleep(0.05)
        assert sum(t.name == "health-checker" for t in threading.enumerate()) == 1
        assert for_process(settings).running  # the one Jobs started: a panel shows this one
        assert sum(t.name == "health-checker" for t in threading.enumerate()) == 1
        down: list[str] = []
        deadline = time.monotonic() + 30
        while "Source customer_api is down" not in down and time.monotonic() < deadline:
            jobs.tick(datetime.now(UTC))  # a round as the jobs thread runs them
            down = [m for m in _messages(audit) if m.startswith("Source")]
            time.sleep(0.2)
        assert "Source customer_api is down" in down
        assert len(down) == len(set(down))  # once per episode
    finally:
        jobs.stop()
        st.cache_resource.clear()
        audit.dispose()
        shop.dispose()


def test_jobs_without_source_down_routed_start_no_health_checker(tmp_path: Path, demo_dir: Path):
    from lib.jobs.worker import Jobs
    from tests.stack import write_config

    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8").replace('"source.down" = ["ops_chat"]\n', "")
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config)
    audit = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    _no_health_checker_running()
    jobs = Jobs(settings, outboxes=ensured({"audit": audit}))
    try:
        jobs.start()
        deadline = time.monotonic() + 10
        while not jobs._checker_started:  # its first round holding the lease has run
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not any(t.name == "health-checker" for t in threading.enumerate())
    finally:
        jobs.stop()
        audit.dispose()
