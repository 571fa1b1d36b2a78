"""The audit store: append rows to the chain, inside the caller's transaction or their own.

Appends are serialized so the chain never forks. PostgreSQL: a transaction-scoped advisory
lock taken before the last row is read, held until commit or rollback. SQLite: every write
transaction starts with BEGIN IMMEDIATE (lib.records.database), which takes the database's single
write lock up front, so a second writer waits (busy timeout) before it reads anything.
Either way the id is the last id + 1 and the primary key, so a writer that somehow read a
stale last row fails on the duplicate id instead of forking the chain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lib.audit import schema
from lib.audit.chain import GENESIS_HASH, ChainReport, check_chain, row_hash
from lib.audit.entry import AuditEntry, AuditRow, refuse_raw_emails, to_json
from lib.audit.schema import audit_log
from lib.errors import ConfigError
from lib.records.database import READ_ONLY, make_engine

# pg_advisory_xact_lock key for the chain: the bytes of "auditlog" as a bigint.
CHAIN_LOCK_KEY = int.from_bytes(b"auditlog", "big")
# A count past this many says "10,000+" rather than read the whole log (lib.ui.audit).
COUNT_CAP = 10_000
PageKey = tuple[str, int]  # a row's place in the pages' order: occurred_at as stored, id


def utc_text(moment: datetime) -> str:
    """The stored form of a time: ISO 8601 in UTC with microseconds (sorts as text)."""
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class AuditStore:
    """The audit_log table in one SQLite or PostgreSQL database, named by a SQLAlchemy URL."""

    def __init__(self, url: str | sa.URL) -> None:
        self.url = sa.make_url(url)
        self.backend = self.url.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise ConfigError(f"Audit store: use SQLite or PostgreSQL, not '{self.backend}'")
        self.db = make_engine(self.url, wal=True)  # DuckDB never reads the audit log

    def __repr__(self) -> str:
        return f"AuditStore({self.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        self.db.dispose()

    # --- schema ---------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create audit_log and its append-only triggers if missing; safe to call every start."""
        if self.backend == "sqlite" and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        with self.begin() as conn:  # the chain lock also keeps replicas from racing here
            schema.create(conn)

    def has_schema(self) -> bool:
        with self._reading() as conn:
            return sa.inspect(conn).has_table(schema.TABLE)

    # --- writing --------------------------------------------------------------------------

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection in a write transaction (chain lock held on PostgreSQL), committed on
        exit or rolled back on an exception. Change other tables of this database through it
        and `record` the change: both commit or neither does."""
        with self.db.begin() as conn:
            # Chain lock first, before any row lock the caller takes: one lock order, so an
            # action's transaction and another's record cannot deadlock on each other.
            _lock_chain(conn)
            yield conn

    def record(self, conn: sa.Connection, entry: AuditEntry) -> AuditRow:
        """Append `entry` inside `conn`'s transaction; it commits or rolls back with it.

        Raises ValueError if the entry's detail is not JSON or holds an unmasked e-mail
        address. Holds the chain lock until the transaction ends, so keep it short.
        """
        refuse_raw_emails(entry.detail)
        detail = to_json(dict(entry.detail))
        _lock_chain(conn)
        last = conn.execute(
            sa.select(audit_log.c.id, audit_log.c.row_hash).order_by(audit_log.c.id.desc()).limit(1)
        ).first()
        prev_id, prev_hash = (last.id, last.row_hash) if last else (0, GENESIS_HASH)
        values: dict[str, Any] = {
            "id": prev_id + 1,
            "occurred_at": utc_text(datetime.now(UTC)),
            "actor": entry.actor,
            "actor_roles": to_json(list(entry.actor_roles)),
            "action": entry.action,
            "target_type": entry.target_type,
            "target_id": entry.target_id,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "detail": detail,
            "request_id": entry.request_id,
            "prev_hash": prev_hash,
        }
        values["row_hash"] = row_hash(prev_hash, values)
        conn.execute(audit_log.insert().values(**values))
        return AuditRow.from_stored(values)

    def append(self, entry: AuditEntry) -> AuditRow:
        """Append `entry` in a transaction of its own (remote outcomes, denials, sign-ins)."""
        with self.begin() as conn:
            return self.record(conn, entry)

    # --- reading --------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        with self.db.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():  # one snapshot for the whole read
                yield conn

    def verify(self, batch: int = 1000) -> ChainReport:
        """Recompute the chain in id order, streaming; names the first broken row."""
        with self._reading() as conn:
            result = conn.execution_options(yield_per=batch).execute(
                sa.select(audit_log).order_by(audit_log.c.id)
            )
            return check_chain(row._mapping for row in result)

    def page(
        self, *, limit: int, before: PageKey | None = None, **options: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of the rows matching `filters` (as `query` takes them) in time order
        (occurred_at, then id), and whether more rows follow it. Keyset: `after` a row's
        `page_key`, the rows that follow it in this order (Next); `before` one, the page that
        ends just before it (Previous), and whether rows precede that page. `offset` only
        for a page opened by its number. Each is one range read of an index (a filter's
        index, or the time's), however long the log and whatever the time range. Options
        and filters as `page_statement` takes them."""
        stmt = self.page_statement(limit=limit, before=before, **options)
        with self._reading() as conn:
            found = [AuditRow.from_stored(r._mapping).as_dict() for r in conn.execute(stmt)]
        more = len(found) > limit
        found = found[:limit]
        return (found if before is None else found[::-1]), more

    @staticmethod
    def page_key(row: Mapping[str, Any]) -> PageKey:
        """Where a row (as `page` returns it) stands in the pages' order."""
        return utc_text(row["occurred_at"]), int(row["id"])

    def page_statement(
        self,
        *,
        limit: int,
        offset: int = 0,
        newest_first: bool = True,
        after: PageKey | None = None,
        before: PageKey | None = None,
        **filters: Any,
    ) -> sa.Select:
        """`page`'s statement (limit + 1 rows, so a page knows whether more follow): the
        page's ids found in one index alone (lib.audit.schema: a filter's column, then the
        time and the id, then the other filters' columns), then those rows read by id."""
        c = audit_log.c
        order = sa.tuple_(c.occurred_at, c.id)
        forward = before is None  # read in the page's own order, or against it (Previous)
        ids = self._select(**filters).with_only_columns(c.id, c.occurred_at)
        if after is not None:
            ids = ids.where(order < tuple(after) if newest_first else order > tuple(after))
        if before is not None:
            ids = ids.where(order > tuple(before) if newest_first else order < tuple(before))
        descending = newest_first == forward
        by = (c.occurred_at.desc(), c.id.desc()) if descending else (c.occurred_at, c.id)
        ids = ids.order_by(*by).limit(limit + 1)
        ids = (ids.offset(offset) if forward and offset else ids).subquery("page_ids")
        stmt = sa.select(audit_log).join(ids, ids.c.id == c.id)
        return stmt.order_by(*by)

    def count(self, *, cap: int = COUNT_CAP, **filters: Any) -> int:
        """How many rows match `filters`, exactly up to `cap`; cap + 1 means "more than
        cap" (so a count never reads more than cap + 1 index entries)."""
        with self._reading() as conn:
            return int(conn.execute(self.count_statement(cap=cap, **filters)).scalar_one())

    def count_statement(self, *, cap: int = COUNT_CAP, **filters: Any) -> sa.Select:
        """`count`'s statement: count(*) over at most cap + 1 matching rows."""
        matching = self._select(**filters).with_only_columns(
            sa.literal(1), maintain_column_froms=True
        )
        return sa.select(sa.func.count()).select_from(matching.limit(cap + 1).subquery())

    def query(
        self,
        *,
        limit: int | None = 100,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Rows matching every given filter (see `_select`), decoded like AuditRow.as_dict(),
        newest first unless told otherwise."""
        stmt = self._select(**filters)
        stmt = stmt.order_by(audit_log.c.id.desc() if newest_first else audit_log.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._reading() as conn:
            return [AuditRow.from_stored(row._mapping).as_dict() for row in conn.execute(stmt)]

    @staticmethod
    def _select(
        *,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        request_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> sa.Select:
        """The rows matching every given filter (since inclusive, until exclusive, aware
        times)."""
        c = audit_log.c
        stmt = sa.select(audit_log)
        for column, value in (
            (c.actor, actor),
            (c.action, action),
            (c.outcome, outcome),
            (c.target_type, target_type),
            (c.target_id, target_id),
            (c.request_id, request_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(c.occurred_at >= utc_text(since))
        if until is not None:
            stmt = stmt.where(c.occurred_at < utc_text(until))
        return stmt


def _lock_chain(conn: sa.Connection) -> None:
    """Take the chain lock for the rest of `conn`'s transaction (PostgreSQL; re-entrant).

    On SQLite the store's engine already began the transaction with BEGIN IMMEDIATE.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))
