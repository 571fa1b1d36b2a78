"""The audit log: an append-only, hash-chained table in SQLite or PostgreSQL.

store = AuditStore("sqlite:///var/demo/audit.sqlite"); store.create_schema()
with store.begin() as conn:           # the change and its audit row commit together
    conn.execute(...)
    store.record(conn, AuditEntry(...))
store.append(AuditEntry(...))         # a row on its own (remote outcome, denial, sign-in)
store.verify()                        # ChainReport; also `python -m lib.audit verify`
"""

from lib.audit.chain import GENESIS_HASH, ChainReport
from lib.audit.entry import AuditEntry, AuditRow
from lib.audit.store import AuditStore

__all__ = ["GENESIS_HASH", "AuditEntry", "AuditRow", "AuditStore", "ChainReport"]
