"""Reading a snapshot's rows from its source database and putting them in the copy
(lib.reading.snapshots decides when).

- The whole table (first build, a periodic rebuild, a table without `updated_at`): DuckDB's
  scanner, declared columns only, inside the DuckDB transaction that replaces the copy.
- The rows changed since the last refresh: the source's own SQL through SQLAlchemy, bound
  parameters, `updated_at >= :since` (the index on updated_at answers it on SQLite,
  PostgreSQL and MariaDB; the sqlite scanner would read the whole table for it).
- A table that `follows` another (payments, refunds follow orders): its rows whose
  `parent_key` is among the changed parent rows' keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from lib.errors import ConfigError
from lib.reading.sources import sql as sql_source
from lib.reading.sources.base import SourceConfig

OVERLAP_S = 60.0  # re-read rows this much older than the newest seen: clock skew, same-second
REBUILD_S = 86400.0  # a full copy this often: rows deleted at the source leave the copy
MAX_CHANGED_ROWS = 100_000  # more changed rows than this: a full copy is cheaper
IN_CHUNK = 1000  # keys per `IN :keys` read of a following table


@dataclass(frozen=True)
class SnapshotSpec:
    """One snapshot table as declared under [sources.<name>.tables]."""

    name: str  # the DuckDB table: <source>."<name>"
    table: str  # the source database's table
    ttl: float  # seconds between background refreshes
    columns: tuple[str, ...] | None = None  # None: every column
    key: str | None = None
    updated_at: str | None = None
    follows: str | None = None  # another snapshot of the source, refreshed with it
    parent_key: str | None = None  # this table's column holding the followed table's key
    overlap_s: float = OVERLAP_S
    rebuild_s: float = REBUILD_S

    @property
    def incremental(self) -> bool:
        return self.key is not None and self.updated_at is not None

    def select_list(self) -> str:
        return ", ".join(f'"{c}"' for c in self.columns) if self.columns else "*"


def specs(cfg: SourceConfig) -> dict[str, SnapshotSpec]:
    """The source's snapshot tables, followed tables first."""
    out: dict[str, SnapshotSpec] = {}
    for name, entry in sql_source.table_modes(cfg).items():
        if entry["mode"] != "snapshot":
            continue
        fields = {k: v for k, v in entry.items() if k not in ("mode", "table", "ttl")}
        out[name] = SnapshotSpec(name, str(entry["table"]), float(entry["ttl"]), **fields)  # type: ignore[arg-type]
    for spec in out.values():
        if spec.follows is None:
            continue
        parent = out.get(spec.follows)
        if parent is None or not parent.incremental or spec.parent_key is None:
            raise ConfigError(
                f"Source '{cfg.name}', table '{spec.name}': follows names a snapshot of this "
                "source with key and updated_at, and needs parent_key"
            )
    return dict(sorted(out.items(), key=lambda item: item[1].follows is not None))


def full_copy_sql(source: str, alias: str, schema: str, spec: SnapshotSpec) -> str:
    return (
        f'CREATE OR REPLACE TABLE {source}."{spec.name}" AS '
        f'SELECT {spec.select_list()} FROM {alias}."{schema}"."{spec.table}"'
    )


def since(newest: Any, overlap_s: float) -> Any:
    """The lower bound of the next incremental read: the newest updated_at copied, minus the
    overlap, as the source stores it (SQLite: text in the same format; else a datetime)."""
    if isinstance(newest, str):
        moment = datetime.fromisoformat(newest) - timedelta(seconds=overlap_s)
        return moment.isoformat(sep="T" if "T" in newest else " ", timespec="seconds")
    return newest - timedelta(seconds=overlap_s)


def _arrow(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    return pa.table({c: pa.array([r[i] for r in rows]) for i, c in enumerate(columns)})


class ChangeReader:
    """Reads changed rows from one source's database (a small pool, opened on first use)."""

    def __init__(self, cfg: SourceConfig) -> None:
        self.cfg = cfg
        self._engine: sa.Engine | None = None

    def _db(self) -> sa.Engine:
        if self._engine is None:
            from lib.reading.source_query import _engine_for

            self._engine = _engine_for(self.cfg)
        return self._engine

    def _select(self, spec: SnapshotSpec, where: str) -> str:
        quote = self._db().dialect.identifier_preparer.quote
        cols = ", ".join(quote(c) for c in spec.columns) if spec.columns else "*"
        return f"SELECT {cols} FROM {quote(spec.table)} WHERE {where}"

    def count_since(self, spec: SnapshotSpec, bound: Any) -> int:
        quote = self._db().dialect.identifier_preparer.quote
        sql = f"SELECT count(*) FROM {quote(spec.table)} WHERE {quote(spec.updated_at)} >= :since"
        with self._db().connect() as conn:
            return int(conn.execute(sa.text(sql), {"since": bound}).scalar_one())

    def rows_since(self, spec: SnapshotSpec, bound: Any) -> pa.Table:
        quote = self._db().dialect.identifier_preparer.quote
        sql = self._select(spec, f"{quote(spec.updated_at)} >= :since")
        with self._db().connect() as conn:
            result = conn.execute(sa.text(sql), {"since": bound})
            return _arrow(list(result.keys()), result.fetchall())

    def rows_for(self, spec: SnapshotSpec, keys: Sequence[Any]) -> pa.Table | None:
        """The rows whose parent_key is one of `keys`; None when there are no keys."""
        if not keys:
            return None
        quote = self._db().dialect.identifier_preparer.quote
        stmt = sa.text(self._select(spec, f"{quote(spec.parent_key)} IN :keys")).bindparams(
            sa.bindparam("keys", expanding=True)
        )
        names: list[str] = []
        rows: list[Sequence[Any]] = []
        with self._db().connect() as conn:
            for start in range(0, len(keys), IN_CHUNK):
                result = conn.execute(stmt, {"keys": list(keys[start : start + IN_CHUNK])})
                names = list(result.keys())
                rows.extend(result.fetchall())
        return _arrow(names, rows)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def differs(cur: duckdb.DuckDBPyConnection, source: str, spec: SnapshotSpec, rows: Any) -> bool:
    """Whether these rows read from the source are not in the copy as they are (the overlap
    re-reads rows already copied: a refresh that changes nothing writes nothing)."""
    key = spec.parent_key if spec.follows else spec.key
    if key is None:
        return True
    cols = ", ".join(f'"{c}"' for c in rows.column_names)
    cur.register("__snapshot_rows", rows)
    try:
        n = cur.execute(
            f"SELECT count(*) FROM (SELECT {cols} FROM __snapshot_rows EXCEPT "
            f'SELECT {cols} FROM {source}."{spec.name}" '
            f'WHERE "{key}" IN (SELECT "{key}" FROM __snapshot_rows))'
        ).fetchone()[0]
        return bool(n)
    except duckdb.Error:  # types the comparison cannot reconcile: write them
        return True
    finally:
        cur.unregister("__snapshot_rows")


def upsert(cur: duckdb.DuckDBPyConnection, source: str, spec: SnapshotSpec, rows: Any) -> None:
    """Replace the copy's rows with these keys (a follower: these parent keys) by `rows`."""
    key = spec.parent_key if spec.follows else spec.key
    cur.register("__snapshot_rows", rows)
    try:
        cur.execute(
            f'DELETE FROM {source}."{spec.name}" '
            f'WHERE "{key}" IN (SELECT "{key}" FROM __snapshot_rows)'
        )
        cur.execute(f'INSERT INTO {source}."{spec.name}" BY NAME SELECT * FROM __snapshot_rows')
    finally:
        cur.unregister("__snapshot_rows")
