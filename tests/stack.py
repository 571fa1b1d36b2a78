"""Test support: a copy of the shipped demo config pointed at a test's own data and ports."""

from __future__ import annotations

from pathlib import Path

from lib.demo.services.serve import DEFAULT_PORTS
from lib.settings import DEFAULT_CONFIG


def write_config(dest: Path, demo_dir: Path, service_urls: dict[str, str] | None = None) -> Path:
    """The shipped config/backoffice.toml with its demo dir and service URLs swapped.

    Services left out of `service_urls` point at a closed port, so their sources fail the
    way an unreachable back end does.
    """
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace('"var/demo', f'"{demo_dir}')
    text = text.replace("sqlite:///var/demo", f"sqlite:///{demo_dir}")
    urls = service_urls or {}
    for name, port in DEFAULT_PORTS.items():
        text = text.replace(f"http://127.0.0.1:{port}", urls.get(name, "http://127.0.0.1:9"))
    path = dest / "backoffice.toml"
    path.write_text(text, encoding="utf-8")
    return path
