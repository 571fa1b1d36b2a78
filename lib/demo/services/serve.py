"""Run a demo service: `python -m lib.demo.services.serve {customer_api|order_api|gateway|sinks}
--dir var/demo --port N`; and, for tests, run one in a thread of the current process.
`sinks` also serves the SMTP sink (--smtp-port, default 8625) in the same process.

Secrets come from the environment: BACKOFFICE_DEMO_API_TOKEN (the customer and order APIs'
bearer token, default "demo-token") and BACKOFFICE_DEMO_GATEWAY_SECRET (the gateway's secret
key, default "test_sk_demo"). The defaults unlock these local sandboxes and nothing else.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests
import uvicorn
from fastapi import FastAPI

from lib.demo.services import customer_api, gateway, order_api, sinks

HOST = "127.0.0.1"
# sinks: the webhook sink and the mail listing (HTTP); its SMTP side listens on SMTP_PORT.
DEFAULT_PORTS = {"customer_api": 8601, "order_api": 8602, "gateway": 8603, "sinks": 8605}
SMTP_PORT = 8625
TOKEN_ENV, DEFAULT_TOKEN = "BACKOFFICE_DEMO_API_TOKEN", "demo-token"
SECRET_ENV, DEFAULT_SECRET = "BACKOFFICE_DEMO_GATEWAY_SECRET", "test_sk_demo"
STARTUP_TIMEOUT = 15.0

_FACTORIES: dict[str, Callable[[Path, str], FastAPI]] = {
    "customer_api": customer_api.create_app,
    "order_api": order_api.create_app,
    "gateway": gateway.create_app,
    "sinks": sinks.create_app,
}


def create_service(name: str, demo_dir: Path, env: Mapping[str, str] | None = None) -> FastAPI:
    """The app called `name` over `demo_dir`, with its token or secret from `env` (or defaults)."""
    env = os.environ if env is None else env
    if name not in _FACTORIES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(_FACTORIES)}")
    credential = (
        env.get(SECRET_ENV) or DEFAULT_SECRET
        if name == "gateway"
        else env.get(TOKEN_ENV) or DEFAULT_TOKEN
    )
    return _FACTORIES[name](Path(demo_dir), credential)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (another process may take it before you do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ServiceThread:
    """One app served by uvicorn in a daemon thread; `with ServiceThread(app) as svc: svc.url`."""

    def __init__(self, app: FastAPI, port: int = 0) -> None:
        # Bind now and hand uvicorn the socket: with port 0 nothing else can grab the port
        # between choosing it and listening on it. IPPROTO_TCP named, not 0: asyncio sets
        # TCP_NODELAY only on sockets that say TCP, and without it each answer on a kept-alive
        # connection waits ~40 ms (Nagle against the client's delayed ACK).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, port))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(
            app,
            host=HOST,
            port=self.port,
            log_level="warning",
            lifespan="off",
            # A request sleeping in an injected fault must not hold up stop() for long.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self._sock]},
            name=f"demo-service-{self.port}",
            daemon=True,
        )

    def start(self) -> ServiceThread:
        """Start serving; returns once GET /health answers 200 (raises if it never does)."""
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline and self._thread.is_alive():
            if self.server.started:
                try:
                    if requests.get(f"{self.url}/health", timeout=1).ok:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"demo service on {self.url} did not start")

    def stop(self) -> None:
        """Stop serving and wait (a few seconds at most) for the thread to end."""
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> ServiceThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Sinks:
    """The sinks in threads of this process: `.url` (webhooks, GET /mail) and `.smtp_port`."""

    def __init__(self, http: ServiceThread, smtp: sinks.SmtpSink) -> None:
        self.http, self.smtp = http, smtp
        self.url, self.smtp_port = http.url, smtp.port


@contextmanager
def sinks_over(demo_dir: Path, port: int = 0, smtp_port: int | None = None) -> Iterator[Sinks]:
    """The webhook and SMTP sinks over `demo_dir` while the block runs (free ports by default)."""
    smtp = sinks.SmtpSink(demo_dir, smtp_port or free_port(), HOST).start()
    try:
        with ServiceThread(sinks.create_app(demo_dir), port) as http:
            yield Sinks(http, smtp)
    finally:
        smtp.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one demo back end on 127.0.0.1.")
    parser.add_argument("service", choices=sorted(_FACTORIES))
    parser.add_argument("--dir", type=Path, default=Path("var/demo"), help="demo data directory")
    parser.add_argument("--port", type=int, help="default: 8601 / 8602 / 8603 / 8605")
    parser.add_argument("--smtp-port", type=int, default=SMTP_PORT, help="sinks only")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        app = create_service(args.service, args.dir)
    except FileNotFoundError as exc:
        parser.exit(1, f"{args.service}: {exc}\n")
    port = args.port or DEFAULT_PORTS[args.service]
    smtp = None
    if args.service == "sinks":
        smtp = sinks.SmtpSink(args.dir, args.smtp_port, HOST).start()
    try:
        uvicorn.run(app, host=HOST, port=port, log_level=args.log_level)
    finally:
        if smtp is not None:
            smtp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
