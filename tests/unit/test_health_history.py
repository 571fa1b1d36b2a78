"""The health history of one back end, the [health] settings, the targets' descriptions and
the checks' one-line errors: no file, database or network (see
tests/integration/test_health_checks.py for the checks that read files)."""

from __future__ import annotations

import time
import types
from pathlib import Path

import pytest

import lib.health.checker as checker_module
from lib.config.settings import Settings
from lib.errors import ConfigError
from lib.health.checker import HealthChecker
from lib.health.checks import CheckResult, scrub, server_version
from lib.health.config import HealthConfig
from lib.health.history import History, Sample, percentile
from lib.health.targets import Target, targets_for
from lib.reading.sources.base import SourceConfig

T0 = 1_800_000_000.0


def in_memory_settings(**fields: object) -> Settings:
    """Settings made here, not read from a file."""
    paths = {"config_path": Path("x.toml"), "demo_dir": Path("."), "users_file": Path("u.yaml")}
    return Settings(demo=False, queries_dir=Path("."), **paths, **fields)  # type: ignore[arg-type]


def up(at: float, ms: float) -> Sample:
    return Sample(T0 + at, True, ms)


def down(at: float, error: str = "cannot connect (connection refused)") -> Sample:
    return Sample(T0 + at, False, 2.0, error)


def test_p95_is_of_the_successful_checks_and_a_latency_some_check_took() -> None:
    history = History()
    for i, ms in enumerate([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150,
                            160, 170, 180, 190, 1000]):  # fmt: skip
        history.add(up(i, ms))
    history.add(down(30))  # a failure's latency says nothing of speed
    assert history.p95_ms() == 190
    assert history.latencies()[-1] == 1000
    assert history.last == down(30)
    assert percentile([], 95) is None
    assert percentile([7.0], 95) == 7.0


def test_down_since_is_when_the_failure_streak_began_and_clears_on_recovery() -> None:
    history = History()
    history.add(up(0, 5))
    assert history.down_since is None
    history.add(down(15))
    history.add(down(30, "no answer within 3 s"))
    assert history.down_since == T0 + 15
    assert history.last and history.last.error == "no answer within 3 s"
    history.add(up(45, 6))
    assert history.down_since is None
    # The last error stays known after the back end answers again, with its time.
    assert history.last_error == down(30, "no answer within 3 s")
    history.add(down(60))
    assert history.down_since == T0 + 60


def test_only_the_window_is_kept_but_a_long_outage_keeps_its_start() -> None:
    history = History(window_s=3600)
    history.add(up(0, 500))
    history.add(up(10, 5))
    history.add(down(20))
    for minute in range(1, 70):
        history.add(down(20 + minute * 60))
    assert history.down_since == T0 + 20  # over an hour ago, still when it started
    assert all(s.at >= T0 + 20 + 69 * 60 - 3600 for s in history.samples)
    assert history.latencies() == [] and history.p95_ms() is None
    history.add(up(20 + 70 * 60, 7))
    assert history.latencies() == [7] and history.p95_ms() == 7


def test_history_is_bounded_in_samples_too() -> None:
    history = History(window_s=10**9, max_samples=100)
    for i in range(250):
        history.add(up(i, i))
    assert len(history.samples) == 100
    assert history.latencies()[0] == 150


def test_the_window_holds_every_check_at_the_interval_it_is_sized_for() -> None:
    history = History(window_s=3600, interval_s=0.1)  # an hour of checks every 0.1 s: 36,000
    for i in range(36_000):
        history.add(up(i * 0.1, 900 if i == 0 else 5))
    for i in range(2_000):  # "Check now" rounds between the scheduled ones
        history.add(up(3000 + i * 0.1, 5))
    assert len(history.latencies()) == 38_000
    assert history.latencies()[0] == 900  # the hour-old check still counts
    history.add(up(3600.05, 5))  # now it is more than an hour old
    assert history.latencies()[0] == 5


def test_the_checker_keeps_a_whole_hour_of_checks_every_half_second(monkeypatch) -> None:
    clock = types.SimpleNamespace(now=T0)
    fake_time = types.SimpleNamespace(time=lambda: clock.now, monotonic=time.monotonic)
    monkeypatch.setattr(checker_module, "time", fake_time)
    monkeypatch.setattr(
        checker_module,
        "run_check",
        lambda target, timeout_s: CheckResult(True, 900.0 if clock.now == T0 else 5.0, "v1"),
    )
    settings = in_memory_settings(sources=(), health={"interval_s": 0.5, "history_minutes": 60})
    checker = HealthChecker(settings, targets=[Target("api", "rest", "h:1")])
    for i in range(7_200):  # an hour of rounds, 0.5 s apart (never started: no thread)
        clock.now = T0 + i * 0.5
        checker.check_now()
    [api] = checker.snapshot()
    assert len(api.latencies) == 7_200 and api.latencies[0] == 900
    clock.now = T0 + 3600.5
    [api] = checker.check_now()
    assert len(api.latencies) == 7_200 and api.latencies[0] == 5


def test_health_config_defaults_and_refusals() -> None:
    assert HealthConfig.of(None) == HealthConfig(15.0, 3.0, 60.0)
    assert HealthConfig.of({"interval_s": 0.5, "history_minutes": 5}).window_s == 300
    for bad in ({"interval_s": 0}, {"timeout_s": "3"}, {"history_minutes": True}):
        with pytest.raises(ConfigError, match=r"\[health\]"):
            HealthConfig.of(bad)
    # Every check of the window is kept: an hour every 0.1 s is fine, a day of them too many.
    assert HealthConfig.of({"interval_s": 0.1}).window_s == 3600
    with pytest.raises(ConfigError, match=r"keeps 864,000 checks per back end; at most 100,000"):
        HealthConfig.of({"interval_s": 0.1, "history_minutes": 1440})


def test_where_says_host_and_port_or_a_file_name_and_nothing_secret() -> None:
    api = {"base_url": "https://bot:S3cret-pw@api.example.com:8443/v2"}
    sheet_tables = {
        "spend": {"file": "/home/someone/private/spend.csv"},
        "budget": {"spreadsheet_key": "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"},
    }
    sources = (
        SourceConfig(
            "pg", "sql", secrets={"url": "postgresql://app:S3cret-pw@db.internal:5432/crm"}
        ),
        SourceConfig("my", "sql", options={"url": "mysql+pymysql://shop:S3cret-pw@10.0.0.5/shop"}),
        SourceConfig("lite", "sql", options={"url": "sqlite:////srv/private/data/crm.sqlite"}),
        SourceConfig("mg", "mongo", secrets={"uri": "mongodb://u:S3cret-pw@m1:27017,m2:27017/"}),
        SourceConfig("api", "rest", options=api, secrets={"token": "tok-S3cret"}),
        SourceConfig("sh", "sheet", options={"tables": sheet_tables}),
    )
    settings = in_memory_settings(
        sources=sources,
        gateway={"base_url": "https://api.tosspayments.com", "secret_key": "test_sk_S3cret"},
    )
    where = {t.name: t.where for t in targets_for(settings)}
    assert where == {
        "pg": "db.internal:5432/crm",
        "my": "10.0.0.5/shop",
        "lite": "crm.sqlite",
        "mg": "m1:27017,m2:27017",
        "api": "api.example.com:8443",
        "sh.spend": "spend.csv",
        "sh.budget": "Google Sheet 1AbCdEfG…",
        "gateway": "api.tosspayments.com",
    }
    assert not [t for t in targets_for(settings) if "S3cret" in repr(t)]


def test_server_versions_as_people_say_them() -> None:
    assert (
        server_version("PostgreSQL 16.4 (Debian 16.4-1.pgdg120+2) on x86_64-pc-linux-gnu, ...")
        == "PostgreSQL 16.4"
    )
    assert server_version("10.11.6-MariaDB-0+deb12u1") == "MariaDB 10.11.6"
    assert server_version("8.0.36") == "MySQL 8.0.36"


def test_an_error_is_one_line_without_secrets_or_credentials_in_urls() -> None:
    cfg = SourceConfig("api", "rest", secrets={"token": "tok-S3cret-123"})
    target = Target("api", "rest", "h:1", cfg)
    text = "failed for https://bot:pw-1@api.example.com/x\nwith header Bearer tok-S3cret-123"
    line = scrub(target, text)
    assert line == "failed for https://***@api.example.com/x with header Bearer ***"
    assert len(scrub(target, "x" * 500)) == 200
