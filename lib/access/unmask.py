"""Unmask grants: who may see which personal data of which customer, until when.

`customer.unmask` (lib/actions/customers.py) writes a grant here in the same transaction as
its audit row; pages ask `reveal` for a customer row and get it masked except the fields
the viewer was granted for that record, while the grant lasts. Grants live in the audit
database (table `unmask_grants`), server side: nothing the browser sends can extend one.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lib.access import policy
from lib.access.masking import PII_COLUMNS, mask
from lib.access.principal import Principal
from lib.audit import AuditStore
from lib.audit.store import utc_text
from lib.records.database import READ_ONLY
from lib.records.schema import audit_side, unmask_grants

CUSTOMER_COLUMNS: dict[str, str] = PII_COLUMNS["customers"]
"""customers column -> kind of personal data; the kinds a grant can name."""
KINDS: tuple[str, ...] = tuple(dict.fromkeys(CUSTOMER_COLUMNS.values()))

# Engines whose audit database is known to hold unmask_grants (so it is checked once).
_ready: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def utc_now() -> datetime:
    """The clock grants are made and checked by (tests move it)."""
    return datetime.now(UTC)


def ensure_table(store: AuditStore) -> None:
    """Create unmask_grants in the audit database if it is missing."""
    if store.db in _ready:
        return
    # The store's write transaction holds the chain lock on PostgreSQL: replicas starting
    # together do not race to create the table.
    with store.begin() as conn:
        audit_side.create_all(conn, tables=[unmask_grants], checkfirst=True)
    _ready.add(store.db)


def grant(
    conn: sa.Connection,
    *,
    actor: str,
    customer_id: int,
    fields: Iterable[str],
    reason: str,
    minutes: int,
    request_id: str,
) -> str:
    """Record a grant inside `conn`'s transaction; returns when it expires (ISO 8601 UTC)."""
    now = utc_now()
    expires_at = utc_text(now + timedelta(minutes=minutes))
    conn.execute(
        sa.insert(unmask_grants).values(
            actor=actor,
            customer_id=customer_id,
            fields=",".join(sorted(set(fields))),
            reason=reason,
            granted_at=utc_text(now),
            expires_at=expires_at,
            request_id=request_id,
        )
    )
    return expires_at


def _store(source: Any) -> AuditStore:
    """The audit store of an ActionContext, or the store itself."""
    return source if isinstance(source, AuditStore) else source.audit


def active_fields(source: Any, actor: Principal | str, customer_id: int) -> set[str]:
    """The kinds `actor` may see unmasked on customer `customer_id` right now.

    `source` is an ActionContext or an AuditStore. Only unexpired grants of this actor for
    this very record count; given a Principal, only kinds its roles may still unmask.
    """
    store = _store(source)
    username = actor.username if isinstance(actor, Principal) else str(actor)
    stmt = sa.select(unmask_grants.c.fields).where(
        unmask_grants.c.actor == username,
        unmask_grants.c.customer_id == int(customer_id),
        unmask_grants.c.expires_at > utc_text(utc_now()),
    )
    # A read: on SQLite it must not take the write lock (lib.records.database).
    with store.db.connect().execution_options(**{READ_ONLY: True}) as conn:
        if store.db not in _ready:
            if not sa.inspect(conn).has_table(unmask_grants.name):
                return set()
            _ready.add(store.db)
        granted = {kind for (fields,) in conn.execute(stmt) for kind in fields.split(",") if kind}
    if isinstance(actor, Principal):
        granted &= policy.unmask_kinds(actor)
    return granted & set(KINDS)


def reveal(row: Mapping[str, Any], actor: Principal | str, ctx: Any) -> dict[str, Any]:
    """A copy of a customer row with its personal data masked, except what `actor` has an
    active grant to see on this record.

    The record is `row["id"]` (or `row["customer_id"]`); a row without one is fully masked.
    Columns not in the row are ignored; other columns are returned as they are.
    """
    customer_id = row.get("id", row.get("customer_id"))
    shown: set[str] = set()
    if customer_id is not None:
        try:
            shown = active_fields(ctx, actor, int(customer_id))
        except (TypeError, ValueError):
            shown = set()
    out = dict(row)
    for column, kind in CUSTOMER_COLUMNS.items():
        if column in out and kind not in shown:
            out[column] = mask(kind, out[column])
    return out
