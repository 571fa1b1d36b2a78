"""What the health checker watches: every configured source and the payment gateway.

One target per back end a person would name: each SQL database, each Mongo source, each REST
API, each sheet table (its file, or its Google spreadsheet) and the gateway. `where` says
where it is (host:port, a file's name) and never carries a user, password or token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from lib.config.settings import Settings
from lib.reading.sources.base import SourceConfig

GATEWAY = "gateway"


@dataclass(frozen=True)
class Target:
    """One back end to check. `source` (with its secrets) and `spec` stay out of repr."""

    name: str  # "crm", "customer_api", "gateway", "sheets.marketing_spend"
    kind: str  # sql | mongo | rest | sheet | gateway
    where: str  # host:port or a file's name; nothing secret
    source: SourceConfig | None = field(default=None, repr=False, compare=False)
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def host_port(url: str) -> str:
    """host:port of a URL, without any user or password in it."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _sql_where(cfg: SourceConfig) -> str:
    raw = cfg.secrets.get("url") or cfg.options.get("url")
    if not raw:
        return "no url configured"
    try:
        url = make_url(str(raw))
    except Exception:  # noqa: BLE001 - a broken URL is the check's to report, not ours
        return "unreadable url"
    if url.get_backend_name() == "sqlite":
        return Path(url.database or "").name or "sqlite (in memory)"
    host = url.host or "127.0.0.1"
    where = f"{host}:{url.port}" if url.port else host
    return f"{where}/{url.database}" if url.database else where


def _mongo_where(cfg: SourceConfig) -> str:
    uri = str(cfg.secrets.get("uri") or cfg.options.get("uri") or "")
    if not uri:
        return "no uri configured"
    if uri.startswith("mongomock://"):
        return "mongomock (in process)"
    netloc = urlsplit(uri).netloc.rsplit("@", 1)[-1]  # drop user:password@
    return netloc or "?"


def _sheet_targets(cfg: SourceConfig) -> list[Target]:
    out = []
    for table, spec in (cfg.options.get("tables") or {}).items():
        spec = dict(spec or {})
        if spec.get("file"):
            where = Path(str(spec["file"])).name
        elif spec.get("spreadsheet_key"):
            key = str(spec["spreadsheet_key"])
            where = f"Google Sheet {key[:8]}…" if len(key) > 8 else f"Google Sheet {key}"
        else:
            where = "no file or spreadsheet_key"
        out.append(Target(f"{cfg.name}.{table}", "sheet", where, cfg, spec))
    return out


def targets_for(settings: Settings) -> list[Target]:
    """Every back end of `settings`, in the order of the configuration, the gateway last."""
    out: list[Target] = []
    for cfg in settings.sources:
        if cfg.kind == "sql":
            out.append(Target(cfg.name, "sql", _sql_where(cfg), cfg))
        elif cfg.kind == "mongo":
            out.append(Target(cfg.name, "mongo", _mongo_where(cfg), cfg))
        elif cfg.kind == "rest":
            url = str(cfg.options.get("base_url", ""))
            out.append(Target(cfg.name, "rest", host_port(url) if url else "no base_url", cfg))
        elif cfg.kind == "sheet":
            out.extend(_sheet_targets(cfg))
    if settings.gateway:
        url = str(settings.gateway.get("base_url", ""))
        spec = {"base_url": url}  # not the secret key: /health is open
        out.append(Target(GATEWAY, GATEWAY, host_port(url), None, spec))
    return out
