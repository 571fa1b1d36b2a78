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
from lib.audit import schema as audit_schema
from lib.audit.store import utc_text
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


def test_a_page_of_rows_says_whether_more_follow_and_pages_by_keyset(store: AuditStore):
    appended = [store.append(entry(n, actor="operator" if n % 2 else "support")) for n in range(8)]
    key = {int(r.target_id): (utc_text(r.occurred_at), r.id) for r in appended}

    def targets(found: tuple[list[dict], bool]) -> tuple[list[str], bool]:
        return [r["target_id"] for r in found[0]], found[1]

    assert targets(store.page(limit=2, actor="operator")) == (["7", "5"], True)
    # Next: after the page's last row; Previous: the page ending just before its first.
    assert store.page_key(store.page(limit=2, actor="operator")[0][1]) == key[5]
    assert targets(store.page(limit=2, after=key[5], actor="operator")) == (["3", "1"], False)
    assert targets(store.page(limit=2, before=key[3], actor="operator")) == (["7", "5"], False)
    assert targets(store.page(limit=2, before=key[1], actor="operator")) == (["5", "3"], True)
    # Oldest first, the same keys the other way round; a page opened by its number.
    assert targets(store.page(limit=3, newest_first=False)) == (["0", "1", "2"], True)
    assert targets(store.page(limit=3, newest_first=False, after=key[6])) == (["7"], False)
    assert targets(store.page(limit=3, newest_first=False, before=key[3])) == (
        ["0", "1", "2"],
        False,
    )
    assert targets(store.page(limit=2, offset=2, actor="operator")) == (["3", "1"], False)
    # Past the end (a link to a page the filters no longer reach), or nothing matching.
    assert store.page(limit=2, offset=40, actor="operator") == ([], False)
    assert store.page(limit=2, actor="nobody") == ([], False)


def test_the_count_is_exact_up_to_its_cap_and_cap_plus_one_past_it(store: AuditStore):
    for n in range(1, 8):
        store.append(entry(n, actor="operator" if n % 2 else "support"))
    assert store.count(actor="operator") == 4
    assert store.count(actor="operator", cap=4) == 4
    assert store.count(actor="operator", cap=3) == 4  # "3+"
    assert store.count(cap=5) == 6
    assert store.count() == 7  # no filter at all still counts the table
    assert store.count(actor="nobody") == 0
    assert store.count(since=datetime.now(UTC) + timedelta(seconds=1)) == 0


def test_an_older_store_gets_the_page_indexes_and_keeps_its_rows_and_chain(
    audit_url: str, raw: sa.Engine
):
    """A store made before the page's indexes (single-column ones on actor, action and
    target) gains the new ones when the app starts, and drops the ones they supersede."""
    old = sa.MetaData()
    sa.Table(
        "audit_log",
        old,
        *(sa.Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False)
          for c in audit_schema.audit_log.columns),
        sa.Index("ix_audit_log_occurred_at", "occurred_at"),
        sa.Index("ix_audit_log_actor", "actor"),
        sa.Index("ix_audit_log_action", "action"),
        sa.Index("ix_audit_log_target", "target_type", "target_id"),
    )  # fmt: skip
    with raw.begin() as conn:
        old.create_all(conn)
    store = AuditStore(audit_url)
    try:
        for n in (1, 2, 3):
            store.append(entry(n))
        store.create_schema()
        store.create_schema()  # and again at the next start: nothing to do
        with raw.connect() as conn:
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("audit_log")}
        assert indexes == {i.name for i in audit_schema.audit_log.indexes}
        assert store.verify().rows_checked == 3
        assert [r["target_id"] for r in store.page(limit=5, actor="operator")[0]] == ["3", "2", "1"]
    finally:
        store.dispose()


def test_a_filtered_page_and_its_count_are_read_from_an_index_on_sqlite(
    store: AuditStore, raw: sa.Engine
):
    """The plans of the page's statements: a page's ids and a count come from one filter's
    covering index (the other filters and the time range checked in it), the page's rows by
    id; never a scan of the table (on PostgreSQL a table this small is scanned whatever its
    indexes: measured at 300k rows instead)."""
    if store.backend != "sqlite":
        pytest.skip("the plan of a tiny PostgreSQL table says nothing about a large one")
    store.append(entry(1))
    since = {"since": datetime.now(UTC) - timedelta(days=30)}
    cases = {  # the indexes that serve them
        ("actor_time", "outcome_time"): {"actor": "operator", "outcome": "denied"},
        ("action_time", "target_time"): {"action": "orders.approve", "target_id": "1"},
        ("outcome_time",): {"outcome": "ok"},
        ("target_time", "actor_time"): {"target_id": "1", "actor": "operator"},
        ("by_time",): {"until": datetime.now(UTC)},
    }
    for indexes, filters in cases.items():
        for stmt in (
            store.page_statement(limit=50, **filters, **since),
            store.count_statement(**filters, **since),
        ):
            sql = str(stmt.compile(raw, compile_kwargs={"literal_binds": True}))
            with raw.connect() as conn:
                plan = " | ".join(
                    str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
                )
            covering = [f"COVERING INDEX ix_audit_log_{i} " in plan for i in indexes]
            assert any(covering) and "SCAN audit_log" not in plan, (filters, plan)
