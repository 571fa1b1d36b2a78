"""Sign-in records and lockout, kept in the audit log so every app process sees the same.

5 failed sign-ins for a username within 15 minutes lock it for 15 minutes. Every success,
failure, lockout and logout is an audit row (action `auth.login` / `auth.logout`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lib.audit import AuditEntry, AuditStore

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
LOGIN, LOGOUT = "auth.login", "auth.logout"


def _rows(store: AuditStore, username: str, since: datetime) -> list[dict]:
    return store.query(action=LOGIN, target_id=username, since=since, limit=200, newest_first=False)


def locked_until(store: AuditStore, username: str, now: datetime | None = None) -> datetime | None:
    """When the username's lock ends, or None if it is not locked."""
    now = now or datetime.now(UTC)
    for row in reversed(_rows(store, username, now - LOCK_FOR)):
        if row["outcome"] == "locked":
            return row["occurred_at"] + LOCK_FOR
    return None


def _entry(
    username: str, roles: tuple[str, ...], action: str, outcome: str, detail: dict | None = None
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


def record_success(store: AuditStore, username: str, roles: tuple[str, ...]) -> None:
    store.append(_entry(username, roles, LOGIN, "ok"))


def record_logout(store: AuditStore, username: str, roles: tuple[str, ...]) -> None:
    store.append(_entry(username, roles, LOGOUT, "ok"))


def record_refused_while_locked(store: AuditStore, username: str) -> None:
    store.append(_entry(username, (), LOGIN, "denied", {"error": "account locked"}))


def record_failure(store: AuditStore, username: str, now: datetime | None = None) -> bool:
    """Record a failed sign-in; returns True if this failure locked the username."""
    now = now or datetime.now(UTC)
    store.append(_entry(username, (), LOGIN, "failed"))
    failures = 0
    for row in reversed(_rows(store, username, now - WINDOW)):
        if row["outcome"] in ("ok", "locked"):
            break  # a success or an earlier lock starts the count again
        if row["outcome"] == "failed":
            failures += 1
    if failures >= MAX_FAILURES:
        store.append(
            _entry(
                username,
                (),
                LOGIN,
                "locked",
                {"failures": failures, "minutes": int(LOCK_FOR.total_seconds() // 60)},
            )
        )
        return True
    return False


def last_logout(store: AuditStore, username: str, since: datetime) -> datetime | None:
    rows = store.query(action=LOGOUT, target_id=username, since=since, limit=1)
    return rows[0]["occurred_at"] if rows else None
