"""The page tests' app factory (tests/pages/helpers.apps_for) leaves no background thread
behind, and routes source.down only for a test that asks for it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lib.config.settings import load_settings
from tests.pages.helpers import BACKGROUND, apps_for, sign_in
from tests.stack import write_config

pytestmark = pytest.mark.pages


def _running() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in BACKGROUND and t.is_alive()]


@pytest.mark.parametrize("source_down", [False, True])
def test_the_apps_threads_end_with_the_test_and_source_down_is_routed_on_request(
    tmp_path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch, source_down: bool
):
    config = write_config(tmp_path, demo_dir)
    assert load_settings(config).notify.channels_for("source.down")  # the shipped routes
    with apps_for(config, monkeypatch, source_down=source_down) as make:
        at = sign_in(make(), "operator", "operator-demo")
        assert not at.exception
        started = _running()
        assert sorted({t.name for t in started}) == sorted(BACKGROUND)  # jobs; badges' checker
        routed = load_settings(config).notify.channels_for("source.down")
        assert bool(routed) == source_down
    assert not [t for t in started if t.is_alive()]
