"""One workflow call to a declared REST source: a GET with the source's auth header (built by
lib.reading.sources.rest, the one way), its own timeout, and retries with exponential backoff
on 5xx answers, timeouts and refused or broken connections; never on a 4xx, which a retry
cannot fix, except 429 (too many requests: a later try is what the server asks for).

A call that still fails raises CallFailed with one line a user can read: the method, the path
(never the query string, which may carry a filter's value), what went wrong and how many tries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from lib.errors import BackofficeError
from lib.reading.sources import rest
from lib.reading.sources.base import SourceConfig


class CallFailed(BackofficeError):
    """A call that failed for good; str() is one line without secrets."""


@dataclass(frozen=True)
class Policy:
    timeout: float  # seconds per try
    retries: int  # tries after the first
    backoff: float  # seconds before the first retry, doubled before each next one


def policy_for(
    cfg: SourceConfig, timeout: float | None, retries: int | None, backoff: float | None
) -> Policy:
    """The step's values, else the source's `timeout`, `retries`, `backoff`."""
    opts = cfg.options
    return Policy(
        timeout=float(opts.get("timeout", 10) if timeout is None else timeout),
        retries=int(opts.get("retries", 2) if retries is None else retries),
        backoff=float(opts.get("backoff", 0.3) if backoff is None else backoff),
    )


class Sessions:
    """One requests session per worker thread and source (a session is not thread-safe),
    each sending the source's auth header, with urllib3's own retries off."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self, cfg: SourceConfig) -> requests.Session:
        mine: dict[str, requests.Session] = self._local.__dict__.setdefault("by_source", {})
        if cfg.name not in mine:
            mine[cfg.name] = rest.session_for(cfg, retries=0)
            with self._lock:
                self._all.append(mine[cfg.name])
        return mine[cfg.name]

    def close(self) -> None:
        with self._lock:
            for session in self._all:
                session.close()
            self._all.clear()


class Stopped(CallFailed):
    """Stop was pressed while a call waited to try again: not the call's failure."""


def get_json(
    cfg: SourceConfig,
    session: requests.Session,
    path: str,
    params: Mapping[str, Any],
    policy: Policy,
    stop: threading.Event | None = None,
) -> Any:
    """The JSON body of GET `path`, tried up to 1 + policy.retries times (the failures are
    classified by lib.reading.sources.rest.try_get, the one way). A stop asked for during a
    backoff raises Stopped."""
    tries = 1 + policy.retries
    for attempt in range(1, tries + 1):
        body, failure = rest.try_get(cfg, session, path, params, policy.timeout)
        if failure is None:
            return body
        what = failure.what if attempt == 1 else f"{failure.what} ({attempt} tries)"
        if not failure.retry or attempt == tries:
            raise CallFailed(what)
        delay = policy.backoff * 2 ** (attempt - 1)
        if stop is not None:
            if stop.wait(delay):
                raise Stopped(f"stopped while retrying: {what}")
        elif delay:
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def pages(
    cfg: SourceConfig,
    session: requests.Session,
    path: str,
    params: Mapping[str, Any],
    *,
    pagination: str,
    items: str,
    page_size: int,
    policy: Policy,
    stop: threading.Event | None = None,
) -> Iterator[list[dict]]:
    """The rows of GET `path` page by page (lib.reading.sources.rest.pages), each page's call
    with this policy's timeout and retries."""
    return rest.pages(
        lambda query: get_json(cfg, session, path, query, policy, stop),
        path,
        params,
        pagination=pagination,
        items=items,
        page_size=page_size,
        fail=CallFailed,
    )
