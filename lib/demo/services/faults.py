"""Fault injection for the demo services, so tests can make a back end slow, failing or both.

`POST /_faults {"mode": ..., "delay": secs, "count": n}` arms a fault for the next n requests
(never /health or /_faults themselves; `"count": null` until disarmed); `{"mode": "none"}`
disarms it; `GET /_faults` shows it. With `"append": true` the fault is queued after the ones
armed, so a test can script a sequence (the first request applied then 500, the retry refused, ...).

Two options aim a fault (both keep a plain fault as it was):
- `"match": "customer_id=17"`: the fault applies only to requests whose "path?query" (decoded)
  contains this text; others pass untouched and do not use it up. A match ending in a letter or
  digit must end there in the request too, so "customer_id=17" or "/customers/17" is not
  customer 170 (a match ending in "=", "/" etc. is a plain substring: "customer_id=" is any).
- `"every": n`: the fault applies to every n-th matching request only (the n-th, 2n-th, ...).
A request goes to the armed faults in order: each one it matches counts it, and the first one
due applies (the later ones neither count nor see it). So "customer 17 always 500" armed
before "every 20th request 500" (with append) fail 17 every time and one other call in 20.

Modes:
- `slow`: wait `delay` seconds, then handle the request. The body is read first, so the work
  still happens after a client that gave up has gone (as on a real server).
- `error500`: answer 500 {"code": "PROVIDER_ERROR"} without doing the work.
- `applied_then_500`: do the work, then answer 500 instead of the real answer.
- `applied_then_slow`: do the work, then wait `delay` seconds before answering: a client that
  times out has had its request applied.
- `refuse`: answer `status` (a 4xx or 5xx, default 400) with {"code": `code`} without doing
  the work, as a gateway that refuses a request (or a retry of one) does, or fails it with a
  documented 5xx code (Toss's FAILED_* codes, COMMON_ERROR).
- `processing_slow` (only where the app opts in, e.g. the gateway): the handler itself waits
  `delay` seconds mid-way (the gateway: with the idempotency key held as in flight).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from urllib.parse import unquote_plus

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASIC_MODES = ("none", "slow", "error500", "applied_then_500", "applied_then_slow", "refuse")
EXEMPT_PATHS = frozenset({"/health", "/_faults"})
# Scope["state"] key where `processing_slow` leaves its delay for the handler.
PROCESSING_DELAY = "fault_processing_delay"


@dataclass(frozen=True)
class Fault:
    mode: str
    delay: float
    remaining: int | None  # faults still to inject; None: until disarmed
    status: int = 400  # `refuse` only
    code: str = "INVALID_REQUEST"  # `refuse` only
    match: str = ""  # "": every request
    every: int = 1
    seen: int = 0  # matching requests counted so far (for `every`)

    def matches(self, target: str) -> bool:
        """True if the request's "path?query" contains `match` (ending on a word boundary)."""
        if not self.match:
            return True
        start = target.find(self.match)
        while start >= 0:
            end = start + len(self.match)
            if not self.match[-1].isalnum() or end == len(target) or not target[end].isalnum():
                return True
            start = target.find(self.match, start + 1)
        return False


class FaultSpec(BaseModel):
    mode: str
    delay: float = Field(default=1.0, ge=0, le=300)
    count: int | None = Field(default=1, ge=1)
    status: int = Field(default=400, ge=400, le=599)
    code: str = Field(default="INVALID_REQUEST", min_length=1, max_length=64)
    append: bool = False
    match: str = Field(default="", max_length=500)
    every: int = Field(default=1, ge=1)


class Faults:
    """The armed faults of one app, in the order they apply; shared by the event loop and the
    threadpool, so locked."""

    def __init__(self, modes: Iterable[str] = BASIC_MODES) -> None:
        self.modes = tuple(modes)
        self._lock = threading.Lock()
        self._queue: list[Fault] = []

    def arm(
        self,
        mode: str,
        delay: float = 1.0,
        count: int | None = 1,
        *,
        status: int = 400,
        code: str = "INVALID_REQUEST",
        append: bool = False,
        match: str = "",
        every: int = 1,
    ) -> Fault | None:
        """Arm `mode` for `count` requests (None: until disarmed) that contain `match`, every
        `every`-th of them (after the faults queued, if `append`); "none" disarms everything.
        Returns the first fault queued."""
        if mode not in self.modes:
            raise ValueError(f"mode must be one of {', '.join(self.modes)}, not {mode!r}")
        if (count is not None and count < 1) or every < 1:
            raise ValueError("count and every must be at least 1")
        with self._lock:
            if not append or mode == "none":
                self._queue.clear()
            if mode != "none":
                self._queue.append(Fault(mode, delay, count, status, code, match, every))
            return self._queue[0] if self._queue else None

    def take(self, target: str = "") -> Fault | None:
        """The fault for the request to `target` ("path?query") now arriving, if any: the
        first armed fault it matches that is due; counts the request in each fault it reaches
        and matches, and uses up one of the applying fault's count."""
        with self._lock:
            for index, fault in enumerate(self._queue):
                if not fault.matches(target):
                    continue
                seen = fault.seen + 1
                if seen % fault.every:
                    self._queue[index] = replace(fault, seen=seen)
                    continue
                if fault.remaining is None or fault.remaining > 1:
                    left = None if fault.remaining is None else fault.remaining - 1
                    self._queue[index] = replace(fault, seen=seen, remaining=left)
                else:
                    self._queue.pop(index)
                return fault
            return None

    def describe(self) -> dict:
        """The first fault queued, how many more are queued after it, and each of them."""
        with self._lock:
            queue = [asdict(fault) for fault in self._queue]
        if not queue:
            return {"mode": "none", "delay": 0.0, "count": 0, "queued": 0, "faults": []}
        shown = [
            {
                "mode": f["mode"],
                "delay": f["delay"],
                "count": f["remaining"],
                "match": f["match"],
                "every": f["every"],
                "seen": f["seen"],
            }
            for f in queue
        ]
        return {**shown[0], "queued": len(queue) - 1, "faults": shown}


class FaultMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware): it must hold back or replace the app's answer."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        fault = self.faults.take(request_target(scope))
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.mode == "error500":
            await send_json(send, 500, {"code": "PROVIDER_ERROR", "message": "injected"})
            return
        if fault.mode == "refuse":
            await send_json(send, fault.status, {"code": fault.code, "message": "injected"})
            return
        replay = await _buffered(receive)
        if fault.mode == "slow":
            await asyncio.sleep(fault.delay)
            await self.app(scope, replay, send)
        elif fault.mode == "processing_slow":
            scope.setdefault("state", {})[PROCESSING_DELAY] = fault.delay
            await self.app(scope, replay, send)
        else:  # applied_then_500 / applied_then_slow: the work happens, the answer is held
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, replay, hold)
            if fault.mode == "applied_then_500":
                await send_json(send, 500, {"code": "PROVIDER_ERROR", "message": "injected"})
                return
            await asyncio.sleep(fault.delay)
            for message in held:
                await send(message)


def request_target(scope: Scope) -> str:
    """The request's "path?query" as a `match` is written: decoded, the query only if any."""
    query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
    return f"{scope['path']}?{query}" if query else scope["path"]


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request body now; return a receive() that replays it.

    Without this, a client that disconnects during a delay takes its unread body with it
    and the request never runs.
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_json(send: Send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_faults(app: FastAPI, extra_modes: Iterable[str] = ()) -> Faults:
    """Add the fault middleware and the /_faults endpoints to `app`; return its Faults."""
    faults = Faults((*BASIC_MODES, *extra_modes))

    @app.get("/_faults", include_in_schema=False)
    def show_faults() -> dict:
        return faults.describe()

    @app.post("/_faults", include_in_schema=False)
    def set_faults(spec: FaultSpec) -> dict:
        try:
            faults.arm(
                spec.mode,
                spec.delay,
                spec.count,
                status=spec.status,
                code=spec.code,
                append=spec.append,
                match=spec.match,
                every=spec.every,
            )
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc
        return faults.describe()

    app.add_middleware(FaultMiddleware, faults=faults)
    return faults
