"""Sign-in lockout, kept in the audit database so every app process sees the same.

5 failed sign-ins for a username within 15 minutes lock it for 15 minutes; a success starts
the count again, and so does the end of a lock. Every success, failure, lockout and logout
is an audit row (action `auth.login` / `auth.logout`). An attempt made while locked is
refused before the password is checked and writes no row: it is counted, and the count is
told on the next row written for that username (`detail.refused_while_locked`), so a
guesser who keeps going can neither get more tries nor grow the audit log one row a try.

The decision is read from one small row per username (table `sign_in_lockout`, beside
`audit_log`), never by scanning the log. Each change to that row happens in the audit
store's write transaction (`AuditStore.begin`: the chain lock on PostgreSQL, BEGIN
IMMEDIATE on SQLite), so concurrent sign-ins from any process are serialized, and the row
commits with the audit row it goes with.

    result = lockout.attempt(store, who, lambda: check(username, password), roles)
    result.ok, result.refused, result.locked_until
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from lib.audit import AuditEntry, AuditStore
from lib.audit.store import utc_text
from lib.records.database import READ_ONLY

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
LOGIN, LOGOUT = "auth.login", "auth.logout"
REFUSED_KEY = "refused_while_locked"

_metadata = sa.MetaData()
sign_in_lockout = sa.Table(
    "sign_in_lockout",
    _metadata,
    sa.Column("username", sa.Text, primary_key=True),  # as audited: a user or "unknown:<digest>"
    # Times (ISO UTC text) of the failures still in the window, oldest first; an attempt
    # whose password is being checked holds its place here, so parallel guesses cannot
    # all pass the lock check before any of them is counted.
    sa.Column("failures", sa.Text, nullable=False),
    sa.Column("locked_until", sa.Text),
    sa.Column("refused", sa.Integer, nullable=False),  # refused since the last audit row
)
_ready: weakref.WeakSet[AuditStore] = weakref.WeakSet()


def clock() -> datetime:
    """The lockout's idea of now (tests patch it)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Attempt:
    """How a sign-in attempt ended."""

    ok: bool
    refused: bool = False  # refused unchecked: the username is locked
    locked_until: datetime | None = None  # set when the username is locked, now or already

    @property
    def just_locked(self) -> bool:
        """This attempt's failure locked the username."""
        return self.locked_until is not None and not self.refused


@dataclass
class _State:
    username: str
    failures: list[datetime] = field(default_factory=list)
    locked_until: datetime | None = None
    refused: int = 0
    stored: bool = False

    def forget_before(self, now: datetime) -> None:
        """Drop what no longer counts at `now`: an ended lock, failures out of the window."""
        if self.locked_until is not None and self.locked_until <= now:
            self.locked_until = None
        self.failures = [t for t in self.failures if t > now - WINDOW]

    def detail(self, **more: object) -> dict[str, object]:
        """Detail for the next audit row: tells the refusals not yet told, once."""
        out: dict[str, object] = dict(more)
        if self.refused:
            out[REFUSED_KEY] = self.refused
            self.refused = 0
        return out


def _ensure_table(store: AuditStore) -> None:
    if store not in _ready:
        with store.begin() as conn:  # serialized: replicas starting together do not race
            _metadata.create_all(conn, checkfirst=True)
        _ready.add(store)


def _load(conn: sa.Connection, username: str) -> _State:
    row = conn.execute(
        sa.select(sign_in_lockout).where(sign_in_lockout.c.username == username)
    ).first()
    if row is None:
        return _State(username)
    return _State(
        username,
        failures=[datetime.fromisoformat(t) for t in json.loads(row.failures)],
        locked_until=datetime.fromisoformat(row.locked_until) if row.locked_until else None,
        refused=row.refused,
        stored=True,
    )


def _save(conn: sa.Connection, state: _State) -> None:
    values = {
        "failures": json.dumps([utc_text(t) for t in state.failures]),
        "locked_until": utc_text(state.locked_until) if state.locked_until else None,
        "refused": state.refused,
    }
    table = sign_in_lockout
    if state.stored:
        conn.execute(table.update().where(table.c.username == state.username).values(**values))
    else:
        conn.execute(table.insert().values(username=state.username, **values))
        state.stored = True


def _entry(
    username: str,
    roles: tuple[str, ...],
    action: str,
    outcome: str,
    detail: dict[str, object] | None = None,
) -> AuditEntry:
    return AuditEntry(
        actor=username,
        actor_roles=roles or ("unknown",),
        action=action,
        target_type="user",
        target_id=username,
        outcome=outcome,
        detail=detail or {},
    )


def _fail(
    store: AuditStore, conn: sa.Connection, state: _State, now: datetime, held: datetime | None
) -> datetime | None:
    """Count a failure (in the place `held` if the attempt holds one); lock at the limit.

    Returns when the lock ends if this failure locked the username."""
    if held is None or held not in state.failures:
        state.failures.append(now)
    store.record(conn, _entry(state.username, (), LOGIN, "failed", state.detail()))
    if len(state.failures) < MAX_FAILURES:
        return None
    minutes = int(LOCK_FOR.total_seconds() // 60)
    store.record(
        conn,
        _entry(
            state.username,
            (),
            LOGIN,
            "locked",
            {"failures": len(state.failures), "minutes": minutes},
        ),
    )
    state.failures, state.locked_until = [], now + LOCK_FOR  # the count restarts after it
    return state.locked_until


def _succeed(store: AuditStore, conn: sa.Connection, state: _State, roles: tuple[str, ...]) -> None:
    state.failures = []
    store.record(conn, _entry(state.username, roles, LOGIN, "ok", state.detail()))


def attempt(
    store: AuditStore,
    username: str,
    check: Callable[[], bool],
    roles: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Attempt:
    """One sign-in attempt for `username` (as audited), with `check()` saying whether the
    password is right. While the username is locked, `check` is not called and the attempt
    is refused and counted; otherwise the outcome is audited, with `roles` on success."""
    _ensure_table(store)
    now = now or clock()
    with store.begin() as conn:
        state = _load(conn, username)
        state.forget_before(now)
        until = state.locked_until
        if until is None and len(state.failures) >= MAX_FAILURES:
            # Places taken by attempts still being checked (or by a process that died while
            # checking): refused until the oldest leaves the window.
            until = state.failures[0] + WINDOW
        if until is not None:
            state.refused += 1
            _save(conn, state)
            return Attempt(ok=False, refused=True, locked_until=until)
        state.failures.append(now)  # hold a place while the password is checked
        _save(conn, state)
    ok = bool(check())
    with store.begin() as conn:
        state = _load(conn, username)
        state.forget_before(now)
        if ok:
            _succeed(store, conn, state, roles)
            until = None
        else:
            until = _fail(store, conn, state, now, held=now)
        _save(conn, state)
    return Attempt(ok=ok, locked_until=until)


def locked_until(store: AuditStore, username: str, now: datetime | None = None) -> datetime | None:
    """When the username's lock ends, or None if it is not locked."""
    _ensure_table(store)
    now = now or clock()
    with store.db.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})  # SQLite: no write lock for a read
        state = _load(conn, username)
    if state.locked_until is not None and state.locked_until > now:
        return state.locked_until
    return None
