"""One check of one back end, straight to it (never through DuckDB), under a timeout.

- sql: a fresh connection (no pool, so a stopped server is seen at once) and the server's
  version: `SELECT version()` on PostgreSQL and MySQL/MariaDB, `sqlite_version()` on SQLite
  (the file opened read-only: a missing file is not created).
- mongo: `server_info()`; the demo's in-process mongomock says "mongomock x.y".
- rest and the gateway: `GET <base_url>/health`; HTTP >= 400 is down; the version is the
  JSON answer's `version` when it has one.
- sheet: a file is readable (an XLSX opens and has its worksheet); a Google spreadsheet's
  metadata can be read with the source's service account.

`run_check` never raises: it returns a CheckResult whose error is one line with no password,
token, user or full path in it.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from lib.errors import one_line
from lib.health.targets import GATEWAY, Target
from lib.reading.sources import rest, sql


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    version: str | None = None
    error: str | None = None


class CheckFailed(Exception):
    """A check's own verdict, already one safe line."""


def run_check(target: Target, timeout_s: float) -> CheckResult:
    """Check `target` once; how long it took, the version it reported, or why it failed."""
    start = time.perf_counter()
    try:
        version = CHECKS[target.kind](target, timeout_s)
        return CheckResult(True, _ms(start), version)
    except Exception as exc:  # noqa: BLE001 - any failure of a back end is "down", said once
        return CheckResult(False, _ms(start), None, describe(target, exc, timeout_s))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


# --- SQL -----------------------------------------------------------------------------------


def _sql(target: Target, timeout_s: float) -> str | None:
    cfg = _source(target)
    url = make_url(sql.sqlalchemy_url(cfg))
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = Path(url.database or "")
        if not path.is_file():
            raise CheckFailed(f"database file not found: {path.name}")
        # Read-only by URI: SQLAlchemy's own sqlite URL would create a missing file.
        uri = f"file:{quote(str(path))}?mode=ro"
        engine = sa.create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(uri, uri=True, timeout=timeout_s),
            poolclass=sa.pool.NullPool,
        )
        return "SQLite " + str(_scalar(engine, "SELECT sqlite_version()"))
    if backend == "postgresql":
        args: dict[str, Any] = {
            "connect_timeout": max(2, math.ceil(timeout_s)),  # libpq: whole seconds
            "options": f"-c statement_timeout={int(timeout_s * 1000)}",
        }
    elif backend in ("mysql", "mariadb"):
        args = {"connect_timeout": timeout_s, "read_timeout": timeout_s}
    else:
        raise CheckFailed(f"no health check for {backend} databases")
    engine = sa.create_engine(url, connect_args=args, poolclass=sa.pool.NullPool)
    return server_version(str(_scalar(engine, "SELECT version()")))


def _scalar(engine: sa.Engine, query: str) -> Any:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query)).scalar()
    finally:
        engine.dispose()


def server_version(text: str) -> str:
    """'PostgreSQL 16.4' from PostgreSQL's long version(); 'MariaDB 10.11.6' from
    '10.11.6-MariaDB-0+deb12u1'; 'MySQL 8.0.36' from '8.0.36'."""
    if text.startswith("PostgreSQL"):
        return " ".join(text.split()[:2]).rstrip(",")
    number = text.split("-", 1)[0]
    return f"MariaDB {number}" if "mariadb" in text.lower() else f"MySQL {number}"


# --- Mongo ---------------------------------------------------------------------------------


def _mongo(target: Target, timeout_s: float) -> str | None:
    cfg = _source(target)
    uri = str(cfg.secrets.get("uri") or cfg.options.get("uri") or "")
    if not uri:
        raise CheckFailed("no uri configured")
    if uri.startswith("mongomock://"):
        import mongomock

        from lib.reading.sources.mongo import client_for

        # The source's own client: the demo's data lives inside it.
        client_for(uri, int(timeout_s * 1000)).server_info()
        return f"mongomock {mongomock.__version__}"
    from pymongo import MongoClient

    ms = int(timeout_s * 1000)
    client: Any = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        return f"MongoDB {client.server_info()['version']}"
    finally:
        client.close()


# --- HTTP: REST APIs and the gateway -------------------------------------------------------


def _get_health(base_url: str, timeout_s: float, session: requests.Session) -> str | None:
    if not base_url:
        raise CheckFailed("no base_url configured")
    with session:
        resp = session.get(
            base_url.rstrip("/") + "/health", timeout=timeout_s, allow_redirects=False
        )
    if resp.status_code >= 400:
        raise CheckFailed(f"GET /health answered HTTP {resp.status_code}")
    try:
        body = resp.json()
    except ValueError:
        return None
    version = body.get("version") if isinstance(body, dict) else None
    return str(version)[:60] if version not in (None, "") else None


def _rest(target: Target, timeout_s: float) -> str | None:
    cfg = _source(target)
    # The source's auth header, no retries: a check reports what one request met.
    session = rest.session_for(cfg, retries=0)
    return _get_health(str(cfg.options.get("base_url", "")), timeout_s, session)


def _gateway(target: Target, timeout_s: float) -> str | None:
    return _get_health(str(target.spec.get("base_url", "")), timeout_s, requests.Session())


# --- sheets --------------------------------------------------------------------------------


def _sheet(target: Target, timeout_s: float) -> str | None:
    spec = target.spec
    if spec.get("file"):
        return _sheet_file(target, timeout_s)
    if spec.get("spreadsheet_key"):
        return _google_sheet(target, timeout_s)
    raise CheckFailed("the table names no `file` or `spreadsheet_key`")


def _sheet_file(target: Target, timeout_s: float) -> str | None:
    from python_calamine import CalamineWorkbook

    cfg, spec = _source(target), target.spec
    path = Path(str(spec["file"])).expanduser()
    if not path.is_absolute():
        path = Path(str(cfg.options.get("base_dir") or ".")) / path
    if not path.exists():  # calamine's error for a missing file names no reason
        raise CheckFailed(f"file not found: {path.name}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("rb") as f:
            f.read(4096)
        return None
    if suffix in (".xlsx", ".xlsm"):
        workbook = CalamineWorkbook.from_path(str(path))
        try:
            sheet = spec.get("sheet")
            if sheet is not None and sheet not in workbook.sheet_names:
                raise CheckFailed(f"{path.name} has no sheet '{sheet}'")
        finally:
            workbook.close()
        return None
    raise CheckFailed(f"{path.name} is neither .csv nor .xlsx")


def _google_sheet(target: Target, timeout_s: float) -> str | None:
    from lib.reading.sources import google_sheets

    cfg, spec = _source(target), target.spec
    client = google_sheets.client_for(cfg)
    client.set_timeout(timeout_s)
    try:
        spreadsheet = client.open_by_key(str(spec["spreadsheet_key"]))  # reads the metadata
        if title := spec.get("worksheet"):
            titles = [ws.title for ws in spreadsheet.worksheets()]
            if title not in titles:
                raise CheckFailed(f"the spreadsheet has no worksheet '{title}'")
    finally:
        client.http_client.session.close()
    return None


CHECKS: dict[str, Callable[[Target, float], str | None]] = {
    "sql": _sql,
    "mongo": _mongo,
    "rest": _rest,
    "sheet": _sheet,
    GATEWAY: _gateway,
}


def _source(target: Target) -> Any:
    if target.source is None:
        raise CheckFailed("no source configuration")
    return target.source


# --- one safe line -------------------------------------------------------------------------

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def describe(target: Target, exc: BaseException, timeout_s: float) -> str:
    """Why the check failed, in one line without secrets."""
    if isinstance(exc, CheckFailed):
        text = str(exc)
    elif isinstance(exc, requests.Timeout) or (
        # Through a Retry adapter, urllib3 reports a read timeout as a connection error.
        isinstance(exc, requests.ConnectionError) and "timed out" in str(exc)
    ):
        text = f"no answer within {timeout_s:g} s"
    elif isinstance(exc, requests.ConnectionError):
        text = "cannot connect" + (" (connection refused)" if _refused(exc) else "")
    elif target.kind == "sql" and target.source is not None:
        text = sql.failure_reason(target.source, exc)
    elif target.kind == "mongo":
        text = _mongo_reason(exc, timeout_s)
    elif target.kind == "sheet":
        text = _sheet_reason(target, exc)
    else:
        text = str(exc) or type(exc).__name__
    return scrub(target, text)


def _refused(exc: BaseException) -> bool:
    return "refused" in str(exc).lower() or "errno 111" in str(exc).lower()


def _mongo_reason(exc: BaseException, timeout_s: float) -> str:
    name = type(exc).__name__
    if name == "ServerSelectionTimeoutError":
        cause = " (connection refused)" if _refused(exc) else ""
        return f"cannot connect to its MongoDB server within {timeout_s:g} s{cause}"
    if name == "OperationFailure" and "auth" in str(exc).lower():
        return "MongoDB refused the sign-in (authentication failed)"
    return f"MongoDB: {name}"


def _sheet_reason(target: Target, exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {Path(str(target.spec.get('file', ''))).name}"
    if isinstance(exc, PermissionError):
        return "cannot read the file: permission denied"
    if isinstance(exc, IsADirectoryError):
        return "the file is a directory"
    if isinstance(exc, OSError):
        return f"cannot read the file: {exc.strerror or type(exc).__name__}"
    from python_calamine import CalamineError

    if isinstance(exc, CalamineError):  # a broken zip or XML, a password
        return "not a readable XLSX workbook"
    if target.source is not None:
        from lib.reading.sources import google_sheets

        reason = google_sheets.reason(target.source, exc, worksheet=target.spec.get("worksheet"))
        if reason:
            return reason
    return type(exc).__name__


def scrub(target: Target, text: str) -> str:
    """One line, at most 200 characters, with no secret value and no user:password@."""
    line = _USERINFO.sub("***@", one_line(text) or "failed")
    secrets = list(target.source.secrets.values()) if target.source is not None else []
    for value in secrets:
        if value and len(value) >= 4:
            line = line.replace(value, "***")
    return one_line(line, 200)
