"""The source.down watcher reads the process's running health checker and never makes or
replaces one: a watcher whose settings differ from the health panel's (another [health],
as a Jobs made before a config change has) must not evict the panel's checker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st

from lib.config.settings import Settings, load_settings
from lib.health.checker import for_process, running_checker
from lib.notify import outbox
from lib.notify.config import NotifyConfig
from lib.notify.outboxes import ensured
from lib.notify.watch import Watchers
from lib.records.database import make_engine
from tests.stack import write_config

ROUTED = NotifyConfig.of(
    {
        "channels": {"ops_chat": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}},
        "routes": {"source.down": ["ops_chat"]},
    }
)


def _checker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "health-checker" and t.is_alive()]


@pytest.fixture
def settings(tmp_path: Path, demo_dir: Path) -> Iterator[Settings]:
    """Every demo service at a closed port (the REST sources are down); no checker runs."""
    st.cache_resource.clear()  # stops a checker an earlier test left (its round may finish)
    deadline = time.monotonic() + 10
    while _checker_threads():
        assert time.monotonic() < deadline, "an earlier test's health checker still runs"
        time.sleep(0.05)
    yield load_settings(write_config(tmp_path, demo_dir))
    st.cache_resource.clear()


def _subjects(audit: sa.Engine) -> list[str]:
    with audit.connect() as conn:
        return list(conn.scalars(sa.select(outbox.outbox.c.subject).order_by(outbox.outbox.c.id)))


def test_running_checker_is_none_until_one_is_started_and_after_it_stopped(settings):
    assert running_checker() is None  # asking made none
    assert not _checker_threads()
    checker = for_process(settings)
    assert running_checker() is checker
    st.cache_resource.clear()  # a config change or a restart of the caches stops it
    assert running_checker() is None


def test_a_watcher_of_other_settings_reads_the_panels_checker_and_leaves_it_running(
    settings, tmp_path: Path
):
    panel = for_process(settings)  # what the health panel (or the jobs) started
    panel.check_now()
    # The watcher's settings differ in [health]: for_process of them would be another entry.
    other = replace(settings, health={**settings.health, "interval_s": 321})
    audit = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    try:
        watchers = Watchers(other, ensured({"audit": audit}), config=ROUTED)
        assert watchers.checker() is panel
        watchers.tick(datetime.now(UTC))
        assert "Source customer_api is down" in _subjects(audit)
        assert panel.running and len(_checker_threads()) == 1
        assert for_process(settings) is panel  # still the cached one: its history is kept
    finally:
        audit.dispose()
