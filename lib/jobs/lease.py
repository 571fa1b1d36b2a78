"""A lease per background job that must run in one app process at a time, however many run.

    lease = Lease(audit_engine, "jobs.once", ttl_s=10)
    if lease.hold():       # taken or renewed: this process runs the job's round now
        ...
    lease.release()        # on stop: another process may take it at once

One row per job name in the audit database (`job_leases`, SQLite or PostgreSQL), so every
replica sees the same. `hold()` reads the row and, if it is free, expired or already ours,
takes or renews it with one conditional UPDATE (`WHERE holder = me OR expires_at < now`);
only the process whose statement matched holds it. A missing row is made by an INSERT that
one process wins (the primary key refuses the others). A holder renews every round; one that
dies (or hangs longer than `ttl_s`) stops renewing and the next process to look after the
expiry takes the job over, so a job moves to a live replica within ttl_s + a round.

Expiry is wall-clock seconds (`time.time()`) of the processes: replicas on hosts whose clocks
differ by a good part of ttl_s could overlap for that long. Nothing here must be exact: the
steps a lease guards are safe to run twice (the databases decide "once" for what is sent);
the lease saves the duplicate work and the duplicate probes.

The row says who holds the job (`holder` = host:pid:random, so a restarted process or a
second set of jobs in one process is someone else), since when, how many rounds it has run
under this holder (`rounds`) and how often the job changed hands (`takeovers`): enough to
see, from outside, that one process runs it.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from lib.records.database import READ_ONLY, create_tables

lease_metadata = sa.MetaData()
job_leases = sa.Table(
    "job_leases",
    lease_metadata,
    sa.Column("name", sa.String(191), primary_key=True),  # "jobs.once"
    sa.Column("holder", sa.String(191), nullable=False),  # host:pid:random
    sa.Column("expires_at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("since", sa.String(32), nullable=False),  # when the holder took it (UTC text)
    sa.Column("rounds", sa.Integer, nullable=False),  # hold()s by this holder
    sa.Column("takeovers", sa.Integer, nullable=False),  # times it changed hands
)


def new_holder() -> str:
    """This process's name for a lease: host, pid and a random part."""
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class LeaseRow:
    name: str
    holder: str
    expires_at: float
    since: str
    rounds: int
    takeovers: int

    @property
    def pid(self) -> int:
        """The holder's process id (the holder's middle part)."""
        return int(self.holder.rsplit(":", 2)[1])


def ensure_table(engine: sa.Engine) -> None:
    create_tables(lease_metadata, engine)


def read(engine: sa.Engine, name: str) -> LeaseRow | None:
    """The lease's row as stored now (None before anyone took it)."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        row = conn.execute(sa.select(job_leases).where(job_leases.c.name == name)).first()
        conn.rollback()
    return LeaseRow(**row._mapping) if row is not None else None


class Lease:
    """Job `name`'s lease in `engine`'s database, held `ttl_s` past each hold()."""

    def __init__(
        self,
        engine: sa.Engine,
        name: str,
        *,
        ttl_s: float,
        holder: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine, self.name, self.ttl_s = engine, name, float(ttl_s)
        self.holder = holder or new_holder()
        self.clock = clock
        self._ready = False

    def hold(self) -> bool:
        """Take the lease if it is free or expired, renew it if it is ours; True if ours now.
        A database error propagates (the caller skips the job this round)."""
        if not self._ready:
            ensure_table(self.engine)
            self._ready = True
        now = self.clock()
        current = read(self.engine, self.name)
        if current is None:
            return self._insert(now)
        if current.holder != self.holder and current.expires_at >= now:
            return False  # someone else's and alive: no write at all
        return self._take(now)

    def _insert(self, now: float) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(job_leases).values(
                        name=self.name,
                        holder=self.holder,
                        expires_at=now + self.ttl_s,
                        since=_utc_text(now),
                        rounds=1,
                        takeovers=0,
                    )
                )
        except sa.exc.IntegrityError:
            return False  # another process made it first: it holds the lease
        return True

    def _take(self, now: float) -> bool:
        t = job_leases.c
        mine = t.holder == self.holder
        # One conditional statement: of two processes seeing the lease expired, one matches.
        # `holder` is assigned last: MySQL evaluates SET left to right, reading new values.
        stmt = (
            sa.update(job_leases)
            .where(t.name == self.name, sa.or_(mine, t.expires_at < now))
            .ordered_values(
                (t.rounds, sa.case((mine, t.rounds + 1), else_=1)),
                (t.takeovers, sa.case((mine, t.takeovers), else_=t.takeovers + 1)),
                (t.since, sa.case((mine, t.since), else_=_utc_text(now))),
                (t.expires_at, now + self.ttl_s),
                (t.holder, self.holder),
            )
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def release(self) -> None:
        """Give the lease up if ours (it expires now), so another process takes it at once."""
        if not self._ready:
            return
        t = job_leases.c
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(job_leases)
                .where(t.name == self.name, t.holder == self.holder)
                .values(expires_at=0.0)
            )


def _utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
