"""AppTest fixtures: the real Home.py against this test's own copy of the demo data
(`demo_dir`, tests/conftest.py), and the demo back ends over that same copy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.actions import context
from tests.pages.helpers import HOME
from tests.stack import demo_services_over, write_config


@pytest.fixture
def demo_services(demo_dir: Path) -> Iterator[dict[str, str]]:
    """The demo back ends over this test's demo data: a refund changes this test's gateway
    ledger only. Per test (about 0.3 s to start and stop the three)."""
    with demo_services_over(demo_dir) as urls:
        yield urls


@pytest.fixture
def app(tmp_path: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AppTest]:
    """A factory of fresh AppTests of Home.py, configured for this test's own demo data."""
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(write_config(tmp_path, demo_dir)))
    # Settings, engine and action context are per process: drop the last test's.
    st.cache_resource.clear()
    context.reset()
    yield lambda: AppTest.from_file(HOME, default_timeout=60)
    st.cache_resource.clear()
    context.reset()
