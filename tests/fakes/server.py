"""Serve an ASGI app with uvicorn on a free local port, in a daemon thread, for one test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn

STARTUP_TIMEOUT = 10.0


def start_app_in_thread(app: object, host: str = "127.0.0.1") -> tuple[str, Callable[[], None]]:
    """Start `app`; return its base URL and a function that stops it and waits until it has."""
    # Bind first and hand uvicorn the socket: asking for a free port and binding later races
    # with other test runs on the same machine.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"test server on {host}:{port} did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()

    return f"http://{host}:{port}", stop
