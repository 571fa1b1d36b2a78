"""Test support: private copies of the demo data, the demo back ends over one, and a copy of
the shipped demo config pointed at a test's own data and ports."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from lib.config.settings import DEFAULT_CONFIG
from lib.demo.services.serve import DEFAULT_PORTS, SMTP_PORT, ServiceThread, create_service

CLOSED = "127.0.0.1:9"  # nothing listens: a connection there is refused at once


def copy_demo(seeded: Path, dest: Path) -> Path:
    """A private copy of a seeded demo directory at `dest` (which must not exist yet).

    The files are a few MB: a copy takes milliseconds where seeding takes seconds, so each
    test that may change the data gets a copy of the session's one seeding.
    """
    shutil.copytree(seeded, dest)
    return dest


@contextmanager
def demo_services_over(demo_dir: Path) -> Iterator[dict[str, str]]:
    """The customer API, order API and gateway sandbox over `demo_dir`, each on a free
    loopback port, while the block runs: name -> base URL."""
    threads: dict[str, ServiceThread] = {}
    try:
        for name in DEFAULT_PORTS:
            threads[name] = ServiceThread(create_service(name, demo_dir)).start()
        yield {name: t.url for name, t in threads.items()}
    finally:
        for t in threads.values():
            t.server.should_exit = True  # all wind down together, not one after another
        for t in threads.values():
            t.stop()


def write_config(dest: Path, demo_dir: Path, service_urls: dict[str, str] | None = None) -> Path:
    """The shipped config/backoffice.toml with its demo dir and service URLs swapped.

    Services left out of `service_urls` point at a closed port, so their sources fail the
    way an unreachable back end does. So do the webhook channel and [notifications.smtp]
    unless `service_urls` has "sinks" (a test's webhook sink) or "smtp"
    ("smtp://127.0.0.1:PORT", a test's SMTP sink): a page test runs Home.py, whose jobs
    thread delivers, and must never reach the demo sinks a developer may have running.
    """
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace('"var/demo', f'"{demo_dir}')
    text = text.replace("sqlite:///var/demo", f"sqlite:///{demo_dir}")
    urls = service_urls or {}
    for name, port in DEFAULT_PORTS.items():
        text = text.replace(f"http://127.0.0.1:{port}", urls.get(name, f"http://{CLOSED}"))
    smtp_port = urlsplit(urls.get("smtp", f"smtp://{CLOSED}")).port
    text, n = re.subn(rf"(?m)^port = {SMTP_PORT}\b", f"port = {smtp_port}", text)
    if n != 1:
        raise ValueError(f"the config has no single [notifications.smtp] port = {SMTP_PORT}")
    path = dest / "backoffice.toml"
    path.write_text(text, encoding="utf-8")
    return path


def demo_rows(demo_dir: Path, db: str, sql: str, *params: object) -> list[tuple]:
    """Rows straight from a demo SQLite file (`crm` or `shop`), as a test checks them."""
    con = sqlite3.connect(demo_dir / f"{db}.sqlite")
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def shop(demo_dir: Path, sql: str, *params: object) -> list[tuple]:
    return demo_rows(demo_dir, "shop", sql, *params)


def crm(demo_dir: Path, sql: str, *params: object) -> list[tuple]:
    return demo_rows(demo_dir, "crm", sql, *params)


def health_every(config_text: str, seconds: float) -> str:
    """The config text with background health checks every `seconds` (the shipped file's
    [health] interval_s is 15): a stopped back end shows down within a test's patience."""
    text, n = re.subn(r"(?m)^interval_s = .*$", f"interval_s = {seconds:g}", config_text)
    if n != 1:
        raise ValueError("the config has no single [health] interval_s line to change")
    return text
