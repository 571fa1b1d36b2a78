"""The audit store on SQLite and PostgreSQL: append-only, hash-chained, never forked."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.audit import GENESIS_HASH, AuditEntry, AuditStore
from lib.config.settings import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def raw(audit_url: str) -> Iterator[sa.Engine]:
    """A plain engine on the same database: what someone bypassing the store would use."""
    engine = sa.create_engine(audit_url)
    yield engine
    engine.dispose()


def entry(n: int = 1, **changes: object) -> AuditEntry:
    values: dict = {
        "actor": "operator",
        "actor_roles": ("operator",),
        "action": "orders.approve",
        "target_type": "order",
        "target_id": str(n),
        "outcome": "ok",
        "reason": None,
        "detail": {"from": "pending", "to": "approved", "amount": 1000 * n, "note": "메모"},
        "request_id": f"req-{n}",
    }
    values.update(changes)
    return AuditEntry(**values)


def run_cli(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib.audit", "verify", "--url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@contextmanager
def triggers_off(store: AuditStore, raw: sa.Engine) -> Iterator[sa.Connection]:
    """A connection that can change audit_log behind the triggers' back (as the DB owner)."""
    if store.backend == "sqlite":
        with raw.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
            yield conn
        store.create_schema()  # puts the triggers back
    else:
        with raw.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
            yield conn
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER USER")


def test_appended_rows_chain_from_genesis_and_read_back_decoded(store: AuditStore):
    before = datetime.now(UTC)
    rows = [store.append(entry(n)) for n in (1, 2, 3)]
    store.append(entry(4, actor="admin", actor_roles=("admin",), outcome="denied"))

    assert [r.id for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    assert store.verify().ok
    assert store.verify().rows_checked == 4

    newest = store.query(limit=1)[0]
    assert (newest["id"], newest["actor"], newest["outcome"]) == (4, "admin", "denied")
    assert newest["actor_roles"] == ["admin"]
    assert newest["detail"] == {"from": "pending", "to": "approved", "amount": 4000, "note": "메모"}
    assert newest["occurred_at"].tzinfo is not None and newest["occurred_at"] >= before
    assert [r["id"] for r in store.query(actor="operator", newest_first=False)] == [1, 2, 3]
    assert [r["id"] for r in store.query(target_type="order", target_id="2")] == [2]
    assert store.query(since=datetime.now(UTC) + timedelta(seconds=1)) == []
    assert len(store.query(since=before, until=datetime.now(UTC) + timedelta(seconds=1))) == 4


def test_create_schema_twice_keeps_the_rows(store: AuditStore):
    store.append(entry())
    store.create_schema()
    assert store.verify().rows_checked == 1


@pytest.mark.parametrize(
    ("tamper", "broken_id", "problem"),
    [
        ("UPDATE audit_log SET detail = '{\"amount\":1}' WHERE id = 3", 3, "edited"),
        ("DELETE FROM audit_log WHERE id = 3", 4, "row 3 missing"),
    ],
    ids=["edited", "deleted"],
)
def test_row_changed_behind_the_triggers_back_is_named_by_verify_and_cli(
    store: AuditStore, raw: sa.Engine, audit_url: str, tamper: str, broken_id: int, problem: str
):
    for n in range(1, 6):
        store.append(entry(n))
    with triggers_off(store, raw) as conn:
        assert conn.exec_driver_sql(tamper).rowcount == 1

    report = store.verify()
    assert (report.ok, report.first_broken_id, report.rows_checked) == (False, broken_id, 2)
    assert problem in report.problem

    cli = run_cli(audit_url)
    assert cli.returncode == 1, cli.stderr
    assert cli.stdout.startswith(f"chain broken at row {broken_id}: ")


def test_database_refuses_update_delete_and_truncate(store: AuditStore, raw: sa.Engine):
    store.append(entry(1))
    store.append(entry(2))
    statements = ["UPDATE audit_log SET outcome = 'ok' WHERE id = 1", "DELETE FROM audit_log"]
    if store.backend == "postgresql":
        statements.append("TRUNCATE audit_log")
    for statement in statements:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), raw.begin() as conn:
            conn.exec_driver_sql(statement)
    assert store.verify().rows_checked == 2


def test_rolled_back_transaction_leaves_neither_the_change_nor_its_audit_row(
    store: AuditStore,
):
    with store.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
        conn.exec_driver_sql("INSERT INTO orders VALUES (1, 'pending')")

    class ActionFailed(Exception):
        pass

    with pytest.raises(ActionFailed), store.begin() as conn:
        conn.exec_driver_sql("UPDATE orders SET status = 'approved' WHERE id = 1")
        store.record(conn, entry(1))
        raise ActionFailed
    with store.db.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM orders").scalar() == "pending"
    assert store.query() == []

    with store.begin() as conn:
        conn.exec_driver_sql("UPDATE orders SET status = 'approved' WHERE id = 1")
        row = store.record(conn, entry(1))
    with store.db.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM orders").scalar() == "approved"
    assert row.id == 1 and row.prev_hash == GENESIS_HASH  # the rollback left no gap
    assert store.verify().ok


def test_fifty_concurrent_appends_from_two_replicas_never_fork(store: AuditStore, audit_url: str):
    other_replica = AuditStore(audit_url)
    start = threading.Barrier(50)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            start.wait()
            (store if n % 2 else other_replica).append(entry(n))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other_replica.dispose()

    assert errors == []
    rows = store.query(limit=None, newest_first=False)
    assert [r["id"] for r in rows] == list(range(1, 51))
    assert sorted(r["request_id"] for r in rows) == sorted(f"req-{n}" for n in range(50))
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for previous, row in zip(rows, rows[1:], strict=False):
        assert row["prev_hash"] == previous["row_hash"]
    assert store.verify().rows_checked == 50


def test_detail_with_an_unmasked_email_is_refused_and_not_written(store: AuditStore):
    for detail in (
        {"email": "kim@example.com"},
        {"changes": [{"field": "email", "to": "Kim.Lee+shop@mail.example.co.kr"}]},
        {"note": "asked by ops@example.com to fix"},
    ):
        with pytest.raises(ValueError, match="unmasked e-mail"):
            store.append(entry(detail=detail))
    assert store.query() == []
    row = store.append(entry(detail={"email": "k***@example.com", "to": "l***@e******.com"}))
    assert row.detail["email"] == "k***@example.com"


def test_cli_reports_an_intact_chain_and_a_missing_table(store: AuditStore, audit_url: str):
    for n in (1, 2):
        store.append(entry(n))
    ok = run_cli(audit_url)
    assert (ok.returncode, ok.stdout.strip()) == (0, "chain ok: 2 rows"), ok.stderr

    missing = f"sqlite:///{ROOT / 'var' / f'no-such-{uuid.uuid4().hex}.sqlite'}"
    absent = run_cli(missing)
    assert absent.returncode == 2 and "no audit database" in absent.stderr
    assert not Path(missing.removeprefix("sqlite:///")).exists()


def test_a_page_of_rows_and_the_total_from_one_statement(store: AuditStore):
    for n in range(1, 6):
        store.append(entry(n, actor="operator" if n % 2 else "support"))
    rows, total = store.page(limit=2, offset=0, actor="operator")
    assert ([r["target_id"] for r in rows], total) == (["5", "3"], 3)
    rows, total = store.page(limit=2, offset=2, actor="operator")
    assert ([r["target_id"] for r in rows], total) == (["1"], 3)
    rows, total = store.page(limit=2, offset=0, newest_first=False)
    assert ([r["target_id"] for r in rows], total) == (["1", "2"], 5)
    # Past the end (a link to a page the filters no longer reach): the total all the same.
    assert store.page(limit=2, offset=40, actor="operator") == ([], 3)
    assert store.page(limit=2, offset=0, actor="nobody") == ([], 0)
