"""The audit_log table and the triggers that make it append-only, per backend."""

from __future__ import annotations

import sqlalchemy as sa

TABLE = "audit_log"
REFUSAL = "audit_log is append-only"

metadata = sa.MetaData()

# Every column is text (or the integer id) so a row's stored values hash identically on
# SQLite and PostgreSQL: occurred_at is ISO 8601 UTC with microseconds, roles and detail JSON.
audit_log = sa.Table(
    TABLE,
    metadata,
    # Assigned by the store (last id + 1 under the chain lock), never by a sequence: ids are
    # gapless, part of the hash, and a unique key that refuses a forked insert outright.
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("occurred_at", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("actor_roles", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target_type", sa.Text),
    sa.Column("target_id", sa.Text),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("row_hash", sa.Text, nullable=False),
    sa.Index("ix_audit_log_occurred_at", "occurred_at"),
    sa.Index("ix_audit_log_actor", "actor"),
    sa.Index("ix_audit_log_action", "action"),
    sa.Index("ix_audit_log_target", "target_type", "target_id"),
)

SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{op.lower()} BEFORE {op} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    for op in ("UPDATE", "DELETE")
)

# No '%' anywhere: the driver must not mistake it for a parameter placeholder.
POSTGRESQL_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = '{REFUSAL}: ' || TG_OP || ' refused',
            ERRCODE = 'insufficient_privilege';
    END
    $$""",
    f"""CREATE OR REPLACE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()""",
    f"""CREATE OR REPLACE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()""",
)


def create(conn: sa.Connection) -> None:
    """Create the table, its indexes and triggers if missing, inside the caller's transaction."""
    metadata.create_all(conn, checkfirst=True)
    triggers = POSTGRESQL_TRIGGERS if conn.dialect.name == "postgresql" else SQLITE_TRIGGERS
    for ddl in triggers:
        conn.exec_driver_sql(ddl)
