"""Watching for conditions no action causes: the approval backlog, a source going down.

    watchers = Watchers(settings, outboxes_for(settings))
    watchers.tick()     # from the jobs thread, every poll_s (checks every interval_s), in
                        # the one process holding the "jobs.once" lease (lib.jobs.worker)

One message per episode, across processes: each condition has a row in `notify_state` (the
audit database) that a conditional UPDATE flips from clear to active; only the process whose
UPDATE matched writes the message, into the audit outbox in the same transaction. When the
condition clears the row is flipped back (re-armed), so the next episode sends again. Two
processes whose health checkers disagree for a moment (one sees a source up again while the
other still sees it down) can make one extra episode; nothing more.

The backlog is read from the shop's own database through SQLAlchemy Core (one COUNT and MIN
on the indexed status column), not through the DuckDB engine: this runs in a background
thread (of the process holding the jobs' lease), must see the orders as they are now (a
snapshot up to its TTL old would re-arm and fire late), and so needs no second DuckDB
attachment of the shop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lib.access.masking import masked_line
from lib.config.settings import Settings
from lib.notify import events
from lib.notify.config import NotifyConfig
from lib.notify.model import Event
from lib.notify.outbox import at, enqueue
from lib.records.database import READ_ONLY, create_tables
from lib.records.schema import orders

log = logging.getLogger(__name__)

INTERVAL_S = 30.0  # between two looks at the conditions (the ticks in between do nothing)

state_metadata = sa.MetaData()
notify_state = sa.Table(
    "notify_state",
    state_metadata,
    sa.Column("key", sa.String(191), primary_key=True),  # "orders.backlog", "source.down:crm"
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("changed_at", sa.String(32), nullable=False),
)

PROCESS = "process"  # Watchers' default checker: this process's (lib.health.checker)


def ensure_state(engine: sa.Engine) -> None:
    create_tables(state_metadata, engine)


def flip(
    engine: sa.Engine,
    key: str,
    active: bool,
    config: NotifyConfig,
    event: Callable[[], Event] | None = None,
    now: datetime | None = None,
) -> bool:
    """Set condition `key` to `active`; True if this call changed it (and, becoming active,
    wrote `event` to the outbox in the same transaction)."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        current = conn.execute(
            sa.select(notify_state.c.active).where(notify_state.c.key == key)
        ).scalar_one_or_none()
        conn.rollback()
    if bool(current) == active:
        return False
    stamp = at(now or datetime.now(UTC))
    with engine.begin() as conn:
        if current is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(notify_state).values(key=key, active=False, changed_at=stamp)
                    )
            except sa.exc.IntegrityError:
                pass  # another process made it meanwhile
        changed = conn.execute(
            sa.update(notify_state)
            .where(notify_state.c.key == key, notify_state.c.active == (not active))
            .values(active=active, changed_at=stamp)
        ).rowcount
        if changed == 1 and active and event is not None:
            enqueue(conn, event(), config)
    return changed == 1


def pending_orders(shop: sa.Engine) -> tuple[int, str | None]:
    """How many orders are pending and the oldest one's ordered_at."""
    with shop.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.min(orders.c.ordered_at)).where(
                orders.c.status == "pending"
            )
        ).one()
        conn.rollback()
    return int(row[0]), row[1]


def _age(ordered_at: str | None, now: datetime) -> timedelta | None:
    """The shop stores times as 'YYYY-MM-DD HH:MM:SS' in UTC (lib.records.schema.now_text)."""
    if not ordered_at:
        return None
    try:
        moment = datetime.strptime(str(ordered_at)[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return now - moment.replace(tzinfo=UTC)


class Watchers:
    def __init__(
        self,
        settings: Settings,
        outboxes: Mapping[str, sa.Engine],
        *,
        config: NotifyConfig | None = None,
        checker: Any = PROCESS,
        interval_s: float = INTERVAL_S,
    ) -> None:
        """`checker`: a lib.health.checker.HealthChecker to read, PROCESS for this process's
        (lib.health.checker.running_checker: read only while it runs; the jobs or a health
        panel start it), or None to leave source.down alone."""
        self.settings = settings
        self.config = config or settings.notify or NotifyConfig.of(settings.notifications)
        self.audit = outboxes["audit"]
        # A shop in the audit's own database is listed under "audit" only.
        self.shop = outboxes.get("shop", outboxes["audit"])
        self._checker = checker
        self.interval_s = interval_s
        self._last: float | None = None
        self._lock = threading.Lock()
        ensure_state(self.audit)

    def tick(self, now: datetime | None = None) -> None:
        """Look at the conditions if interval_s has passed since the last look (always when
        `now` is given); never raises (a database down is logged, tried next time)."""
        with self._lock:
            if now is None:
                mono = time.monotonic()
                if self._last is not None and mono - self._last < self.interval_s:
                    return
                self._last = mono
            moment = now or datetime.now(UTC)
            for name, look in (("backlog", self._backlog), ("sources", self._sources)):
                try:
                    look(moment)
                except Exception as exc:  # the jobs thread must go on
                    log.warning("notify watcher %s: %s", name, masked_line(exc, 200))

    def _backlog(self, now: datetime) -> None:
        if not self.config.channels_for("orders.backlog"):
            return
        pending, oldest_at = pending_orders(self.shop)
        oldest = _age(oldest_at, now)
        limit, hours = self.config.backlog_orders, self.config.pending_hours
        over = pending > limit or (
            oldest is not None and oldest > timedelta(hours=hours) and pending > 0
        )
        flip(
            self.audit,
            "orders.backlog",
            over,
            self.config,
            lambda: events.backlog(pending, oldest, limit, hours),
            now,
        )

    def checker(self) -> Any:
        """The checker to read; None when this process runs none (neither its jobs nor a
        health panel started one). The watcher never starts or replaces one: asking
        for_process with its own settings could evict the panel's and lose its history."""
        if self._checker != PROCESS:
            return self._checker
        from lib.health.checker import running_checker

        return running_checker()

    def _sources(self, now: datetime) -> None:
        if not self.config.channels_for("source.down"):
            return
        checker = self.checker()
        if checker is None:
            return
        for target in checker.snapshot():
            if target.ok is None:
                continue  # not checked yet
            flip(
                self.audit,
                f"source.down:{target.name}",
                not target.ok,
                self.config,
                lambda t=target: events.source_down(t.name, t.where, t.error),
                now,
            )
