"""App processes for the replica tests: a config pointing the app at PostgreSQL, and
`streamlit run Home.py` on a port of its own (as make run and the browser tests start it)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from lib.config.settings import ROOT
from lib.demo.launch import streamlit_command
from tests.stack import health_every, write_config

START_WITHIN_S = 60.0


def replica_config(
    dest: Path,
    demo_dir: Path,
    services: dict[str, str],
    urls: dict[str, str],
    *,
    poll_s: float,
) -> Path:
    """The demo config with the crm, the shop and the audit log in the databases at `urls`
    ("crm", "shop", "audit"), the jobs' rounds every `poll_s` and health checks every second
    (so a test sees several rounds of the once-only jobs in a few seconds)."""
    path = write_config(dest, demo_dir, services)
    text = path.read_text(encoding="utf-8")
    for name in ("crm", "shop", "audit"):
        old = f'"sqlite:///{demo_dir}/{name}.sqlite"'
        if text.count(old) != 1:
            raise ValueError(f"the config has no single {old}")
        text = text.replace(old, f'"{urls[name]}"')
    text = _one(text, r"^poll_s = .*$", f"poll_s = {poll_s:g}")
    text = _one(text, r"^tick_s = .*$", "tick_s = 1")
    path.write_text(health_every(text, 1), encoding="utf-8")
    return path


def _one(text: str, pattern: str, line: str) -> str:
    text, n = re.subn(f"(?m){pattern}", line, text)
    if n != 1:
        raise ValueError(f"the config has no single line matching {pattern}")
    return text


@dataclass
class App:
    """One `streamlit run` process; its stderr goes to a file (read on failure)."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            return False
        try:
            return requests.get(f"{self.url}/_stcore/health", timeout=2).ok
        except requests.RequestException:
            return False

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """As a crash: no clean shutdown, nothing released."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start_app(config: Path, port: int) -> App:
    """`streamlit run Home.py` on `port` under `config`, once it answers its health check."""
    log = Path(tempfile.mkstemp(prefix=f"bo-replica-{port}-", suffix=".log")[1])
    env = {**os.environ, "BACKOFFICE_CONFIG": str(config)}
    with open(log, "wb") as err:
        # No file watcher: a replica serves the code it started with (a source file edited
        # meanwhile must not unload modules under running sessions).
        command = [*streamlit_command(port), "--server.fileWatcherType", "none"]
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    app = App(port, proc, log)
    deadline = time.monotonic() + START_WITHIN_S
    while not app.alive():
        if proc.poll() is not None or time.monotonic() > deadline:
            app.stop()
            raise RuntimeError(f"streamlit on :{port} did not start:\n{app.tail()}")
        time.sleep(0.2)
    return app
