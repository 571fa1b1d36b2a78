"""The back-end health checker against real back ends that go away and come back.

The demo's customer API, order API and gateway run in threads of this process; the `shop`
source is a database in a private MariaDB of the test's own (the shared :3306 is never
stopped). Checks run every half second: a stopped API and a stopped MariaDB show down with
their errors within two intervals while the rest stay up, and up again once restarted.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import streamlit as st

from lib.config.settings import Settings, load_settings
from lib.demo.services.serve import DEFAULT_PORTS, ServiceThread, create_service
from lib.health.checker import HealthChecker, TargetHealth, for_process
from tests.integration.servers import PrivateMariaDB
from tests.stack import health_every, write_config

pytestmark = pytest.mark.integration

INTERVAL_S = 0.5
TIMEOUT_S = 2.0
# Two intervals, a check's timeout, and room for a busy 2-core machine.
WITHIN_S = 2 * INTERVAL_S + TIMEOUT_S + 5
PASSWORD = "Health-pw-4417"  # in the shop URL: no error or description may show it
Snapshot = dict[str, TargetHealth]


@pytest.fixture
def services(demo_dir: Path) -> Iterator[dict[str, ServiceThread]]:
    """The three demo services, each on a free port; a test may replace one it restarts."""
    running: dict[str, ServiceThread] = {}
    try:
        for name in DEFAULT_PORTS:
            running[name] = ServiceThread(create_service(name, demo_dir, env={})).start()
        yield running
    finally:
        for service in running.values():
            service.stop()


@pytest.fixture
def shop_url(private_mariadb: PrivateMariaDB, mariadb_database: Callable[[str, str], str]) -> str:
    """An empty database in the private MariaDB (the test stops and starts that server),
    reached as a user with a password."""
    return mariadb_database("health_app", PASSWORD)


def config_for(
    tmp_path: Path, demo_dir: Path, urls: dict[str, str], shop_url: str | None = None
) -> Path:
    """The shipped config over this test's services (and shop database), checked quickly."""
    config = write_config(tmp_path, demo_dir, urls)
    text = config.read_text(encoding="utf-8")
    if shop_url:
        text = text.replace(f"sqlite:///{demo_dir}/shop.sqlite", shop_url)
    text = health_every(text, INTERVAL_S)
    text = text.replace("timeout_s = 3", f"timeout_s = {TIMEOUT_S}")
    config.write_text(text, encoding="utf-8")
    return config


@pytest.fixture
def settings(
    tmp_path: Path, demo_dir: Path, services: dict[str, ServiceThread], shop_url: str
) -> Settings:
    urls = {name: service.url for name, service in services.items()}
    return load_settings(config_for(tmp_path, demo_dir, urls, shop_url))


def by_name(checker: HealthChecker) -> Snapshot:
    return {t.name: t for t in checker.snapshot()}


def wait_for(checker: HealthChecker, seen: Callable[[Snapshot], bool], within: float) -> Snapshot:
    """The first snapshot for which `seen` holds, polled; fails with the last one after `within`."""
    deadline = time.monotonic() + within
    while True:
        snap = by_name(checker)
        if seen(snap):
            return snap
        if time.monotonic() > deadline:
            state = {n: (t.ok, t.error) for n, t in snap.items()}
            pytest.fail(f"not seen within {within:g} s: {state}")
        time.sleep(0.05)


def all_up(snap: Snapshot) -> bool:
    return all(t.ok for t in snap.values())


def test_a_stopped_api_and_mariadb_show_down_with_their_errors_and_recover_by_themselves(
    settings: Settings,
    services: dict[str, ServiceThread],
    private_mariadb: PrivateMariaDB,
    demo_dir: Path,
) -> None:
    checker = HealthChecker(settings).start()
    try:
        snap = wait_for(checker, all_up, WITHIN_S)
        assert set(snap) == {
            "crm", "shop", "support", "customer_api", "order_api",
            "sheets.marketing_spend", "sheets.store_sales", "gateway",
        }  # fmt: skip
        assert snap["shop"].version and snap["shop"].version.startswith("MariaDB ")
        assert snap["crm"].version and snap["crm"].version.startswith("SQLite ")
        assert snap["support"].version and snap["support"].version.startswith("mongomock ")
        for name in ("customer_api", "order_api", "gateway"):  # as each one's /health says it
            said = requests.get(f"{services[name].url}/health", timeout=5).json().get("version")
            assert snap[name].version == said
        shop_db = str(settings.source("shop").options["url"]).rsplit("/", 1)[1]
        assert snap["shop"].where == f"127.0.0.1:{private_mariadb.port}/{shop_db}"
        assert snap["order_api"].where == f"127.0.0.1:{services['order_api'].port}"
        assert all(t.down_since is None and t.error is None for t in snap.values())
        assert all(t.latency_ms is not None and t.p95_ms is not None for t in snap.values())

        order_port = services["order_api"].port
        services["order_api"].stop()
        private_mariadb.stop()
        stopped_at = time.time()

        def both_down(s: Snapshot) -> bool:
            return s["order_api"].ok is False and s["shop"].ok is False

        snap = wait_for(checker, both_down, WITHIN_S)
        assert snap["order_api"].error == "cannot connect (connection refused)"
        assert (
            snap["shop"].error == "cannot connect to its MySQL/MariaDB server (connection refused)"
        )
        for name in ("order_api", "shop"):
            since = snap[name].down_since
            assert since is not None and since.timestamp() >= stopped_at - 0.01
        rest = {n: t.ok for n, t in snap.items() if n not in ("order_api", "shop")}
        assert all(rest.values()), rest
        for t in snap.values():
            assert PASSWORD not in f"{t.where} {t.error} {t.last_error}"

        services["order_api"] = ServiceThread(
            create_service("order_api", demo_dir, env={}), port=order_port
        ).start()
        private_mariadb.start()
        snap = wait_for(checker, all_up, WITHIN_S)
        assert snap["order_api"].down_since is None and snap["shop"].down_since is None
        assert snap["shop"].last_error == (
            "cannot connect to its MySQL/MariaDB server (connection refused)"
        )
        assert snap["shop"].last_error_at and snap["shop"].last_error_at.timestamp() >= stopped_at
    finally:
        checker.stop()
    assert not checker.running


def test_a_silent_api_is_down_after_its_timeout_and_does_not_hold_up_the_others(
    tmp_path: Path, demo_dir: Path, services: dict[str, ServiceThread]
) -> None:
    # A server that accepts connections and never answers: the worst kind of down.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    urls = {name: service.url for name, service in services.items()}
    urls["customer_api"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        checker = HealthChecker(load_settings(config_for(tmp_path, demo_dir, urls)))
        snap = {t.name: t for t in checker.check_now()}
    finally:
        silent.close()
    assert snap["customer_api"].ok is False
    assert snap["customer_api"].error == f"no answer within {TIMEOUT_S:g} s"
    others = {n: (t.ok, t.latency_ms) for n, t in snap.items() if n != "customer_api"}
    assert all(ok for ok, _ in others.values()), others
    # Checked side by side: no other check waited for the silent one.
    assert all(ms is not None and ms < TIMEOUT_S * 1000 for _, ms in others.values()), others


def test_one_checker_per_process_started_in_the_background_and_stopped_with_the_caches(
    settings: Settings, tmp_path: Path
) -> None:
    def checker_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "health-checker" and t.is_alive()]

    def no_checker_thread_within(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while checker_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not checker_threads()

    st.cache_resource.clear()
    try:
        first = for_process(settings)
        again = for_process(load_settings(settings.config_path))  # another page, same config
        assert again is first
        assert first.running and len(checker_threads()) == 1
        # The first round runs in the checker's thread: nobody called check_now.
        wait_for(first, lambda s: all(t.ok is not None for t in s.values()), WITHIN_S)

        # The configuration changes (a sheet connected, say): a new checker replaces the old.
        changed = settings.config_path.read_text(encoding="utf-8").replace(
            "[sources.sheets.tables.store_sales]", "[sources.sheets.tables.store_sales_2]"
        )
        settings.config_path.write_text(changed, encoding="utf-8")
        second = for_process(load_settings(settings.config_path))
        assert second is not first and not first.running and second.running
        assert "sheets.store_sales_2" in [t.name for t in second.targets]
        assert for_process(load_settings(settings.config_path)) is second
    finally:
        st.cache_resource.clear()
    assert not second.running
    assert no_checker_thread_within(TIMEOUT_S + 2), checker_threads()
