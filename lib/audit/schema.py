"""The audit_log table and the triggers that make it append-only, per backend."""

from __future__ import annotations

import sqlalchemy as sa

TABLE = "audit_log"
REFUSAL = "audit_log is append-only"

metadata = sa.MetaData()
# The columns the audit page filters by (besides the id): every filter index carries them.
FILTERED = ("occurred_at", "actor", "action", "outcome", "target_type", "target_id")

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
    # The audit page filters by actor, action, outcome, target id and a time range and reads
    # newest first (occurred_at, then id). Each filter has an index that starts with its
    # column, the time and the id, so its rows in a time range come in the page's order, and
    # carries the other filters' columns, so a page finds its ids (and a count counts) in the
    # index alone, however many rows another filter drops; the page then reads its 50 rows by
    # id (AuditStore.page_statement). A time range alone is a range of (occurred_at, id).
    *(
        sa.Index(
            f"ix_audit_log_{name}_time",
            column,
            "occurred_at",
            "id",
            *(c for c in FILTERED if c not in (column, "occurred_at")),
        )
        for name, column in (
            ("actor", "actor"),
            ("action", "action"),
            ("outcome", "outcome"),
            ("target", "target_id"),
        )
    ),
    sa.Index("ix_audit_log_by_time", "occurred_at", "id"),
)

# Indexes of earlier versions that the ones above serve: dropped from an existing store.
SUPERSEDED_INDEXES = (
    "ix_audit_log_occurred_at",
    *(f"ix_audit_log_{c}" for c in ("actor", "action", "target")),
    *(f"ix_audit_log_{c}_id" for c in ("actor", "action", "outcome", "target")),
    *(f"ix_audit_log_by_{c}" for c in ("actor", "action", "outcome", "target")),
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
    """Create the table, its indexes and triggers if missing, inside the caller's transaction.

    A store made by an earlier version gets the indexes it lacks (CREATE INDEX IF NOT EXISTS,
    under the caller's chain lock, so two starting replicas take turns; appends wait the
    seconds a build of a few million rows takes) and loses the ones they supersede."""
    metadata.create_all(conn, checkfirst=True)
    for index in audit_log.indexes:
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    for name in SUPERSEDED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    triggers = POSTGRESQL_TRIGGERS if conn.dialect.name == "postgresql" else SQLITE_TRIGGERS
    for ddl in triggers:
        conn.exec_driver_sql(ddl)
