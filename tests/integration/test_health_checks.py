"""Health checks that read files or the shipped configuration: a sheet file, a SQLite
database (never created by its check), and the [health] section as load_settings reads it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lib.config.settings import load_settings
from lib.errors import ConfigError
from lib.health.checks import run_check
from lib.health.config import HealthConfig
from lib.health.targets import Target, targets_for
from lib.reading.sources.base import SourceConfig

pytestmark = pytest.mark.integration


def test_the_shipped_config_declares_health_and_every_back_end_is_a_target() -> None:
    settings = load_settings()
    assert HealthConfig.of(settings.health).interval_s == 15
    names = [t.name for t in targets_for(settings)]
    assert names[:5] == ["crm", "shop", "support", "customer_api", "order_api"]
    assert "sheets.marketing_spend" in names and "sheets.store_sales" in names
    assert names[-1] == "gateway"


# --- checks that need no server: files ---------------------------------------------------------


def sheet_target(tmp_path: Path, **spec: object) -> Target:
    cfg = SourceConfig("sheets", "sheet", options={"base_dir": str(tmp_path)})
    return Target("sheets.t", "sheet", "f", cfg, spec)


def test_a_sheet_file_is_up_when_readable_and_down_saying_why(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_text("month,spend\n2026-01,10\n", encoding="utf-8")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    assert run_check(sheet_target(tmp_path, file="spend.csv"), 1).ok
    missing = run_check(sheet_target(tmp_path, file="/srv/private/gone.csv"), 1)
    assert (missing.ok, missing.error) == (False, "file not found: gone.csv")
    broken = run_check(sheet_target(tmp_path, file="broken.xlsx"), 1)
    assert (broken.ok, broken.error) == (False, "not a readable XLSX workbook")
    neither = run_check(sheet_target(tmp_path, file="spend.csv.bak"), 1)
    assert neither.ok is False


def test_a_sqlite_database_says_its_version_and_a_missing_one_is_not_created(
    tmp_path: Path,
) -> None:
    sqlite3.connect(tmp_path / "crm.sqlite").close()
    up = run_check(Target("crm", "sql", "crm.sqlite", SourceConfig("crm", "sql", options={
        "url": f"sqlite:///{tmp_path}/crm.sqlite"})), 1)  # fmt: skip
    assert up.ok and up.version and up.version.startswith("SQLite 3.")
    gone = tmp_path / "gone.sqlite"
    down = run_check(Target("crm", "sql", "gone.sqlite", SourceConfig("crm", "sql", options={
        "url": f"sqlite:///{gone}"})), 1)  # fmt: skip
    assert (down.ok, down.error) == (False, "database file not found: gone.sqlite")
    assert not gone.exists()


def test_a_wrong_health_value_stops_loading_the_config(tmp_path: Path) -> None:
    text = load_settings().config_path.read_text(encoding="utf-8")
    bad = tmp_path / "backoffice.toml"
    bad.write_text(text.replace("interval_s = 15", "interval_s = -1"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[health\] interval_s"):
        load_settings(bad)
