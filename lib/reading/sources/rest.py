"""The `rest` kind: JSON endpoints read page by page, with a timeout and retries with backoff."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lib.errors import SourceUnavailable
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.flatten import to_arrow

MAX_PAGES = 10_000  # a server that never stops paginating must not hang a page
TOO_MANY = 429  # too many requests: a later try is what the server asks for
Fail = Callable[[str], Exception]  # one line -> the caller's error to raise


def session_for(cfg: SourceConfig, *, retries: int | None = None) -> requests.Session:
    """A session that sends the auth header and retries idempotent reads on 5xx and resets.

    `retries=0`: urllib3 does not retry at all (a caller that retries itself, as workflow
    calls do, sees each timeout and connection error as itself)."""
    opts = cfg.options
    if retries == 0:
        retry = Retry(0, read=False)  # what requests does without max_retries
    else:
        retry = Retry(
            total=int(opts.get("retries", 2) if retries is None else retries),
            backoff_factor=float(opts.get("backoff", 0.5)),
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=("GET",),
            raise_on_status=False,
        )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    if token := cfg.secrets.get("token"):
        scheme = opts.get("auth_scheme", "Bearer")
        value = f"{scheme} {token}" if scheme else token
        session.headers[str(opts.get("auth_header", "Authorization"))] = value
    return session


def url_for(cfg: SourceConfig, path: str) -> str:
    return str(cfg.options["base_url"]).rstrip("/") + path


def site(cfg: SourceConfig) -> str:
    """The base URL's scheme, host and port: never a user:password@ in it."""
    url = urlsplit(str(cfg.options["base_url"]))
    return f"{url.scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")


@dataclass(frozen=True)
class Failure:
    """Why one GET failed, in one line without secrets or the query string (it may carry a
    filter's value), and whether a later try may succeed (5xx, 429, timeouts, connections)."""

    what: str  # "GET /orders answered HTTP 500"
    retry: bool


def try_get(
    cfg: SourceConfig, session: requests.Session, path: str, params: Mapping, timeout: float
) -> tuple[Any, Failure | None]:
    """(the JSON body, None) of one GET, or (None, why it failed): the one classification of
    a call's failures, for the rest source and for workflow calls."""
    call = f"GET {unquote(path)}"  # as typed: a caller masking contacts must see them
    try:
        resp = session.get(url_for(cfg, path), params=dict(params), timeout=timeout)
    except requests.Timeout:
        return None, Failure(f"{call} timed out after {timeout:g} s", retry=True)
    except requests.ConnectionError as exc:
        if "timed out" in str(exc):  # after retries, urllib3 says a read timeout this way
            return None, Failure(f"{call} timed out after {timeout:g} s", retry=True)
        return None, Failure(f"{call}: cannot connect to {site(cfg)}", retry=True)
    except requests.exceptions.ChunkedEncodingError:
        return None, Failure(f"{call}: the connection broke off mid-answer", retry=True)
    except requests.RequestException as exc:
        return None, Failure(f"{call} failed ({type(exc).__name__})", retry=False)
    if resp.status_code >= 400:
        again = resp.status_code >= 500 or resp.status_code == TOO_MANY
        return None, Failure(f"{call} answered HTTP {resp.status_code}", again)
    try:
        return resp.json(), None
    except ValueError:
        return None, Failure(f"{call} did not answer JSON", retry=False)


def get_json(cfg: SourceConfig, session: requests.Session, path: str, params: Mapping) -> Any:
    """One GET (the session retries as configured), its failure a one-line SourceUnavailable."""
    body, failure = try_get(cfg, session, path, params, float(cfg.options.get("timeout", 10)))
    if failure is not None:
        raise SourceUnavailable(cfg.name, failure.what)
    return body


def rows_of(body: Any, items: str, path: str, fail: Fail, *, none_ends: bool = False) -> list[dict]:
    """The rows in a body: the list itself, its `items` list, or (items = "") the one object;
    a value that is not an object is the row {"value": value}. With `none_ends`, a body
    whose `items` is missing or null has no rows (a paged endpoint's end of data)."""
    if isinstance(body, list):
        found = body
    elif not isinstance(body, dict):
        raise fail(f"GET {path} answered neither an object nor a list")
    elif not items:
        return [body]
    else:
        found = body.get(items)
        if found is None and none_ends:
            return []
        if not isinstance(found, list):
            raise fail(f"GET {path} answered without a list '{items}'")
    return [r if isinstance(r, dict) else {"value": r} for r in found]


def pages(
    fetch: Callable[[Mapping[str, Any]], Any],
    path: str,
    params: Mapping[str, Any],
    *,
    pagination: str,
    items: str,
    page_size: int,
    fail: Fail,
    none_ends: bool = False,
) -> Iterator[list[dict]]:
    """The rows of GET `path` page by page, `fetch(query params)` giving each body: `none`
    one call; `page` sends page/per_page and stops at `total` (or an empty page); `cursor`
    sends limit/cursor and follows next_cursor. `fail(one line)` is the error to raise,
    also for a page that is not an object or a `total` that is not a number. With
    `none_ends`, a page whose `items` is missing or null ends the rows (rows_of)."""
    if pagination == "none":
        yield rows_of(fetch(params), items, path, fail)
        return
    if pagination not in ("page", "cursor"):
        raise fail(f"unknown pagination style {pagination!r}")
    page, cursor = 1, None
    for _ in range(MAX_PAGES):
        if pagination == "page":
            extra: dict[str, Any] = {"page": page, "per_page": page_size}
        else:
            extra = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
        body = fetch({**params, **extra})
        if not isinstance(body, dict):  # where its total or next cursor would be
            what = "a list" if isinstance(body, list) else "a plain value"
            raise fail(f"GET {path} answered {what}, not a page object")
        rows = rows_of(body, items, path, fail, none_ends=none_ends)
        yield rows
        if pagination == "page":
            if not rows or page * page_size >= _total(body, path, fail):
                return
            page += 1
        else:
            cursor = body.get("next_cursor")
            if not cursor:
                return
    raise fail(f"GET {path} paginated past {MAX_PAGES} pages")


def _total(body: dict, path: str, fail: Fail) -> int:
    """A page's `total` (missing or null: 0, this page is the last)."""
    total = body.get("total")
    if total is None:
        return 0
    try:
        if isinstance(total, bool):
            raise TypeError(total)
        return int(total)
    except (TypeError, ValueError, OverflowError):
        raise fail(f"GET {path} answered a total that is not a number") from None


def load(cfg: SourceConfig) -> dict[str, pa.Table]:
    """Every configured endpoint, all its pages, as one flat Arrow table each."""
    session = session_for(cfg)
    tables: dict[str, pa.Table] = {}
    with session:
        for name, spec in (cfg.options.get("endpoints") or {}).items():
            path = spec["path"]
            found = pages(
                lambda query, path=path: get_json(cfg, session, path, query),
                path,
                dict(spec.get("params", {})),
                pagination=spec.get("pagination", cfg.options.get("pagination", "none")),
                items=spec.get("items", "items"),
                page_size=int(spec.get("page_size", 100)),
                fail=lambda line: SourceUnavailable(cfg.name, line),
                none_ends=True,  # as this source always read a paged endpoint's end
            )
            rows = [row for page in found for row in page]
            tables[name] = to_arrow(rows)
    return tables


def fetch(cfg: SourceConfig, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """One live call (e.g. a customer's profile on a detail page), not cached."""
    with session_for(cfg) as session:
        return get_json(cfg, session, path, params or {})
