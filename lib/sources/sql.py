"""The `sql` kind: a database reached through DuckDB's postgres / mysql / sqlite scanners.

A SQLAlchemy URL in the config says where the database is; this module turns it into a
DuckDB ATTACH, so filters and projections push down into the source database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from lib.errors import ConfigError
from lib.sources.base import SourceConfig

# DuckDB extension (and ATTACH type) per SQLAlchemy backend name.
EXTENSIONS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


@dataclass(frozen=True)
class Attachment:
    """How DuckDB reaches one SQL source: the ATTACH target, its type and default schema."""

    target: str
    extension: str
    schema: str
    secret_values: tuple[str, ...]  # to scrub from any error message

    def attach_sql(self, alias: str) -> str:
        quoted = self.target.replace("'", "''")
        return f"ATTACH '{quoted}' AS {alias} (TYPE {self.extension}, READ_ONLY)"


def source_url(cfg: SourceConfig) -> str:
    url = cfg.secrets.get("url") or cfg.options.get("url")
    if not url:
        raise ConfigError(f"Source '{cfg.name}': set `url` or `url_secret`")
    return str(url)


def sqlalchemy_url(cfg: SourceConfig) -> str:
    """The source's URL for SQLAlchemy (the action layer writes through it); a relative
    SQLite path resolves against the repository like every other path."""
    from lib.settings import resolve_sqlite_url

    return resolve_sqlite_url(source_url(cfg), Path(cfg.options.get("base_dir", ".")))


def attachment(cfg: SourceConfig) -> Attachment:
    """Translate the source's SQLAlchemy URL into a DuckDB ATTACH target."""
    url = make_url(source_url(cfg))
    backend = url.get_backend_name()
    ext = EXTENSIONS.get(backend)
    if ext is None:
        raise ConfigError(f"Source '{cfg.name}': unsupported database '{backend}'")
    secrets = tuple(v for v in (url.password,) if v)
    if ext == "sqlite":
        path = Path(url.database or "")
        if not path.is_absolute():
            path = Path(cfg.options.get("base_dir", ".")) / path
        return Attachment(str(path), ext, "main", secrets)
    parts = {"host": url.host or "127.0.0.1", "port": url.port, "user": url.username}
    if url.password:
        parts["password"] = url.password
    if ext == "postgres":
        parts["dbname"] = url.database
        schema = str(cfg.options.get("schema", "public"))
    else:
        parts["database"] = url.database
        schema = str(cfg.options.get("schema", url.database))
    target = " ".join(f"{k}={v}" for k, v in parts.items() if v not in (None, ""))
    return Attachment(target, ext, schema, secrets)


def table_modes(cfg: SourceConfig) -> dict[str, dict[str, object]]:
    """Each declared table with its read mode: `live` (scanner) or `snapshot` (local copy)."""
    tables = cfg.options.get("tables") or {}
    out: dict[str, dict[str, object]] = {}
    for name, spec in tables.items():
        spec = dict(spec or {})
        mode = spec.get("mode", "live")
        if mode not in ("live", "snapshot"):
            raise ConfigError(f"Source '{cfg.name}', table '{name}': mode is live or snapshot")
        out[name] = {
            "mode": mode,
            "ttl": float(spec.get("ttl", cfg.ttl)),
            "table": spec.get("table", name),
        }
    if not out:
        raise ConfigError(
            f"Source '{cfg.name}': declare its tables under [sources.{cfg.name}.tables]"
        )
    return out
