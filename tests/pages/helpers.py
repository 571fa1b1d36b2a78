"""Helpers shared by the page tests (AppTest) and by the other suites that drive the same
pages or touch the same demo rows: one copy of each, not one per test file."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest, local_script_runner

from lib.access.auth import _SESSION
from lib.access.principal import Principal
from lib.actions import context
from lib.config.settings import ROOT
from lib.records.schema import now_text, payments, refunds
from lib.ui.navigation import PRINCIPAL_KEY
from tests.stack import write_config

HOME = str(ROOT / "Home.py")


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


# The background threads Home.py starts (lib.jobs.worker, lib.health.checker).
BACKGROUND = ("backoffice-jobs", "health-checker")
BACKGROUND_WAIT_S = 5.0  # for them to end after the test: a round in progress at most
_SOURCE_DOWN_ROUTE = re.compile(r'(?m)^"source\.down" = .*\n')


@contextmanager
def apps_for(
    config: Path, monkeypatch, *, source_down: bool = False
) -> Iterator[Callable[[], AppTest]]:
    """A factory of fresh AppTests of Home.py under `config`. Settings, engine and action
    context are per process: dropped before, and after so the next test starts clean.

    Home.py starts the process's jobs thread; with "source.down" routed it would start a
    health checker too, whose rounds probe the test's (closed) back ends and write
    source.down messages. So the route is taken out of `config` (the file itself, which the
    pages read and may write) unless `source_down`. After the test, the jobs thread and the
    checker (the health badges start one too) started meanwhile are waited for
    (BACKGROUND_WAIT_S at most), so none of their rounds writes into the next test's files."""
    if not source_down:
        text = config.read_text(encoding="utf-8")
        config.write_text(_SOURCE_DOWN_ROUTE.sub("", text), encoding="utf-8")
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(config))
    st.cache_resource.clear()
    context.reset()
    before = set(_background())
    try:
        yield lambda: AppTest.from_file(HOME, default_timeout=60)
    finally:
        st.cache_resource.clear()  # stops them, without waiting for a round in progress
        context.reset()
        left = _wait_for_end([t for t in _background() if t not in before])
    # Not said when the block raised: its own failure is the one to read.
    assert not left, f"still running {BACKGROUND_WAIT_S:g} s after the test: {left}"


def _background() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in BACKGROUND and t.is_alive()]


def _wait_for_end(threads: list[threading.Thread]) -> list[str]:
    """The names of `threads` still running after BACKGROUND_WAIT_S (all of them together)."""
    deadline = time.monotonic() + BACKGROUND_WAIT_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sorted(t.name for t in threads if t.is_alive())


def config_without(tmp_path: Path, demo_dir: Path, source: str) -> Path:
    """This test's config with the SQLite database of `source` at a path that does not exist."""
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8").replace(
        f"sqlite:///{demo_dir}/{source}.sqlite", f"sqlite:///{tmp_path}/missing/{source}.sqlite"
    )
    config.write_text(text, encoding="utf-8")
    return config


def open_page(
    make: Callable[[], AppTest], page: str, user: str, password: str | None = None, /, **params: str
) -> AppTest:
    """Signs `user` in (password `<user>-demo` unless given) with `params` in the URL, then
    opens `page` (its file path) and asserts it ran without an exception. Positional-only, so
    a URL parameter may be called `page` or `user`."""
    at = make()
    for name, value in params.items():
        at.query_params[name] = value
    sign_in(at, user, password or f"{user}-demo")
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


@contextmanager
def fragment_reruns(at: AppTest, key: str) -> Iterator[AppTest]:
    """Within, each `at.run()` (a click too) reruns only the fragment `key`, as a click inside
    it or its run_every tick does in a browser: Home.py and its sign-in check do not run.
    (AppTest alone always reruns the whole app.) Every AppTest's runs, so make no other."""
    ids = at._fragment_storage.resolve_target(key)
    real = local_script_runner.RerunData
    local_script_runner.RerunData = lambda **kw: real(**kw, fragment_id_queue=list(ids))
    try:
        yield at
    finally:
        local_script_runner.RerunData = real


def log_out_elsewhere(make: Callable[[], AppTest], at: AppTest) -> None:
    """Another tab of `at`'s browser (the same session cookie) logs out: `at`'s session has
    ended, and `at` is not told until it runs again."""
    other = make()
    other.session_state[_SESSION] = at.session_state[_SESSION]
    other.run()
    other.button(key="sign_out").click().run()
    assert [t.label for t in other.text_input] == ["Username", "Password"]


def run_page_file(principal: Principal, page: str) -> AppTest:
    """The page file run straight for `principal`, as a URL typed by hand does."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.session_state[PRINCIPAL_KEY] = principal
    return at.run()


def table(at: AppTest) -> pd.DataFrame:
    assert at.dataframe, [i.value for i in at.info] + [e.value for e in at.error]
    return at.dataframe[0].value


def total_of(at: AppTest) -> int:
    """The pager's "Rows a–b of N" figure."""
    caption = next(c.value for c in at.caption if c.value.startswith("Rows "))
    return int(caption.split(" of ")[1].split(" ")[0].replace(",", ""))


def customer(demo_dir: Path, customer_id: int) -> dict:
    """The customer's row in the demo crm, as stored (unmasked)."""
    con = sqlite3.connect(demo_dir / "crm.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone())
    finally:
        con.close()


def insert_unknown_refund(conn: sa.Connection, order_id: int, amount: int, key: str) -> None:
    """A refund recorded as unknown: its request never got an answer from the gateway."""
    payment_key = conn.execute(
        sa.select(payments.c.payment_key).where(payments.c.order_id == order_id)
    ).scalar_one()
    conn.execute(
        sa.insert(refunds).values(
            order_id=order_id,
            payment_key=payment_key,
            amount=amount,
            reason="gateway timed out",
            idempotency_key=key,
            status="unknown",
            requested_by="operator",
            requested_at=now_text(),
        )
    )


def rows_of(data: bytes) -> list[list[str]]:
    """A CSV download's rows (its byte-order mark dropped), header first."""
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
