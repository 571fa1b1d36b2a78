"""The record of every workflow run: table `workflow_runs` in the audit database.

One row per run, written when it starts (outcome `running`) and again when it ends. Params,
item keys and errors are masked before they are stored, so a row holds no raw personal data.

A run whose process died never gets its end written. The live registry (lib.workflows.live)
touches `heartbeat_at` of its running runs every HEARTBEAT_S seconds; a row still `running`
whose heartbeat is older than `stale_after` is read as `interrupted` (derived on read, never
written: the row stays as the dead process left it). Several processes may share the
database; each keeps only its own runs alive.

`stopped_by` (who pressed Stop) came after the first version of the table: create_schema
adds the column to a table made without it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lib.access.masking import column_kind, mask, mask_contacts, masked_line
from lib.access.principal import Principal
from lib.errors import BackofficeError, ConfigError
from lib.records.database import READ_ONLY, make_engine
from lib.workflows.model import FailedItem, RunResult

log = logging.getLogger(__name__)

TABLE = "workflow_runs"
INTERRUPTED = "interrupted"  # read-only outcome: `running` with no heartbeat for stale_after
HEARTBEAT_S = 20.0  # how often the live registry touches its running runs
STALE_AFTER = timedelta(seconds=90)  # over four missed heartbeats: the process is gone
INTERRUPTED_ERROR = "The server stopped before this run finished"

metadata = sa.MetaData()

# Times are ISO 8601 text in UTC with microseconds (sorts as text on both backends), like
# audit_log; JSON as text so both backends store the same thing.
workflow_runs = sa.Table(
    TABLE,
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("workflow", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_roles", sa.Text, nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("heartbeat_at", sa.String(40), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("steps", sa.Text, nullable=False),
    sa.Column("failed", sa.Text, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("retry_of", sa.String(32)),
    sa.Column("error", sa.Text),
    sa.Column("stopped_by", sa.Text),  # added later: see _add_missing_columns
    sa.Index("ix_workflow_runs_started_at", "started_at"),
    sa.Index("ix_workflow_runs_workflow", "workflow", "started_at"),
)


@dataclass(frozen=True)
class RunRecord:
    """A stored run, decoded. `outcome` is one of model.OUTCOMES or INTERRUPTED."""

    id: str
    workflow: str
    actor: str
    actor_roles: tuple[str, ...]
    started_at: datetime
    finished_at: datetime | None
    params: dict[str, Any]  # masked
    outcome: str
    steps: tuple[dict[str, Any], ...]  # StepReport.as_dict() each
    failed: tuple[FailedItem, ...]
    rows: int
    retry_of: str | None
    error: str | None
    stopped_by: str | None = None  # who pressed Stop, if anyone did

    @property
    def seconds(self) -> float | None:
        """How long the run took; None while it runs (or if it was interrupted)."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def mask_params(params: Mapping[str, Any], keep: Collection[str] = ()) -> dict[str, Any]:
    """Run params as they may be stored and shown: JSON values (dates as ISO text), a param
    named like personal data masked by its kind, contacts in any other text masked. The
    params named in `keep` are stored as given: the live registry names a workflow's
    choice, int and date params there (an option, a bounded number or a date carries no
    personal data), so a run's link reopens it with them; only text params are masked."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif value is not None and not isinstance(value, bool | int | float | str):
            value = str(value)
        kind = column_kind(key)
        if key in keep:
            pass
        elif kind is not None and value is not None:
            value = mask(kind, value)
        elif isinstance(value, str):
            value = mask_contacts(value)
        out[str(key)] = value
    return out


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class RunsUnavailable(BackofficeError):
    """The audit database holding the run history could not be read or written."""


class RunStore:
    """workflow_runs in one SQLite or PostgreSQL database, named by a SQLAlchemy URL."""

    def __init__(self, url: str | sa.URL, *, stale_after: timedelta = STALE_AFTER) -> None:
        self.url = sa.make_url(url)
        backend = self.url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ConfigError(f"Workflow runs: use SQLite or PostgreSQL, not '{backend}'")
        self.stale_after = stale_after
        # wal=True as AuditStore: the same file, and its journal mode is the file's, not ours.
        self.db = make_engine(self.url, wal=True)
        self._ready = False
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RunStore({self.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        self.db.dispose()

    # --- schema ---------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create workflow_runs if missing; safe to call every start, from several processes."""
        with self._ready_lock:
            if self._ready:
                return
            database = self.url.database
            if self.url.get_backend_name() == "sqlite" and database not in (None, "", ":memory:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            with self._guard():
                try:
                    metadata.create_all(self.db, checkfirst=True)
                except (sa.exc.ProgrammingError, sa.exc.IntegrityError):
                    # Another process created it between the check and the CREATE.
                    with self.db.connect() as conn:
                        if not sa.inspect(conn).has_table(TABLE):
                            raise
                self._add_missing_columns()
            self._ready = True

    def _add_missing_columns(self) -> None:
        """Add the columns a table made by an earlier version lacks (nullable, no default:
        the same ALTER on SQLite and PostgreSQL). Another process adding one at the same
        time is not an error."""
        with self.db.connect() as conn:
            have = {c["name"] for c in sa.inspect(conn).get_columns(TABLE)}
        for column in [c for c in workflow_runs.columns if c.name not in have]:
            kind = column.type.compile(dialect=self.db.dialect)
            ddl = f'ALTER TABLE {TABLE} ADD COLUMN "{column.name}" {kind}'
            try:
                with self.db.begin() as conn:
                    conn.execute(sa.text(ddl))
            except (sa.exc.ProgrammingError, sa.exc.OperationalError):
                with self.db.connect() as conn:
                    if column.name not in {c["name"] for c in sa.inspect(conn).get_columns(TABLE)}:
                        raise
                log.info("workflow runs: column %s added by another process", column.name)

    # --- writing --------------------------------------------------------------------------

    def create(
        self,
        workflow: str,
        principal: Principal,
        params: Mapping[str, Any],
        retry_of: str | None = None,
        *,
        run_id: str | None = None,
        started_at: datetime | None = None,
        keep: Collection[str] = (),
    ) -> RunRecord:
        """Record a run that starts now (or at `started_at`), as `running`; returns it with
        its id (`run_id`, else a new one). `keep`: params stored unmasked (mask_params)."""
        now = utc_text(started_at or datetime.now(UTC))
        values = {
            "id": run_id or uuid.uuid4().hex,
            "workflow": workflow,
            "actor": principal.username,
            "actor_roles": _json(list(principal.roles)),
            "started_at": now,
            "finished_at": None,
            "heartbeat_at": now,
            "params": _json(mask_params(params, keep)),
            "outcome": "running",
            "steps": "[]",
            "failed": "[]",
            "rows": 0,
            "retry_of": retry_of,
            "error": None,
            "stopped_by": None,
        }
        self.create_schema()
        with self._guard(), self.db.begin() as conn:
            conn.execute(workflow_runs.insert().values(**values))
        return self._decode(values)

    def finish(self, run_id: str, result: RunResult, stopped_by: str | None = None) -> bool:
        """Record how run `run_id` ended (and who asked it to stop, when it ended `stopped`:
        a Stop pressed after the last item did not stop it); False if it is unknown or
        already finished."""
        rows = 0 if result.result is None else len(result.result)
        failed = [
            {"step": f.step, "item": masked_line(f.item), "error": masked_line(f.error)}
            for f in result.failed
        ]
        values = {
            "finished_at": utc_text(datetime.now(UTC)),
            "outcome": result.outcome,
            "steps": _json([s.as_dict() for s in result.steps]),
            "failed": _json(failed),
            "rows": rows,
            "error": masked_line(result.error) if result.error else None,
            "stopped_by": stopped_by if result.outcome == "stopped" else None,
        }
        c = workflow_runs.c
        stmt = workflow_runs.update().where(c.id == run_id, c.outcome == "running").values(**values)
        self.create_schema()
        with self._guard(), self.db.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        """Mark these runs (still running) as alive now."""
        ids = list(run_ids)
        if not ids:
            return
        c = workflow_runs.c
        stmt = (
            workflow_runs.update()
            .where(c.id.in_(ids), c.outcome == "running")
            .values(heartbeat_at=utc_text(datetime.now(UTC)))
        )
        self.create_schema()
        with self._guard(), self.db.begin() as conn:
            conn.execute(stmt)

    # --- reading --------------------------------------------------------------------------

    def recent(self, limit: int = 50, workflow: str | None = None) -> list[RunRecord]:
        """The last `limit` runs (of `workflow`, if given), newest first."""
        c = workflow_runs.c
        stmt = sa.select(workflow_runs).order_by(c.started_at.desc(), c.id.desc()).limit(limit)
        if workflow is not None:
            stmt = stmt.where(c.workflow == workflow)
        with self._reading() as conn:
            found = [dict(row._mapping) for row in conn.execute(stmt)]
        return [self._decode(row) for row in found]

    def get(self, run_id: str) -> RunRecord | None:
        with self._reading() as conn:
            row = conn.execute(sa.select(workflow_runs).where(workflow_runs.c.id == run_id)).first()
        return self._decode(dict(row._mapping)) if row else None

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        self.create_schema()
        with self._guard(), self.db.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A database error as one line a user can act on (the driver's first line)."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
            log.warning("workflow runs store %r: %s", self, reason or type(exc.orig).__name__)
            raise RunsUnavailable(
                f"The record of workflow runs is unavailable: {masked_line(reason, 200)}"
            ) from exc

    def _decode(self, row: Mapping[str, Any]) -> RunRecord:
        started = datetime.fromisoformat(row["started_at"])
        finished = datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None
        outcome, error = row["outcome"], row["error"]
        if outcome == "running":
            beat = datetime.fromisoformat(row["heartbeat_at"])
            if datetime.now(UTC) - beat > self.stale_after:
                outcome, error = INTERRUPTED, INTERRUPTED_ERROR
        return RunRecord(
            id=row["id"],
            workflow=row["workflow"],
            actor=row["actor"],
            actor_roles=tuple(json.loads(row["actor_roles"])),
            started_at=started,
            finished_at=finished,
            params=json.loads(row["params"]),
            outcome=outcome,
            steps=tuple(json.loads(row["steps"])),
            failed=tuple(FailedItem(**f) for f in json.loads(row["failed"])),
            rows=int(row["rows"]),
            retry_of=row["retry_of"],
            error=error,
            stopped_by=row.get("stopped_by"),
        )


_stores: dict[str, RunStore] = {}
_stores_lock = threading.Lock()


def store_for(url: str) -> RunStore:
    """The process's one RunStore for `url` (one engine and pool per database)."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = _stores[url] = RunStore(url)
        return store


def dispose_stores() -> None:
    """Close every store `store_for` made (tests)."""
    with _stores_lock:
        for store in _stores.values():
            store.dispose()
        _stores.clear()
