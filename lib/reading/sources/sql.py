"""The `sql` kind: a database reached through DuckDB's postgres / mysql / sqlite scanners.

A SQLAlchemy URL in the config says where the database is; this module turns it into a
DuckDB ATTACH, so filters and projections push down into the source database.

A database server may stop while the app runs. Connecting gives up after
`connect_timeout` seconds (option of the source, default 5) so a page says the source is
down instead of hanging: PostgreSQL through libpq's own `connect_timeout`; the mysql
scanner has no such option, so `check_reachable` logs in with PyMySQL under that timeout
before the scanner is asked to connect. `failure_reason` turns a driver's error into one
line that names no host, user, database or file path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from lib.errors import ConfigError
from lib.reading.sources.base import SourceConfig

# DuckDB extension (and ATTACH type) per SQLAlchemy backend name.
EXTENSIONS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}
SERVER_NAMES = {"postgres": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Attachment:
    """How DuckDB reaches one SQL source: the ATTACH target, its type and default schema."""

    target: str
    extension: str
    schema: str
    secret_values: tuple[str, ...]  # to scrub from any error message
    connect_timeout: float = CONNECT_TIMEOUT_S

    @property
    def server(self) -> str:
        """The kind of database, as people call it."""
        return SERVER_NAMES[self.extension]

    def attach_sql(self, alias: str) -> str:
        """ATTACH OR REPLACE: if connecting fails, an earlier attachment under `alias` stays."""
        quoted = self.target.replace("'", "''")
        return f"ATTACH OR REPLACE '{quoted}' AS {alias} (TYPE {self.extension}, READ_ONLY)"


def source_url(cfg: SourceConfig) -> str:
    url = cfg.secrets.get("url") or cfg.options.get("url")
    if not url:
        raise ConfigError(f"Source '{cfg.name}': set `url` or `url_secret`")
    return str(url)


def sqlalchemy_url(cfg: SourceConfig) -> str:
    """The source's URL for SQLAlchemy (the action layer writes through it); a relative
    SQLite path resolves against the repository like every other path."""
    from lib.config.settings import resolve_sqlite_url

    return resolve_sqlite_url(source_url(cfg), Path(cfg.options.get("base_dir", ".")))


def attachment(cfg: SourceConfig) -> Attachment:
    """Translate the source's SQLAlchemy URL into a DuckDB ATTACH target."""
    url = make_url(source_url(cfg))
    backend = url.get_backend_name()
    ext = EXTENSIONS.get(backend)
    if ext is None:
        raise ConfigError(f"Source '{cfg.name}': unsupported database '{backend}'")
    secrets = tuple(v for v in (url.password,) if v)
    timeout = connect_timeout(cfg)
    if ext == "sqlite":
        path = Path(url.database or "")
        if not path.is_absolute():
            path = Path(cfg.options.get("base_dir", ".")) / path
        return Attachment(str(path), ext, "main", secrets, timeout)
    parts = {"host": url.host or "127.0.0.1", "port": url.port, "user": url.username}
    if url.password:
        parts["password"] = url.password
    if ext == "postgres":
        parts["dbname"] = url.database
        parts["connect_timeout"] = max(1, round(timeout))  # libpq: whole seconds, 0 = forever
        schema = str(cfg.options.get("schema", "public"))
    else:
        parts["database"] = url.database
        schema = str(cfg.options.get("schema", url.database))
    target = " ".join(f"{k}={v}" for k, v in parts.items() if v not in (None, ""))
    return Attachment(target, ext, schema, secrets, timeout)


def connect_timeout(cfg: SourceConfig) -> float:
    """Seconds to wait for the database server to answer a connection attempt."""
    raw = cfg.options.get("connect_timeout", CONNECT_TIMEOUT_S)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = 0.0
    if not 0 < value <= 600:
        raise ConfigError(f"Source '{cfg.name}': connect_timeout is seconds, from 1 to 600")
    return value


def check_reachable(cfg: SourceConfig) -> None:
    """Log in to a MySQL/MariaDB source and out again, giving up after `connect_timeout`.

    The mysql scanner cannot be given a connect timeout and waits as long as TCP does for a
    server that has gone silent; this bounded login runs before it is asked to connect.
    Other kinds return at once (libpq has its own timeout; SQLite is a file). Raises the
    driver's error when the server does not answer.
    """
    url = make_url(source_url(cfg))
    if EXTENSIONS.get(url.get_backend_name()) != "mysql":
        return
    import pymysql

    timeout = connect_timeout(cfg)
    con = pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "",
        password=url.password or "",
        database=url.database,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
    )
    con.close()


# A driver's own words for "the server is not there", and the plain reason they mean.
_CONNECT_FAILED = re.compile(
    r"unable to connect|failed to connect|can't connect|could not connect|connection refused"
    r"|timeout expired|timed out|server closed the connection|lost connection|gone away"
    r"|terminating connection|connection to server|no connection|broken pipe",
    re.IGNORECASE,
)
_CAUSES = (
    (re.compile(r"refused|\((?:111|115|2003)\)", re.IGNORECASE), "connection refused"),
    (re.compile(r"timeout|timed out", re.IGNORECASE), "no answer in time"),
    (
        re.compile(r"closed|lost|gone away|terminat|broken pipe", re.IGNORECASE),
        "connection lost",
    ),
)
# `... at "host=... user=..."`, `... with parameters "host=..."`: the whole connection target.
_QUOTED_TARGET = re.compile(r'\s*(?:at|with parameters)?\s*"[^"]*(?:host|dbname|database)=[^"]*"')


def failure_reason(cfg: SourceConfig, exc: BaseException) -> str:
    """One line saying why the source could not be read, with no secret, host, user,
    database name or file path in it."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    try:
        att: Attachment | None = attachment(cfg)
    except ConfigError:
        att = None
    if att is not None and att.extension != "sqlite" and _CONNECT_FAILED.search(text):
        cause = next((c for pattern, c in _CAUSES if pattern.search(text)), None)
        return f"cannot connect to its {att.server} server" + (f" ({cause})" if cause else "")
    text = _QUOTED_TARGET.sub("", text)
    hidden = list(cfg.secrets.values())
    if att is not None:
        hidden += [*att.secret_values, att.target]
        if att.extension == "sqlite":  # a file path: keep only the file's name
            text = text.replace(att.target, Path(att.target).name)
    for value in hidden:
        if value:
            text = text.replace(value, "***")
    return text[:300]


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SNAPSHOT_KEYS = ("columns", "key", "updated_at", "follows", "parent_key", "overlap_s", "rebuild_s")


def _identifier(cfg: SourceConfig, table: str, what: str, value: object) -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ConfigError(f"Source '{cfg.name}', table '{table}': {what} is a column name")
    return value


def table_modes(cfg: SourceConfig) -> dict[str, dict[str, object]]:
    """Each declared table with its read mode: `live` (scanner) or `snapshot` (local copy).

    A snapshot may also declare (lib.reading.snapshots): `columns` (only these are copied),
    `key` and `updated_at` (refreshed by the rows changed since the last refresh), or
    `follows` + `parent_key` (refreshed with another snapshot, by its changed keys)."""
    tables = cfg.options.get("tables") or {}
    out: dict[str, dict[str, object]] = {}
    for name, spec in tables.items():
        spec = dict(spec or {})
        mode = spec.get("mode", "live")
        if mode not in ("live", "snapshot"):
            raise ConfigError(f"Source '{cfg.name}', table '{name}': mode is live or snapshot")
        entry: dict[str, object] = {
            "mode": mode,
            "ttl": float(spec.get("ttl", cfg.ttl)),
            "table": spec.get("table", name),
        }
        for option in SNAPSHOT_KEYS:
            if option in spec and mode != "snapshot":
                raise ConfigError(f"Source '{cfg.name}', table '{name}': {option} is for snapshots")
        if "columns" in spec:
            entry["columns"] = tuple(
                _identifier(cfg, name, "each of columns", c) for c in spec["columns"]
            )
        for option in ("key", "updated_at", "follows", "parent_key"):
            if option in spec:
                entry[option] = _identifier(cfg, name, option, spec[option])
        for option in ("overlap_s", "rebuild_s"):
            if option in spec:
                entry[option] = float(spec[option])
        out[name] = entry
    if not out:
        raise ConfigError(
            f"Source '{cfg.name}': declare its tables under [sources.{cfg.name}.tables]"
        )
    return out


def derived_tables(cfg: SourceConfig) -> dict[str, dict[str, object]]:
    """Tables computed in DuckDB from snapshots (`derived.<name> = { query = "...", ttl = N }`):
    rebuilt in the background after the snapshots they read change, at most every ttl s."""
    derived = cfg.options.get("derived") or {}
    out: dict[str, dict[str, object]] = {}
    for name, spec in derived.items():
        spec = dict(spec or {})
        _identifier(cfg, name, "a derived table's name", name)
        query = spec.get("query")
        if not isinstance(query, str) or not query:
            raise ConfigError(f"Source '{cfg.name}', derived table '{name}': set its query")
        out[name] = {"query": query, "ttl": float(spec.get("ttl", 60))}
    return out
