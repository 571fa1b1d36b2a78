"""The read side: every source reachable in one DuckDB database, and named queries over it.

Each source becomes a schema named after it (`crm.customers`, `sheets.store_sales`):
SQL tables as views over the scanner (live) or as local copies that a background thread
refreshes (snapshot, lib.reading.snapshots: a query never copies, it reads the copy there
is); other kinds as Arrow tables loaded on a TTL. One engine per process; each query runs on
its own cursor because a DuckDB connection is not thread-safe. DuckDB is held to
MEMORY_LIMIT and THREADS so one app process stays within about 1 GB.

When a database server stops while the app runs:
- a query that needs it raises SourceUnavailable naming the source in one line; queries
  over other sources are not held up (each source has its own lock);
- the attachment is kept: the postgres and mysql scanners open a new connection for the
  next query, so the same engine answers again once the server is back, without a restart;
- a snapshot whose refresh fails is still served, with the age of its last good copy
  (`refreshed_at`), and the refresh is retried after RETRY_AFTER_S; a snapshot never
  copied makes its queries say so (SnapshotBuilding while its first copy runs, else why
  the copy failed).

A table of a `sheet` source that cannot be read (a missing or broken file, a Google sheet not
shared) is left out with its one-line reason (`table_errors`); its other tables are served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from lib.errors import BackofficeError, ConfigError, SourceUnavailable
from lib.reading import sheet_findings
from lib.reading.queries import load_query
from lib.reading.sheet_findings import SheetFindings
from lib.reading.snapshots import FIRST_WAIT_S, RETRY_AFTER_S, Snapshots
from lib.reading.source_state import SourceState, SourceStatus
from lib.reading.sources import sql as sql_source
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.cells import CellProblem
from lib.reading.sqlite_race import retried

log = logging.getLogger(__name__)

__all__ = ["RETRY_AFTER_S", "Engine"]
MEMORY_LIMIT = "512MB"  # DuckDB's own share of a 1 GB process (Python, Streamlit, pandas)
THREADS = 2
ALIAS_SUFFIX = "__src"  # `crm__src`: the attached database behind the `crm` schema
TOTAL = "total_rows"  # a list query's whole count, beside each row (Engine.page)

Loader = Callable[[SourceConfig], Mapping[str, pa.Table]]


def default_loaders() -> dict[str, Loader]:
    from lib.reading.sources import mongo, rest, sheet

    return {"mongo": mongo.load, "rest": rest.load, "sheet": sheet.load}


class Engine:
    """Loads sources lazily into DuckDB and runs named queries against them."""

    def __init__(
        self,
        sources: Iterable[SourceConfig],
        queries_dir: Path,
        loaders: Mapping[str, Loader] | None = None,
        clock: Callable[[], float] = time.monotonic,
        memory_limit: str = MEMORY_LIMIT,
    ) -> None:
        self.sources = {s.name: s for s in sources}
        self.queries_dir = queries_dir
        self.loaders = dict(loaders) if loaders is not None else default_loaders()
        self.clock = clock
        self._con = duckdb.connect(
            ":memory:",
            config={
                "memory_limit": memory_limit,
                "threads": THREADS,
                "preserve_insertion_order": False,  # lets big copies stream in less memory
            },
        )
        self._lock = threading.RLock()  # extensions; each source's loading has its own lock
        self._state = {name: SourceState() for name in self.sources}
        self._extensions: set[str] = set()
        self.snapshots = Snapshots(self)  # its thread starts on the first query that needs it

    # -- loading ---------------------------------------------------------------------------

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of the engine's DuckDB (one per thread or query)."""
        return self._con.cursor()

    def alias(self, name: str) -> str:
        """The attached database behind source `name`'s schema."""
        return name + ALIAS_SUFFIX

    def _load_extension(self, name: str) -> None:
        with self._lock:
            if name not in self._extensions:
                from duckdb_extensions import import_extension

                import_extension(name, con=self._con)
                self._con.execute(f"LOAD {name}")
                if name == "mysql":
                    # DuckDB 1.5.5's mysql scanner fails every aggregate (count, max) over a
                    # view of a MySQL table ("INTERNAL Error: Failed to bind column
                    # reference") unless aggregate pushdown is off before the ATTACH.
                    self._con.execute("SET GLOBAL mysql_aggregate_pushdown_enabled = false")
                self._extensions.add(name)

    def _config(self, name: str) -> SourceConfig:
        try:
            return self.sources[name]
        except KeyError:
            raise ConfigError(f"No source named '{name}'") from None

    def ensure(self, name: str) -> None:
        """Make `name` queryable, loading or refreshing what its TTL says is stale.

        Raises SourceUnavailable naming the source; the error is remembered so a status
        page can show it, and retried on the next call.
        """
        cfg = self._config(name)
        state = self._state[name]
        with state.lock:
            try:
                if cfg.kind == "sql":
                    self._ensure_sql(cfg, state)
                else:
                    self._ensure_loaded(cfg, state)
                    state.error = None
            except SourceUnavailable as exc:
                state.error = exc
                raise
            except BackofficeError:
                raise
            except Exception as exc:  # a driver's own error: name the source, scrub secrets
                err = SourceUnavailable(name, self._scrub(cfg, exc))
                state.error = err
                log.warning("source %s failed: %s", name, err.reason)
                raise err from exc
        if not state.waited and self.snapshots.has(name):
            # Once per source, outside its lock (the copying thread takes it to attach): a
            # small database's copies are ready in this time, so the first page (and a
            # catalogue of the tables) sees them; a big one's go on copying meanwhile.
            state.waited = True
            self.snapshots.wait_built(FIRST_WAIT_S, name)

    def _scrub(self, cfg: SourceConfig, exc: BaseException) -> str:
        if cfg.kind == "sql":
            return sql_source.failure_reason(cfg, exc)
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for value in cfg.secrets.values():
            if value:
                text = text.replace(value, "***")
        return text[:300]

    def _fresh(self, loaded_at: float | None, ttl: float) -> bool:
        return loaded_at is not None and self.clock() - loaded_at < ttl

    def _ensure_sql(self, cfg: SourceConfig, state: SourceState) -> None:
        """Attach the database (its live tables are views over the scanner). Snapshots are
        copied by the background thread (lib.reading.snapshots), never here."""
        if self.snapshots.has(cfg.name):
            self.snapshots.start()
        serving = self.snapshots.any_built(cfg.name)
        if state.error is not None and serving and self.clock() < (state.retry_at or 0):
            return  # serving the last good snapshots until the retry is due
        try:
            if not state.attached:
                self._attach(cfg, state, sql_source.table_modes(cfg))
            elif state.error is not None:
                # It failed last time: a bounded check first, so a server that went silent
                # makes this page wait connect_timeout, not as long as TCP does.
                sql_source.check_reachable(cfg)
        except Exception as exc:
            if not serving:  # nothing to serve
                raise
            # Serve the last good copies (their age is `refreshed_at`); try again later.
            self.snapshot_failed(cfg.name, exc)
            return
        state.error, state.retry_at = None, None
        if state.loaded_at is None:
            state.loaded_at = self.clock()

    def attach_for_snapshots(self, name: str) -> None:
        """The snapshot thread's way in: attach source `name` if it is not (raises why not)."""
        cfg, state = self.sources[name], self._state[name]
        with state.lock:
            if not state.attached:
                self._attach(cfg, state, sql_source.table_modes(cfg))
            elif state.error is not None:
                sql_source.check_reachable(cfg)

    def snapshot_failed(self, name: str, exc: BaseException) -> SourceUnavailable:
        """Remember that refreshing `name` failed: its copies are served with their age."""
        cfg, state = self.sources[name], self._state[name]
        err = exc if isinstance(exc, SourceUnavailable) else None
        err = err or SourceUnavailable(name, self._scrub(cfg, exc))
        with state.lock:
            state.error, state.retry_at = err, self.clock() + RETRY_AFTER_S
        log.warning("source %s: snapshot refresh failed (last good copy: %s): %s", name,
                    state.refreshed_at if state.copied else "none", err.reason)  # fmt: skip
        return err

    def snapshot_refreshed(self, name: str) -> None:
        state = self._state[name]
        with state.lock:
            state.copied, state.loaded_at = True, self.clock()
            state.refreshed_at = datetime.now(UTC)
            state.error, state.retry_at = None, None

    def _attach(
        self, cfg: SourceConfig, state: SourceState, tables: Mapping[str, Mapping[str, object]]
    ) -> None:
        att = sql_source.attachment(cfg)
        self._load_extension(att.extension)
        sql_source.check_reachable(cfg)
        cur = self._cursor()
        cur.execute(att.attach_sql(cfg.name + ALIAS_SUFFIX))
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {cfg.name}")
        for name, spec in tables.items():
            if spec["mode"] == "live":
                cur.execute(
                    f'CREATE OR REPLACE VIEW {cfg.name}."{name}" AS SELECT * FROM '
                    f'{cfg.name}{ALIAS_SUFFIX}."{att.schema}"."{spec["table"]}"'
                )
            state.tables[name] = str(spec["mode"])
        state.attached = True
        if state.refreshed_at is None or not self.snapshots.has(cfg.name):
            state.refreshed_at = datetime.now(UTC)

    def _ensure_loaded(self, cfg: SourceConfig, state: SourceState) -> None:
        if self._fresh(state.loaded_at, cfg.ttl) and state.error is None:
            return
        loader = self.loaders.get(cfg.kind)
        if loader is None:
            raise ConfigError(f"Source '{cfg.name}': no loader for kind '{cfg.kind}'")
        tables = loader(cfg)  # outside DuckDB: a slow source must not hold a half-done swap
        cur = self._cursor()
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {cfg.name}")
        for name, arrow in tables.items():
            view = f"__load_{cfg.name}_{name}"
            cur.register(view, arrow)
            try:
                sheet_findings.store(cur, cfg.name, name, view, arrow)  # ROW: in a hidden table
            finally:
                cur.unregister(view)
            state.tables[name] = "cached"
        state.findings = SheetFindings.of(tables)  # bad cells; tables that could not be read
        for name in state.findings.errors:  # unreadable now: its last copy is not served
            sheet_findings.drop(cur, cfg.name, name)
            state.tables.pop(name, None)
        state.loaded_at = self.clock()
        state.refreshed_at = datetime.now(UTC)

    def refresh(self, name: str | None = None) -> None:
        """Forget what is cached (one source or all) and load again now."""
        names = [name] if name else list(self.sources)
        for n in names:
            state = self._state[n]
            with state.lock:
                state.loaded_at, state.retry_at = None, None
                if state.attached and self.sources[n].kind == "sql":
                    # Re-attach too: the catalog is read again (a table changed shape).
                    state.attached = False
        for n in names:
            try:
                self.ensure(n)
            except SourceUnavailable:
                if name:
                    raise
            # Snapshots: the background thread copies what changed; the click waits a little.
            self.snapshots.request(n)

    def refreshed_at(self, names: Iterable[str]) -> datetime | None:
        """The oldest refresh time among these sources: how stale the page's data may be."""
        times = [self._state[n].refreshed_at for n in names if n in self._state]
        known = [t for t in times if t is not None]
        return min(known) if known else None

    # -- reading ---------------------------------------------------------------------------

    def problems(self, source: str) -> dict[str, list[CellProblem]]:
        """The cell problems of each table of a `sheet` source as last loaded (loading it
        first if its TTL says so); {} for other kinds. A bad cell is NULL in its table: it
        does not fail the source. Raises SourceUnavailable like `ensure`."""
        return self._findings(source).problems

    def table_errors(self, source: str) -> dict[str, str]:
        """Each table of a `sheet` source that could not be read as last loaded -> its
        one-line reason; {} for other kinds. Such a table is not queryable, the others are:
        only a source none of whose tables could be read raises, like `ensure`."""
        return self._findings(source).errors

    def _findings(self, source: str) -> SheetFindings:
        if self._config(source).kind != "sheet":
            return SheetFindings()
        self.ensure(source)
        state = self._state[source]
        with state.lock:
            return state.findings.copy()

    def status(self) -> list[SourceStatus]:
        """Every source: reachable or not, its tables' row counts, when it was refreshed."""
        from lib.reading.source_status import statuses

        return statuses(self)

    def query(
        self, name: str, *, sort: tuple[str, str] | None = None, **params: Any
    ) -> pd.DataFrame:
        """Run queries/<name>.sql with bound parameters; loads the sources it names first.

        `sort` is (column, "asc"|"desc") among the query's declared sortable columns."""
        q = load_query(self.queries_dir, name)
        sql = q.render(sort)
        missing = q.params - params.keys()
        if missing:
            raise TypeError(f"query '{name}' needs parameters: {', '.join(sorted(missing))}")
        for source in q.sources:
            self.ensure(source)
        self.snapshots.require(sql, q.sources)  # a copy not made yet: wait a little, or say so
        bound = {k: v for k, v in params.items() if k in q.params}
        try:
            return retried(lambda: self._cursor().execute(sql, bound).df())
        except duckdb.Error as exc:
            # A live scanner fails at query time when its database went away: say which.
            for source in q.sources:
                if self.sources[source].kind == "sql":
                    self._probe(source, exc)
                elif unreadable := self._state[source].findings.unreadable(source, exc):
                    raise unreadable from exc  # a sheet that could not be read: its reason
            raise

    def page(
        self,
        name: str,
        *,
        sort: tuple[str, str] | None = None,
        limit: int,
        offset: int,
        **params: Any,
    ) -> tuple[pd.DataFrame, int]:
        """One page of a list query and the total of the whole list, from one query: the
        list's SQL selects `count(*) OVER () AS total_rows`, so its WHERE clause exists once.

        A page past the end (the list shrank since the link was made) has no row to carry
        the total: the first page is read for it, and the caller moves to the last page."""
        df = self.query(name, sort=sort, limit=limit, offset=offset, **params)
        if TOTAL not in df.columns:
            raise TypeError(f"query '{name}' does not select count(*) OVER () AS {TOTAL}")
        if df.empty and offset > 0:
            first = self.query(name, sort=sort, limit=1, offset=0, **params)
            total = int(first[TOTAL].iloc[0]) if len(first) else 0
        else:
            total = int(df[TOTAL].iloc[0]) if len(df) else 0
        return df.drop(columns=[TOTAL]), total

    def _probe(self, name: str, original: Exception) -> None:
        """Raise SourceUnavailable if source `name`'s database does not answer now.

        Reads one row of its first table through the attachment itself (never a local
        snapshot copy). The attachment stays: the scanner reconnects on the next query."""
        cfg, state = self.sources[name], self._state[name]
        with state.lock:
            if not state.attached:
                raise state.error or SourceUnavailable(name, "not connected") from original
            try:
                sql_source.check_reachable(cfg)
                att = sql_source.attachment(cfg)
                spec = next(iter(sql_source.table_modes(cfg).values()))
                self._cursor().execute(
                    f'SELECT 1 FROM {name}{ALIAS_SUFFIX}."{att.schema}"."{spec["table"]}" LIMIT 1'
                ).fetchall()
            except BackofficeError:
                raise
            except Exception as exc:
                state.error = SourceUnavailable(name, self._scrub(cfg, exc))
                log.warning("source %s failed: %s", name, state.error.reason)
                raise state.error from original

    def data_version(self, sources: Iterable[str]) -> tuple[int, ...]:
        """Changes whenever a snapshot of these sources changed: a key for caching what is
        computed from them (a source without snapshots: always the same)."""
        return self.snapshots.version(sources)

    def close(self) -> None:
        self.snapshots.stop()
        self._con.close()
