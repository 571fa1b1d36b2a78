"""AppTest fixtures: the real Home.py against this test's own copy of the demo data
(`demo_dir`, tests/conftest.py), and the demo back ends over that same copy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.helpers import apps_for
from tests.stack import demo_services_over, write_config

App = Callable[[], AppTest]


@pytest.fixture
def demo_services(demo_dir: Path) -> Iterator[dict[str, str]]:
    """The demo back ends over this test's demo data: a refund changes this test's gateway
    ledger only. Per test (about 0.3 s to start and stop the three)."""
    with demo_services_over(demo_dir) as urls:
        yield urls


@pytest.fixture
def app(tmp_path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """A factory of fresh AppTests of Home.py, configured for this test's own demo data."""
    with apps_for(write_config(tmp_path, demo_dir), monkeypatch) as make:
        yield make
