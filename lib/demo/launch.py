"""`make run`: seed the demo, start the demo back ends and the app; Ctrl-C stops them all."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from lib.config.settings import ROOT, load_settings
from lib.demo.scale_servers import configured_sizes
from lib.demo.seed import seed
from lib.demo.services.serve import DEFAULT_PORTS as SERVICES
from lib.demo.services.serve import SMTP_PORT

APP_PORT = 8501
# The gateway sandbox seeds its ledger from the shop's payments: seconds at 1.5M orders.
SERVICE_START_S = 120
LOGINS = ("admin", "operator", "support", "analyst", "auditor", "seller1", "seller2")


def streamlit_command(port: int) -> list[str]:
    """`streamlit run Home.py` on loopback at `port`, as make run and the browser tests use it."""
    return [
        sys.executable, "-m", "streamlit", "run", "Home.py",
        "--server.headless", "true", "--server.address", "127.0.0.1",
        "--server.port", str(port), "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def wait_for(url: str, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[3] if len(proc.args) > 3 else proc.args} exited")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def start(cmd: list[str]) -> subprocess.Popen:
    # Own process group, so one signal stops a child and whatever it spawned.
    return subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)


def stop_all(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it (a config may put it elsewhere)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=APP_PORT)
    args = parser.parse_args()
    settings = load_settings()
    demo_dir: Path = settings.demo_dir
    # A config written by `seed --servers` names its demo's sizes: keep them, not the default.
    counts = seed(demo_dir, **configured_sizes(settings.app))
    print(f"Demo data in {_shown(demo_dir)}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))

    procs: list[subprocess.Popen] = []
    # Ctrl-C, a closed terminal or a supervisor's SIGTERM all stop everything the same way.
    # SIGINT is set explicitly: a shell that starts us in the background leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        for name, port in SERVICES.items():
            cmd = [
                sys.executable,
                "-m",
                "lib.demo.services.serve",
                name,
                "--dir",
                str(demo_dir),
                "--port",
                str(port),
            ]
            procs.append(start(cmd))
        for (name, port), proc in zip(SERVICES.items(), procs, strict=True):
            wait_for(f"http://127.0.0.1:{port}/health", SERVICE_START_S, proc)
            print(f"  {name:<13} http://127.0.0.1:{port}")
        app = start(streamlit_command(args.port))
        procs.append(app)
        wait_for(f"http://127.0.0.1:{args.port}/_stcore/health", 60, app)
        print(f"\nBackoffice is running at http://127.0.0.1:{args.port}")
        print("Demo logins (password = username + '-demo', e.g. admin / admin-demo):")
        print("  " + ", ".join(LOGINS))
        sinks = f"http://127.0.0.1:{SERVICES['sinks']}"
        print(f"What the app sends arrives in the demo sinks (kept in {_shown(demo_dir)}):")
        print(f"  e-mail   SMTP 127.0.0.1:{SMTP_PORT}, inbox {sinks}/mail")
        print(f"  webhooks {sinks}/hooks/<name>, received {sinks}/messages")
        print("Press Ctrl-C to stop.", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("A process stopped; shutting down the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0
    except RuntimeError as exc:
        print(f"make run failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all(procs)


if __name__ == "__main__":
    raise SystemExit(main())
