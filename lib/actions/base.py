"""The shape of an action and of its result, and the transaction it writes in.

An action declares, in one place (like a Django admin action): the permission it needs
(its name, granted in config/policy.toml), how its input is validated, and a body that
checks the precondition on the record's state, applies the effect and says what its
audit row records. `lib.actions.run` does the rest the same way for every action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from lib.access.principal import Principal
from lib.actions.context import ActionContext
from lib.audit import AuditEntry
from lib.notify.model import Event

log = logging.getLogger(__name__)

OUTCOMES = ("ok", "denied", "conflict", "invalid", "failed", "unknown")


@dataclass(frozen=True)
class Result:
    """What `run` returns: an outcome, a one-line message for the user, and data."""

    outcome: str
    message: str
    action: str
    request_id: str
    target_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class Action:
    name: str
    target_type: str
    validate: Callable[[dict[str, Any]], dict[str, Any]]
    execute: Callable[..., Result]
    description: str = ""


class Call:
    """One run of one action: who, which request, which target; writes its audit rows."""

    def __init__(self, ctx: ActionContext, actor: Principal, action: Action, request_id: str):
        self.ctx, self.actor, self.action, self.request_id = ctx, actor, action, request_id
        self.target_id: str | None = None

    def target(self, target_id: object) -> None:
        self.target_id = None if target_id is None else str(target_id)

    def entry(
        self,
        outcome: str,
        detail: Mapping[str, Any] | None = None,
        reason: str | None = None,
        action: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            actor=self.actor.username,
            actor_roles=self.actor.roles,
            action=action or self.action.name,
            target_type=self.action.target_type,
            target_id=self.target_id,
            outcome=outcome,
            reason=reason,
            detail=dict(detail or {}),
            request_id=self.request_id,
        )

    def result(self, outcome: str, message: str, **data: Any) -> Result:
        return Result(outcome, message, self.action.name, self.request_id, self.target_id, data)

    def audit(
        self, outcome: str, detail: Mapping[str, Any] | None = None, reason: str | None = None
    ) -> None:
        """An audit row on its own (remote outcomes, refusals)."""
        self.ctx.audit.append(self.entry(outcome, detail, reason))

    @contextmanager
    def transaction(self, db: str) -> Iterator[Tx]:
        """A write transaction on a system of record whose audit row commits with it.

        Same database as the audit store: one transaction holds the change and its row.
        Another database: the audit row is appended while the change is still open and
        uncommitted, so a failed audit write rolls the change back; if the change's own
        commit then fails, a second row with the same request id records that it did not
        happen.
        """
        if self.ctx.same_database_as_audit(db):
            with self.ctx.audit.begin() as conn:
                yield Tx(conn, lambda e: self.ctx.audit.record(conn, e), self)
            return
        pending: list[AuditEntry] = []
        with self.ctx.db(db).connect() as conn:
            trans = conn.begin()
            try:
                yield Tx(conn, pending.append, self)
                for entry in pending:
                    self.ctx.audit.append(entry)
            except BaseException:
                trans.rollback()
                raise
            try:
                trans.commit()
            except sa.exc.SQLAlchemyError:
                log.exception("commit failed after audit rows were written (%s)", self.request_id)
                for entry in pending:
                    self.ctx.audit.append(
                        self.entry(
                            "failed",
                            {"error": "commit failed", "was": entry.outcome},
                            action=entry.action,
                        )
                    )
                raise


@dataclass
class Tx:
    """A connection in a write transaction plus the way to record its audit row."""

    conn: sa.Connection
    _record: Callable[[AuditEntry], Any]
    call: Call

    def execute(self, stmt: Any, params: Any = None) -> sa.CursorResult:
        return self.conn.execute(stmt, params) if params is not None else self.conn.execute(stmt)

    def audit(
        self, outcome: str, detail: Mapping[str, Any] | None = None, reason: str | None = None
    ) -> None:
        self._record(self.call.entry(outcome, detail, reason))

    def notify(self, event: Event) -> list[int]:
        """Put `event` in the outbox of this transaction's database, routed by the context's
        [notifications]: it is sent only if the change commits. The new rows' ids ([] when
        the event goes nowhere)."""
        from lib.notify.outbox import enqueue

        return enqueue(self.conn, event, self.call.ctx.notify)
