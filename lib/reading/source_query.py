"""Source queries: a named query run on its source's own database, not through DuckDB.

An operator list over one SQL source (the Orders page over the shop) is one index range read
in that database; through DuckDB's scanner every page pulled the whole table. So such a list
is a queries/<name>.sql marked `-- runs_on: <source>` (format: lib.reading.source_query_render)
run through SQLAlchemy with bound parameters, on one small connection pool per source per
process. A piece from another source (the customer's name on an order) is a second source
query (`IN :ids`), never a cross-database join; joins across sources stay in DuckDB.

    sq = runtime.source_queries()
    df = sq.run("customers_names", ids=[3, 5])
    page = sq.page("orders_page", sort=("ordered_at", "desc"), limit=20, statuses=["pending"])
    page.rows, page.count.text(), page.has_next          # DataFrame, "10,000+", True
    sq.page("orders_page", sort=..., limit=20, after=page.last_key, statuses=["pending"])

Results have the same columns and dtypes on SQLite, PostgreSQL and MariaDB: timestamps and
dates datetime64 (SQLite's 'YYYY-MM-DD HH:MM:SS' text converted), whole numbers int64 (float64
with NULLs), decimals numbers. A database that cannot be reached raises SourceUnavailable
naming the source (lib.reading.sources.sql.failure_reason: no host, user or path); so does a
statement that runs longer than STATEMENT_TIMEOUT_S, stopped by the database itself (PostgreSQL
statement_timeout, MariaDB max_statement_time, MySQL max_execution_time, SQLite a progress
handler), so one slow page cannot hold a pooled connection and a server for minutes. SQLite is
opened read-only; nothing here writes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa

from lib.errors import ConfigError, SourceUnavailable
from lib.reading import source_query_render as render
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.sql import connect_timeout, failure_reason, sqlalchemy_url
from lib.records.database import MYSQL_DIALECTS, ensure_utf8mb4

COUNT_CAP = 10_000  # counted exactly up to here, then "10,000+" (Django's show_full_result_count)
POOL_SIZE, POOL_OVERFLOW, POOL_WAIT_S = 3, 5, 10
IO_TIMEOUT_S = 30  # MySQL read/write: a server that went silent mid-statement
STATEMENT_TIMEOUT_S = 20.0  # a list's statement is an index range: this is a runaway

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
# What a driver raises when the server is not there or went away.
_UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)
_DEADLINE = "backoffice_deadline"
# How each database says it stopped a statement at its time limit (PostgreSQL's SQLSTATE
# 57014 query_canceled; MariaDB 1969, MySQL 3024; SQLite's progress handler "interrupted").
_STOPPED = re.compile(
    r"statement timeout|max_statement_time|maximum statement execution time|"
    r"\(1969,|\(3024,|^interrupted$|QueryCanceled",
    re.IGNORECASE,
)


def _stopped_at_time_limit(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "57014":
        return True
    return bool(_STOPPED.search(type(orig).__name__) or _STOPPED.search(str(orig or exc)))


@dataclass(frozen=True)
class Count:
    """A list's row count, exact up to a cap: `Count(10_000, exact=False)` is "10,000+"."""

    value: int
    exact: bool = True

    def text(self) -> str:
        return f"{self.value:,}" if self.exact else f"{self.value:,}+"


@dataclass(frozen=True)
class Page:
    """One page of a source query: its rows, the list's count (None if not asked), whether
    rows follow or precede it, and its first and last rows' sort keys (raw database values,
    for `after=` / `before=` of the next call)."""

    rows: pd.DataFrame
    count: Count | None
    has_next: bool
    has_previous: bool
    first_key: tuple[Any, ...] | None
    last_key: tuple[Any, ...] | None


def _engine_for(cfg: SourceConfig) -> sa.Engine:
    """A small pool on the source's database; SQLite read-only."""
    url = sa.make_url(sqlalchemy_url(cfg))
    backend = url.get_backend_name()
    timeout = connect_timeout(cfg)
    common: dict[str, Any] = {
        "pool_pre_ping": True,
        "hide_parameters": True,  # a driver's error never carries the bound values (PII)
        "pool_size": POOL_SIZE,
        "max_overflow": POOL_OVERFLOW,
        "pool_timeout": POOL_WAIT_S,
    }
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError(f"Source '{cfg.name}': a SQLite source needs a file")
        ro = url.set(database="file:" + quote(url.database), query={"mode": "ro", "uri": "true"})
        engine = sa.create_engine(
            ro, connect_args={"check_same_thread": False, "timeout": timeout}, **common
        )

        @sa.event.listens_for(engine, "connect")
        def _read_only(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.execute("PRAGMA query_only = ON")
            info = record.info  # the deadline of the statement this connection runs
            dbapi_conn.set_progress_handler(
                lambda: time.monotonic() > info.get(_DEADLINE, math.inf), 10_000
            )

        @sa.event.listens_for(engine, "before_cursor_execute")
        def _start(conn: sa.Connection, *_: Any) -> None:
            conn.info[_DEADLINE] = time.monotonic() + STATEMENT_TIMEOUT_S

        @sa.event.listens_for(engine, "checkin")
        def _done(_dbapi_conn: Any, record: Any) -> None:
            record.info.pop(_DEADLINE, None)  # the pool's ping runs with no deadline

        return engine
    if backend == "postgresql":
        args: dict[str, Any] = {
            "connect_timeout": max(1, round(timeout)),
            "options": f"-c statement_timeout={round(STATEMENT_TIMEOUT_S * 1000)}",
        }
        if url.get_driver_name() == "psycopg":
            args["prepare_threshold"] = None  # a plan per call: LIKE and IN lists vary
        return sa.create_engine(url, connect_args=args, **common)
    if backend in MYSQL_DIALECTS:
        engine = sa.create_engine(
            ensure_utf8mb4(url.render_as_string(hide_password=False)),
            connect_args={
                "connect_timeout": timeout,
                "read_timeout": IO_TIMEOUT_S,
                "write_timeout": IO_TIMEOUT_S,
            },
            **common,
        )

        @sa.event.listens_for(engine, "connect")
        def _time_limit(dbapi_conn: Any, _record: Any) -> None:
            # MariaDB counts seconds for every statement; MySQL milliseconds, SELECTs only.
            mariadb = "mariadb" in dbapi_conn.get_server_info().lower()
            with dbapi_conn.cursor() as cur:
                if mariadb:
                    cur.execute(f"SET SESSION max_statement_time = {STATEMENT_TIMEOUT_S:g}")
                else:
                    limit = round(STATEMENT_TIMEOUT_S * 1000)
                    cur.execute(f"SET SESSION max_execution_time = {limit}")

        return engine
    raise ConfigError(f"Source '{cfg.name}': unsupported database '{backend}'")


def _sqlite_value(value: Any) -> Any:
    """SQLite keeps times as 'YYYY-MM-DD HH:MM:SS' text: compare text with text."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S" + (".%f" if value.microsecond else ""))
    if isinstance(value, date):
        return value.isoformat()
    return value


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """The same dtypes whatever the database: times datetime64, decimals numbers."""
    for col in df.columns:
        s = df[col]
        if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        values = s.dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if isinstance(first, datetime | date) and not isinstance(first, pd.Timestamp):
            times = pd.to_datetime(s, utc=getattr(first, "tzinfo", None) is not None)
            if times.dt.tz is not None:  # timestamptz: shown in UTC, like the naive columns
                times = times.dt.tz_convert("UTC").dt.tz_localize(None)
            df[col] = times.astype("datetime64[us]")
        # The first value decides for most text columns (a name is no date): the whole column
        # is checked, vectorised, only when it could be SQLite's text timestamps.
        elif (
            isinstance(first, str)
            and _ISO_TIME.match(first)
            and values.astype(str).str.match(_ISO_TIME.pattern).all()
        ):
            df[col] = pd.to_datetime(s, format="ISO8601").astype("datetime64[us]")
        elif isinstance(first, Decimal):
            numbers = pd.to_numeric(s.map(lambda v: None if v is None else float(v)))
            whole = not s.isna().any() and (numbers == numbers.round()).all()
            df[col] = numbers.astype("int64") if whole else numbers
    return df


class SourceQueries:
    """The process's source queries: one engine per SQL source, made on first use."""

    def __init__(self, sources: Iterable[SourceConfig], queries_dir: Path) -> None:
        self.sources = {s.name: s for s in sources}
        self.queries_dir = queries_dir
        self._engines: dict[str, sa.Engine] = {}
        self._lock = threading.Lock()

    def query(self, name: str) -> render.SourceSQL:
        return render.parse(self.queries_dir, name)

    def engine(self, source: str) -> sa.Engine:
        with self._lock:
            if source not in self._engines:
                cfg = self.sources.get(source)
                if cfg is None or cfg.kind != "sql":
                    raise ConfigError(f"No SQL source named '{source}'")
                self._engines[source] = _engine_for(cfg)
            return self._engines[source]

    def _statement(self, source: str, sql: str, params: Mapping[str, Any]) -> tuple:
        needed = render.used_params(sql)
        missing = needed - params.keys()
        if missing:
            raise TypeError(f"source query needs parameters: {', '.join(sorted(missing))}")
        sqlite = self.engine(source).dialect.name == "sqlite"
        bound, expanding = {}, []
        for k in needed:
            value = params[k]
            if isinstance(value, list | tuple | set | frozenset):
                value = [_sqlite_value(v) for v in value] if sqlite else list(value)
                expanding.append(sa.bindparam(k, expanding=True))
            elif sqlite:
                value = _sqlite_value(value)
            bound[k] = value
        return sa.text(sql).bindparams(*expanding), bound

    def _read(
        self, source: str, statements: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> list[tuple[list[str], list[tuple]]]:
        """Run the statements on one connection; a database that does not answer raises
        SourceUnavailable naming the source."""
        prepared = [self._statement(source, sql, params) for sql, params in statements]
        try:
            with self.engine(source).connect() as conn:
                out = []
                for stmt, bound in prepared:
                    result = conn.execute(stmt, bound)
                    out.append((list(result.keys()), [tuple(r) for r in result.fetchall()]))
                return out
        except _UNREACHABLE as exc:
            if _stopped_at_time_limit(exc):
                reason = f"a query ran longer than {STATEMENT_TIMEOUT_S:g} s and was stopped"
            else:
                reason = failure_reason(self.sources[source], exc)
            raise SourceUnavailable(source, reason) from exc

    def run(self, name: str, *, sort: tuple[str, str] | None = None, **params: Any) -> pd.DataFrame:
        """All rows of queries/<name>.sql with bound parameters (a lookup: keep it small)."""
        q = self.query(name)
        sql = render.render_all(q, params, sort)
        [(columns, rows)] = self._read(q.runs_on, [(sql, params)])
        return _normalise(pd.DataFrame.from_records(rows, columns=columns))

    def count(self, name: str, *, cap: int = COUNT_CAP, **params: Any) -> Count:
        """How many rows the list has, counted up to `cap` (then inexact: "cap+")."""
        q = self.query(name)
        [(_, rows)] = self._read(
            q.runs_on, [(render.render_count(q, params), {**params, render.CAP: cap + 1})]
        )
        n = int(rows[0][0])
        return Count(cap, exact=False) if n > cap else Count(n)

    def page(
        self,
        name: str,
        *,
        sort: tuple[str, str] | None = None,
        limit: int,
        offset: int = 0,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
        count_cap: int | None = COUNT_CAP,
        **params: Any,
    ) -> Page:
        """One page: `limit` rows after `offset`, or (keyset) right after the row whose sort
        key is `after`, or right before `before` (then `offset` is ignored). With
        `count_cap`, the list's count up to it, read first: an exact one marks the page
        statement `__small` (lib.reading.source_query_render)."""
        if after is not None and before is not None:
            raise TypeError("page: give after or before, not both")
        q = self.query(name)
        boundary = after if after is not None else before
        keyset = "after" if after is not None else "before" if before is not None else None
        count = None
        if count_cap is not None:  # first: an exact count makes the page `__small`
            count_params = {**params, render.CAP: count_cap + 1}
            [(_, n)] = self._read(q.runs_on, [(render.render_count(q, params), count_params)])
            total = int(n[0][0])
            count = Count(count_cap, exact=False) if total > count_cap else Count(total)
        small = {render.SMALL: True} if count is not None and count.exact else {}
        skipping = keyset is None and offset > 0
        rendered = render.render_page(
            q, {**params, **small}, sort, keyset=keyset, skipping=skipping
        )
        bound: dict[str, Any] = {**params, render.LIMIT: limit + 1, render.OFFSET: 0}
        if keyset is None:
            bound[render.OFFSET] = offset
        else:
            if len(boundary) != len(rendered.key_columns):
                raise TypeError("page: the key does not match this sort")
            bound.update(zip(rendered.key_columns, boundary, strict=True))
        [(columns, rows)] = self._read(q.runs_on, [(rendered.sql, bound)])
        more = len(rows) > limit
        rows = rows[:limit]
        if keyset == "before":
            rows.reverse()
        at = [columns.index(k) for k in rendered.key_columns]
        keys = [tuple(r[i] for i in at) for r in rows]
        df = pd.DataFrame.from_records(rows, columns=columns).drop(
            columns=list(rendered.key_columns)
        )
        return Page(
            rows=_normalise(df),
            count=count,
            has_next=more if keyset != "before" else True,
            has_previous=(offset > 0 or keyset == "after") if keyset != "before" else more,
            first_key=keys[0] if keys else None,
            last_key=keys[-1] if keys else None,
        )

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
