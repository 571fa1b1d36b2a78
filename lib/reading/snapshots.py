"""Snapshots: local DuckDB copies of SQL tables, refreshed by one background thread per engine.

A page's query never copies: it reads the copy there is (lib.reading.engine). The thread
("snapshots", a daemon started by the engine on first use) wakes every TICK_S and, per
source, refreshes each snapshot whose `ttl` has passed:

- the first time (and every `rebuild_s`, default a day): a full copy through DuckDB's
  scanner, declared `columns` only (never personal data: the dashboard needs none);
- then, for a table with `key` and `updated_at`: the rows with updated_at >= the newest
  copied minus `overlap_s` (60 s: clock skew between writers, same-second writes) read
  through the source's own SQL, replacing the copy's rows with the same key;
- a table that `follows` another (`parent_key`): its rows of the followed table's changed
  keys, in the same DuckDB transaction (payments and refunds have no updated_at; a payment's
  or refund's change changes its order's updated_at);
- a table with neither: a full copy every ttl (small tables: sellers).
Rows deleted at the source stay until the next full copy (the app deletes no order, payment
or refund). A refresh that fails keeps the last copy, served with its age (`refreshed_at`);
it is tried again after RETRY_AFTER_S.

Derived tables (`derived.<name> = { query = "..." }` under a source) are computed in DuckDB
from snapshots (the dashboard's daily rollups) and rebuilt after the snapshots they read
change, at most every their ttl.

Before a snapshot's first copy is done, a query that reads it waits up to FIRST_WAIT_S (a
small demo is ready by then) and then raises SnapshotBuilding; queries over other tables
are not held up.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lib.errors import BackofficeError
from lib.reading import snapshot_derived
from lib.reading.snapshot_derived import Derived
from lib.reading.snapshot_reads import (
    MAX_CHANGED_ROWS,
    ChangeReader,
    SnapshotSpec,
    differs,
    full_copy_sql,
    since,
    specs,
    upsert,
)
from lib.reading.sources import sql as sql_source

if TYPE_CHECKING:
    from lib.reading.engine import Engine

log = logging.getLogger(__name__)

TICK_S = 1.0  # how often the thread looks for a due refresh
FIRST_WAIT_S = 3.0  # a query waits this long for a first copy, then says it is being prepared
RETRY_AFTER_S = 30.0  # a failed refresh is tried again after this


_RUNNING: weakref.WeakSet[Snapshots] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Stop every refresh thread before the interpreter goes: a daemon thread still inside
    DuckDB at exit aborts the process."""
    for snapshots in list(_RUNNING):
        snapshots.stop(timeout=5.0)


class SnapshotBuilding(BackofficeError):
    """A query reads a snapshot whose first copy is not done yet."""

    def __init__(self, source: str, table: str, seconds: float) -> None:
        self.source, self.table, self.seconds = source, table, seconds
        super().__init__(
            f"The data is being prepared (snapshot of {source}.{table}, started "
            f"{int(seconds)} s ago). It shows here once ready; other pages work meanwhile."
        )


@dataclass
class TableState:
    spec: SnapshotSpec
    built: bool = False
    due: float = 0.0  # engine clock: the next refresh
    copied_at: float | None = None  # engine clock: the last full copy


@dataclass
class SourceSnapshots:
    tables: dict[str, TableState]
    derived: dict[str, Derived]
    reader: ChangeReader
    lock: threading.Lock = field(default_factory=threading.Lock)  # one refresh at a time
    started: float | None = None  # time.monotonic(): the first copy began
    building: bool = False
    version: int = 0  # +1 whenever a refresh changed a snapshot
    derived_version: int = 0  # +1 whenever a derived table was rebuilt
    error: BackofficeError | None = None  # the last refresh's failure
    forced: bool = False  # a refresh of every table was asked for (the Refresh button)
    rounds: int = 0  # refreshes of this source done (or failed)

    def names(self) -> list[str]:
        return [*self.tables, *self.derived]

    def built(self, name: str) -> bool:
        item = self.tables.get(name) or self.derived.get(name)
        return bool(item and item.built)

    def source_table(self, name: str) -> str:
        return self.tables[name].spec.table if name in self.tables else name


def _reads(source: str, table: str) -> re.Pattern[str]:
    return re.compile(rf'\b{re.escape(source)}\."?{re.escape(table)}\b(?!")|'
                      rf'\b{re.escape(source)}\."{re.escape(table)}"')  # fmt: skip


class Snapshots:
    """Every snapshot of an engine's SQL sources, and the thread that refreshes them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sources: dict[str, SourceSnapshots] = {}
        for name, cfg in engine.sources.items():
            if cfg.kind != "sql":
                continue
            tables = {n: TableState(s) for n, s in specs(cfg).items()}
            derived = {
                n: Derived(n, str(d["query"]), float(d["ttl"]))  # type: ignore[arg-type]
                for n, d in sql_source.derived_tables(cfg).items()
            }
            if tables or derived:
                self._sources[name] = SourceSnapshots(tables, derived, ChangeReader(cfg))
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._rounds = threading.Condition()
        self._force_derived = False

    # -- what pages ask ---------------------------------------------------------------------

    def has(self, source: str) -> bool:
        return source in self._sources

    def tables(self, source: str) -> list[str]:
        src = self._sources.get(source)
        return src.names() if src else []

    def built(self, source: str, name: str) -> bool:
        src = self._sources.get(source)
        return bool(src and src.built(name))

    def any_built(self, source: str) -> bool:
        src = self._sources.get(source)
        return bool(src and any(src.built(n) for n in src.names()))

    def version(self, sources: Iterable[str]) -> tuple[int, ...]:
        """Changes whenever a snapshot or derived table of these sources changed: a key for
        caching what is computed from them."""
        out: list[int] = []
        for name in sources:
            src = self._sources.get(name)
            out += [src.version, src.derived_version] if src else [0, 0]
        return tuple(out)

    def require(self, sql: str, sources: Iterable[str], wait_s: float = FIRST_WAIT_S) -> None:
        """Return when every snapshot `sql` reads has a copy; else, after waiting up to
        `wait_s` for a first copy, raise SnapshotBuilding (or the failure of the source's
        last refresh, when nothing is being copied)."""
        for source in sources:
            src = self._sources.get(source)
            if src is None:
                continue
            needed = [n for n in src.names() if _reads(source, n).search(sql)]
            if all(src.built(n) for n in needed):
                continue
            self.start()
            self._wake.set()
            with self._rounds:
                self._rounds.wait_for(
                    lambda src=src, needed=needed: (
                        all(src.built(n) for n in needed)
                        or (src.error is not None and not src.building)
                    ),
                    timeout=wait_s,
                )
            missing = [n for n in needed if not src.built(n)]
            if not missing:
                continue
            failed = next((d.error for d in src.derived.values() if d.error), None)
            if src.error is not None and not src.building:
                raise src.error
            if failed is not None and not src.building:
                raise failed
            started = src.started if src.started is not None else time.monotonic()
            raise SnapshotBuilding(source, src.source_table(missing[0]), time.monotonic() - started)

    # -- the thread -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the refresh thread once (no-op without snapshots or once started)."""
        if not self._sources or self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
                self._thread.start()
                _RUNNING.add(self)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for src in self._sources.values():
            src.reader.dispose()

    def wake(self) -> None:
        self._wake.set()

    def request(self, source: str, wait_s: float = FIRST_WAIT_S) -> bool:
        """Ask the thread to refresh every table of `source` now (and the derived tables
        reading them); wait up to `wait_s` for it. True when it was done in time."""
        src = self._sources.get(source)
        if src is None:
            return True
        with self._rounds:
            target = src.rounds + (2 if src.lock.locked() else 1)
            src.forced = True
            self._force_derived = True
        self.start()
        self._wake.set()
        with self._rounds:
            return self._rounds.wait_for(
                lambda: src.rounds >= target and not self._force_derived, timeout=wait_s
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh_due()
            except Exception:  # never let the thread die: the next tick tries again
                log.exception("snapshot refresh round failed")
            self._wake.wait(TICK_S)
            self._wake.clear()

    def refresh_due(self, force: bool = False) -> None:
        """One round: every source's due snapshots, then the derived tables due."""
        for name in self._sources:
            if self._stop.is_set():
                return
            self.refresh_source(name, force=force)
        forced, self._force_derived = self._force_derived, False
        self._refresh_derived(force or forced)
        self._notify()

    def wait_built(self, timeout: float, source: str | None = None) -> bool:
        """Start the thread and wait until every snapshot and derived table (of `source`, or
        of all) has a copy, or a first copy failed. True when all have one."""
        chosen = [self._sources[source]] if source in self._sources else []
        chosen = chosen if source else list(self._sources.values())

        def failed(s: SourceSnapshots, n: str) -> bool:
            derived = s.derived.get(n)
            return bool(derived and derived.error) or bool(s.error and not s.building)

        def done() -> bool:
            return all(s.built(n) or failed(s, n) for s in chosen for n in s.names())

        self.start()
        self._wake.set()
        with self._rounds:
            self._rounds.wait_for(done, timeout=timeout)
        return all(s.built(n) for s in chosen for n in s.names())

    def _notify(self) -> None:
        with self._rounds:
            self._rounds.notify_all()

    # -- one source -------------------------------------------------------------------------

    def refresh_source(self, name: str, *, force: bool = False, blocking: bool = True) -> None:
        """Refresh the source's due snapshots (all of them when `force`). With blocking False,
        return at once if a refresh of it is running already."""
        src = self._sources.get(name)
        if src is None or not src.lock.acquire(blocking=blocking):
            return
        try:
            now = self._engine.clock()
            force, src.forced = force or src.forced, False
            due = [
                t
                for t in src.tables.values()
                if t.spec.follows is None and (force or not t.built or now >= t.due)
            ]
            if not due:
                return
            if src.started is None:
                src.started = time.monotonic()
            src.building = not all(t.built for t in src.tables.values())
            try:
                self._engine.attach_for_snapshots(name)
                changed = self._copy(name, src, due, now)
            except Exception as exc:
                src.error = self._engine.snapshot_failed(name, exc)
                for t in due:
                    t.due = now + RETRY_AFTER_S
                return
            src.error = None
            for t in due:
                t.due = now + t.spec.ttl
            self._engine.snapshot_refreshed(name)
            if changed:
                src.version += 1
        finally:
            src.building = False
            src.rounds += 1
            src.lock.release()
            self._notify()

    def _followers(self, src: SourceSnapshots, parent: str) -> list[TableState]:
        return [t for t in src.tables.values() if t.spec.follows == parent]

    def _copy(self, name: str, src: SourceSnapshots, due: list[TableState], now: float) -> bool:
        """Read what changed from the source, then apply it in one DuckDB transaction."""
        att = sql_source.attachment(self._engine.sources[name])
        alias = self._engine.alias(name)
        full: list[TableState] = []
        updates: list[tuple[TableState, Any]] = []  # (table, arrow rows to put in)
        cur = self._engine.cursor()
        for t in due:
            spec = t.spec
            rebuild = t.copied_at is None or now - t.copied_at >= spec.rebuild_s
            if not t.built or not spec.incremental or rebuild:
                full += [t, *self._followers(src, spec.name)]
                continue
            newest = cur.execute(
                f'SELECT max("{spec.updated_at}") FROM {name}."{spec.name}"'
            ).fetchone()[0]
            if newest is None:
                full += [t, *self._followers(src, spec.name)]
                continue
            bound = since(newest, spec.overlap_s)
            if src.reader.count_since(spec, bound) > MAX_CHANGED_ROWS:
                full += [t, *self._followers(src, spec.name)]
                continue
            rows = src.reader.rows_since(spec, bound)
            keys = rows.column(spec.key).to_pylist() if rows.num_rows else []
            updates.append((t, rows))
            for f in self._followers(src, spec.name):
                updates.append((f, src.reader.rows_for(f.spec, keys)))
        updates = [(t, rows) for t, rows in updates if rows is not None and rows.num_rows]
        changed = [(t, rows) for t, rows in updates if differs(cur, name, t.spec, rows)]
        if not full and not changed:
            return False
        cur.execute("BEGIN")  # the source's copies change together, or not at all
        try:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
            for t in full:
                cur.execute(full_copy_sql(name, alias, att.schema, t.spec))
            for t, rows in changed:
                upsert(cur, name, t.spec, rows)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        for t in full:
            t.built, t.copied_at = True, now
        return True

    # -- derived tables ---------------------------------------------------------------------

    def _ready(self, sql: str) -> bool:
        """Whether every snapshot `sql` reads has a copy."""
        return all(
            src.built(n)
            for s, src in self._sources.items()
            for n in src.tables
            if _reads(s, n).search(sql)
        )

    def _versions(self, sources: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self._sources[s].version for s in sources if s in self._sources)

    def _refresh_derived(self, force: bool) -> None:
        for source, src in self._sources.items():
            for d in src.derived.values():
                if self._stop.is_set():
                    return  # the engine is closing
                args = (self._ready, self._versions, force, RETRY_AFTER_S)
                if snapshot_derived.refresh(d, source, self._engine, *args):
                    src.derived_version += 1
                    self._notify()
