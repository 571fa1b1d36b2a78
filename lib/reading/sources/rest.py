"""The `rest` kind: JSON endpoints read page by page, with a timeout and retries with backoff."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from lib.errors import SourceUnavailable
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.flatten import to_arrow

MAX_PAGES = 10_000  # a server that never stops paginating must not hang a page


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


def get_json(cfg: SourceConfig, session: requests.Session, path: str, params: Mapping) -> Any:
    """One GET, its failures turned into a one-line SourceUnavailable without secrets."""
    url = url_for(cfg, path)
    timeout = float(cfg.options.get("timeout", 10))
    try:
        resp = session.get(url, params=dict(params), timeout=timeout)
    except requests.Timeout as exc:
        raise SourceUnavailable(cfg.name, f"GET {path} timed out after {timeout:g} s") from exc
    except requests.ConnectionError as exc:
        # After retries, urllib3 reports a read timeout as a connection error.
        if "timed out" in str(exc):
            raise SourceUnavailable(cfg.name, f"GET {path} timed out after {timeout:g} s") from exc
        reason = "cannot connect"
        raise SourceUnavailable(
            cfg.name, f"GET {path}: {reason} ({cfg.options['base_url']})"
        ) from exc
    if resp.status_code >= 400:
        raise SourceUnavailable(cfg.name, f"GET {path} answered HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError as exc:
        raise SourceUnavailable(cfg.name, f"GET {path} did not answer JSON") from exc


def _pages(cfg: SourceConfig, session: requests.Session, spec: Mapping[str, Any]) -> Iterator[list]:
    style = spec.get("pagination", cfg.options.get("pagination", "none"))
    items_key = spec.get("items", "items")
    size = int(spec.get("page_size", 100))
    params = dict(spec.get("params", {}))
    path = spec["path"]
    if style == "none":
        body = get_json(cfg, session, path, params)
        yield body if isinstance(body, list) else body[items_key]
        return
    page, cursor = 1, None
    for _ in range(MAX_PAGES):
        if style == "page":
            body = get_json(cfg, session, path, {**params, "page": page, "per_page": size})
        elif style == "cursor":
            extra = {"cursor": cursor} if cursor else {}
            body = get_json(cfg, session, path, {**params, "limit": size, **extra})
        else:
            raise SourceUnavailable(cfg.name, f"unknown pagination style {style!r}")
        items = body.get(items_key) or []
        yield items
        if style == "page":
            if not items or page * size >= int(body.get("total", 0)):
                return
            page += 1
        else:
            cursor = body.get("next_cursor")
            if not cursor:
                return
    raise SourceUnavailable(cfg.name, f"GET {path} paginated past {MAX_PAGES} pages")


def load(cfg: SourceConfig) -> dict[str, pa.Table]:
    """Every configured endpoint, all its pages, as one flat Arrow table each."""
    session = session_for(cfg)
    tables: dict[str, pa.Table] = {}
    with session:
        for name, spec in (cfg.options.get("endpoints") or {}).items():
            rows = [item for page in _pages(cfg, session, spec) for item in page]
            tables[name] = to_arrow(rows)
    return tables


def fetch(cfg: SourceConfig, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """One live call (e.g. a customer's profile on a detail page), not cached."""
    with session_for(cfg) as session:
        return get_json(cfg, session, path, params or {})
