"""The app's configuration for a bench run over its own demo data and back ends.

    with demo_app("bench-orders-") as counts:   # seeded, back ends up, BACKOFFICE_CONFIG set
        ...                                       # drive Home.py through AppTest

`demo_config` alone writes the config file (bench.workflows starts its APIs as processes).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import BenchFailed

CLOSED = "127.0.0.1:9"  # nothing listens: a connection there is refused at once


def demo_config(dest: Path, demo_dir: Path, urls: dict[str, str]) -> Path:
    """The shipped config with its demo files and back-end URLs pointed at this run's.

    A back end left out of `urls` points at a closed port; so do the webhook channel (unless
    `urls` has "sinks") and [notifications.smtp]: the pages' jobs thread delivers, and a
    bench must not post to or mail the demo sinks a developer may have running. The API
    token is the one the demo services take from this environment, as under `make run`.
    """
    from lib.config.settings import DEFAULT_CONFIG
    from lib.demo.services.serve import DEFAULT_PORTS, DEFAULT_TOKEN, SMTP_PORT, TOKEN_ENV

    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace('"var/demo', f'"{demo_dir}')
    text = text.replace("sqlite:///var/demo", f"sqlite:///{demo_dir}")
    token = os.environ.get(TOKEN_ENV) or DEFAULT_TOKEN
    text = text.replace(f'"{DEFAULT_TOKEN}"', f'"{token}"')
    for name, port in DEFAULT_PORTS.items():
        text = text.replace(f"http://127.0.0.1:{port}", urls.get(name, f"http://{CLOSED}"))
    smtp_line = f"\nport = {SMTP_PORT}\n"
    if text.count(smtp_line) != 1:
        raise BenchFailed(f"the config has no single [notifications.smtp] port = {SMTP_PORT}")
    text = text.replace(smtp_line, f"\nport = {CLOSED.rsplit(':', 1)[1]}\n")
    path = dest / "backoffice.toml"
    path.write_text(text, encoding="utf-8")
    return path


@contextmanager
def demo_app(prefix: str) -> Iterator[dict[str, int]]:
    """A freshly seeded demo in a temporary folder, its back ends in threads on free ports,
    and BACKOFFICE_CONFIG pointing the app at them while the block runs: yields the seed's
    counts. The process's cached engine and settings are dropped on the way in and out."""
    from lib.demo.seed import seed
    from lib.demo.services.serve import DEFAULT_PORTS, ServiceThread, create_service

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        demo_dir = Path(tmp) / "demo"
        counts = seed(demo_dir)
        services = [ServiceThread(create_service(n, demo_dir)).start() for n in DEFAULT_PORTS]
        previous = os.environ.get("BACKOFFICE_CONFIG")
        try:
            urls = {n: s.url for n, s in zip(DEFAULT_PORTS, services, strict=True)}
            os.environ["BACKOFFICE_CONFIG"] = str(demo_config(Path(tmp), demo_dir, urls))
            drop_caches()
            yield counts
        finally:
            for service in services:
                service.stop()
            drop_caches()
            if previous is None:
                os.environ.pop("BACKOFFICE_CONFIG", None)
            else:
                os.environ["BACKOFFICE_CONFIG"] = previous


def drop_caches() -> None:
    """Drop the process's engine, settings and cached query results (the next page run
    starts cold: it attaches the sources again)."""
    import streamlit as st

    from lib.actions import context

    st.cache_resource.clear()
    st.cache_data.clear()
    context.reset()
