"""One workflow call to a declared REST source: a GET with the source's auth header (built by
lib.reading.sources.rest, the one way), its own timeout, and retries with exponential backoff
on 5xx answers, timeouts and refused or broken connections; never on a 4xx, which a retry
cannot fix, except 429 (too many requests: a later try is what the server asks for).

A call that still fails raises CallFailed with one line a user can read: the method, the path
(never the query string, which may carry a filter's value), what went wrong and how many tries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from lib.errors import BackofficeError
from lib.reading.sources import rest
from lib.reading.sources.base import SourceConfig

TOO_MANY = 429


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


def get_json(
    cfg: SourceConfig,
    session: requests.Session,
    path: str,
    params: Mapping[str, Any],
    policy: Policy,
    stop: threading.Event | None = None,
) -> Any:
    """The JSON body of GET `path`, tried up to 1 + policy.retries times. A stop asked for
    during a backoff ends the retries with the last failure."""
    tries = 1 + policy.retries
    for attempt in range(1, tries + 1):
        failure = _try(cfg, session, path, params, policy.timeout)
        if isinstance(failure, _Body):
            return failure.value
        if not failure.retry or attempt == tries:
            raise CallFailed(failure.text(attempt))
        delay = policy.backoff * 2 ** (attempt - 1)
        if stop is not None and stop.wait(delay):
            raise CallFailed(failure.text(attempt))
        if stop is None and delay:
            threading.Event().wait(delay)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _Body:
    value: Any


@dataclass(frozen=True)
class _Failure:
    what: str  # "GET /orders answered HTTP 500"
    retry: bool

    def text(self, tries: int) -> str:
        return self.what if tries == 1 else f"{self.what} ({tries} tries)"


def _try(
    cfg: SourceConfig, session: requests.Session, path: str, params: Mapping, timeout: float
) -> _Body | _Failure:
    call = f"GET {path}"
    try:
        resp = session.get(rest.url_for(cfg, path), params=dict(params), timeout=timeout)
    except requests.Timeout:
        return _Failure(f"{call} timed out after {timeout:g} s", retry=True)
    except requests.ConnectionError as exc:
        if "timed out" in str(exc):  # some read timeouts surface as connection errors
            return _Failure(f"{call} timed out after {timeout:g} s", retry=True)
        return _Failure(f"{call}: cannot connect to {_site(cfg)}", retry=True)
    except requests.exceptions.ChunkedEncodingError:
        return _Failure(f"{call}: the connection broke off mid-answer", retry=True)
    except requests.RequestException as exc:
        return _Failure(f"{call} failed ({type(exc).__name__})", retry=False)
    if resp.status_code >= 400:
        again = resp.status_code >= 500 or resp.status_code == TOO_MANY
        return _Failure(f"{call} answered HTTP {resp.status_code}", again)
    try:
        return _Body(resp.json())
    except ValueError:
        return _Failure(f"{call} did not answer JSON", retry=False)


def _site(cfg: SourceConfig) -> str:
    """The base URL without any user:password@ in it."""
    url = urlsplit(str(cfg.options["base_url"]))
    return f"{url.scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")


def rows_of(body: Any, items: str, path: str) -> list[dict]:
    """The rows in a body: the list itself, its `items` list, or (items = "") the one object."""
    if isinstance(body, list):
        return [r if isinstance(r, dict) else {"value": r} for r in body]
    if not isinstance(body, dict):
        raise CallFailed(f"GET {path} answered neither an object nor a list")
    if not items:
        return [body]
    found = body.get(items)
    if not isinstance(found, list):
        raise CallFailed(f"GET {path} answered without a list '{items}'")
    return [r if isinstance(r, dict) else {"value": r} for r in found]


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
    """The rows of GET `path` page by page, as lib.reading.sources.rest pages: `page` sends
    page/per_page and stops at `total`; `cursor` sends limit/cursor and follows next_cursor."""
    if pagination == "none":
        yield rows_of(get_json(cfg, session, path, params, policy, stop), items, path)
        return
    page, cursor = 1, None
    for _ in range(rest.MAX_PAGES):
        if pagination == "page":
            extra: dict[str, Any] = {"page": page, "per_page": page_size}
        else:
            extra = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
        body = get_json(cfg, session, path, {**params, **extra}, policy, stop)
        rows = rows_of(body, items, path)
        yield rows
        if pagination == "page":
            if not rows or page * page_size >= int(body.get("total", 0)):
                return
            page += 1
        else:
            cursor = body.get("next_cursor")
            if not cursor:
                return
    raise CallFailed(f"GET {path} paginated past {rest.MAX_PAGES} pages")
