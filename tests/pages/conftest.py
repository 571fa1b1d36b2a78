"""AppTest fixtures: the real Home.py against this test's own copy of the demo data
(`demo_dir`, tests/conftest.py), and the demo back ends over that same copy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.elements.widgets import button
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


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """file name -> the bytes each download button of the last runs offered."""
    seen: dict[str, bytes] = {}
    real = button.marshall_file

    def capture(coordinates, data, proto, mimetype, file_name=None, **kwargs):
        # A deferred download's bytes are made when it is clicked: click it here.
        seen[str(file_name)] = data() if callable(data) else data
        return real(coordinates, data, proto, mimetype, file_name, **kwargs)

    monkeypatch.setattr(button, "marshall_file", capture)
    return seen
