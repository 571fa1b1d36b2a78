"""Sign-in lockout against sustained guessing, on the SQLite and the PostgreSQL audit store.

A guesser keeps going for thousands of attempts while a patched clock moves on, so locks
expire and come back; the right password at the end must still be refused while locked,
and refused attempts are counted, not written one audit row each.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, tzinfo

import pytest

from lib.access import lockout
from lib.audit import AuditStore
from lib.audit import store as audit_store_module

pytestmark = pytest.mark.integration

RIGHT = "right-password"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Clock:
    """The lockout's clock and the audit rows' times, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = START
        clock = self

        class PatchedDatetime(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
                return clock.now.astimezone(tz)

        monkeypatch.setattr(lockout, "clock", lambda: self.now)
        monkeypatch.setattr(audit_store_module, "datetime", PatchedDatetime)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def try_password(store: AuditStore, username: str, password: str) -> lockout.Attempt:
    """One sign-in attempt the way the app makes it: the lock decides before the password."""
    return lockout.attempt(store, username, lambda: password == RIGHT, roles=("operator",))


def audit_rows(store: AuditStore, username: str) -> list[dict]:
    return store.query(target_id=username, limit=None, newest_first=False)


def test_thousands_of_guesses_never_get_past_the_lock(store: AuditStore, clock: Clock) -> None:
    # Faster than 200 a window: the old lockout read only a window's oldest 200 rows.
    guesses, step, refused, locks = 2500, timedelta(seconds=2), 0, 0
    for n in range(guesses):
        result = try_password(store, "operator", f"guess-{n}")
        assert not result.ok
        refused += result.refused  # refused unchecked: the username was locked
        locks += result.just_locked
        clock.advance(step)
    per_lock = lockout.MAX_FAILURES + lockout.LOCK_FOR // step - 1  # 5 tries, 449 refused
    assert locks == -(-guesses // per_lock)  # locked again after every expiry

    # The lock held all along and came back after each expiry: 5 failures, a lock, again.
    rows = audit_rows(store, "operator")
    outcomes = [r["outcome"] for r in rows]
    cycle = ["failed"] * lockout.MAX_FAILURES + ["locked"]
    assert outcomes == cycle * locks
    # One row per failure and per lock, none per refused attempt.
    assert len(rows) == (guesses - refused) + locks

    # The right password while locked is refused without reaching the password check.
    checked: list[str] = []
    result = lockout.attempt(store, "operator", lambda: bool(checked.append("x")) or True)
    assert (result.ok, result.refused, checked) == (False, True, [])
    assert lockout.locked_until(store, "operator") == result.locked_until

    # After the lock expires the count starts again: four wrong guesses do not lock, and
    # the right password then signs in.
    clock.advance(lockout.LOCK_FOR)
    for _ in range(lockout.MAX_FAILURES - 1):
        assert try_password(store, "operator", "still-wrong").locked_until is None
    assert try_password(store, "operator", RIGHT).ok

    # Every refusal was counted on the next row written for that username.
    rows = audit_rows(store, "operator")
    assert sum(r["detail"].get("refused_while_locked", 0) for r in rows) == refused + 1
    assert rows[-1]["outcome"] == "ok"
    assert store.verify().ok


def test_five_failures_within_the_window_lock_and_spread_out_ones_do_not(
    store: AuditStore, clock: Clock
) -> None:
    for _ in range(lockout.MAX_FAILURES):
        try_password(store, "spread", "wrong")
        clock.advance(lockout.WINDOW / (lockout.MAX_FAILURES - 1) + timedelta(seconds=1))
    assert lockout.locked_until(store, "spread") is None  # the oldest left the window

    for _ in range(lockout.MAX_FAILURES - 1):
        try_password(store, "close", "wrong")
    result = try_password(store, "close", "wrong")
    assert result.just_locked
    assert result.locked_until == clock.now + lockout.LOCK_FOR
    assert lockout.locked_until(store, "close") == clock.now + lockout.LOCK_FOR
    clock.advance(lockout.LOCK_FOR)
    assert lockout.locked_until(store, "close") is None
    assert try_password(store, "close", RIGHT).ok


def test_a_success_starts_the_count_again(store: AuditStore, clock: Clock) -> None:
    for _ in range(lockout.MAX_FAILURES - 1):
        try_password(store, "admin", "wrong")
    assert try_password(store, "admin", RIGHT).ok
    for _ in range(lockout.MAX_FAILURES - 1):
        assert try_password(store, "admin", "wrong").locked_until is None
    assert try_password(store, "admin", "wrong").just_locked


def test_the_lock_holds_for_another_app_process(store: AuditStore, clock: Clock) -> None:
    for _ in range(lockout.MAX_FAILURES):
        try_password(store, "support", "wrong")
    other_process = AuditStore(store.url)  # its own engine and connections
    try:
        result = try_password(other_process, "support", RIGHT)
        assert not result.ok and result.locked_until == clock.now + lockout.LOCK_FOR
    finally:
        other_process.dispose()


def test_parallel_guesses_get_no_more_tries_than_sequential_ones(store: AuditStore) -> None:
    # 20 guesses at once (say, 20 browser tabs): each holds its place while its password is
    # checked, so only 5 are checked at all; the rest are refused before any has failed.
    checking, done = threading.Semaphore(0), threading.Semaphore(0)
    release = threading.Event()
    results: list[lockout.Attempt] = []

    def slow_wrong_password() -> bool:
        checking.release()
        release.wait()
        return False

    def guess() -> None:
        results.append(lockout.attempt(store, "seller1", slow_wrong_password))
        done.release()

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for t in threads:
        t.start()
    for _ in range(lockout.MAX_FAILURES):
        assert checking.acquire(timeout=60)  # five checks under way, holding their places
    for _ in range(20 - lockout.MAX_FAILURES):
        assert done.acquire(timeout=60)  # the others come back while those five still check
    assert all(r.refused for r in results)
    release.set()
    for t in threads:
        t.join(timeout=60)
    assert not checking.acquire(blocking=False)  # no sixth check ever started
    assert sum(r.refused for r in results) == 20 - lockout.MAX_FAILURES
    assert sum(r.just_locked for r in results) == 1
    outcomes = [r["outcome"] for r in store.query(target_id="seller1", limit=None)]
    assert sorted(outcomes) == ["failed"] * lockout.MAX_FAILURES + ["locked"]


def test_guesses_made_on_two_processes_at_once_are_counted_together(store: AuditStore) -> None:
    # Two app processes (each its own engine and connections) taking guesses at the same
    # moment: the row's read and write happen under the audit store's write lock (the chain
    # lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so no failure is lost to a race and
    # the name locks after MAX_FAILURES in all, not MAX_FAILURES per process.
    other_process = AuditStore(store.url)
    start = threading.Barrier(2 * lockout.MAX_FAILURES)
    results: list[lockout.Attempt] = []

    def guess(process: AuditStore) -> None:
        start.wait(timeout=60)
        results.append(lockout.attempt(process, "analyst", lambda: False))

    threads = [
        threading.Thread(target=guess, args=(p,))
        for p in (store, other_process)
        for _ in range(lockout.MAX_FAILURES)
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        other_process.dispose()
    assert len(results) == 2 * lockout.MAX_FAILURES
    assert sum(not r.refused for r in results) == lockout.MAX_FAILURES  # checked: five
    assert sum(r.just_locked for r in results) == 1
    # Sorted: a guess still checking when the fifth place was taken writes its row after the
    # lock's (as in one process).
    outcomes = sorted(r["outcome"] for r in audit_rows(store, "analyst"))
    assert outcomes == ["failed"] * lockout.MAX_FAILURES + ["locked"]
    assert lockout.locked_until(store, "analyst") is not None
