"""Where the outboxes are: the action context's own engines, each database once, tables made."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.actions.context import ActionContext, use_context
from lib.audit import AuditStore
from lib.config.settings import load_settings
from lib.notify import outbox
from lib.notify.config import NotifyConfig
from lib.notify.listing import recent
from lib.notify.model import Event
from lib.notify.outboxes import outboxes_for
from lib.records.database import make_engine


def test_the_outboxes_are_the_action_contexts_databases_with_their_tables(tmp_path: Path):
    audit_url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    audit = AuditStore(audit_url)
    audit.create_schema()
    dbs = {n: make_engine(f"sqlite:///{tmp_path / f'{n}.sqlite'}") for n in ("shop", "crm")}
    ctx = ActionContext(audit=audit, databases=dbs)
    settings = dataclasses.replace(load_settings(), audit_url=audit_url)
    with use_context(ctx):
        found = outboxes_for(settings)
    assert found == {"audit": audit.db, "shop": dbs["shop"], "crm": dbs["crm"]}
    for engine in found.values():
        tables = set(sa.inspect(engine).get_table_names())
        assert {"outbox", "outbox_attachments"} <= tables


@pytest.mark.integration
def test_a_shop_in_the_audit_database_is_one_outbox(pg_server):
    url = pg_server.new()
    audit = AuditStore(url)
    audit.create_schema()
    shop = make_engine(url)
    ctx = ActionContext(audit=audit, databases={"shop": shop})
    settings = dataclasses.replace(load_settings(), audit_url=url)
    try:
        with use_context(ctx):
            assert outboxes_for(settings) == {"audit": audit.db}
    finally:
        shop.dispose()
        audit.dispose()


def test_the_listing_leaves_out_an_outbox_it_cannot_read_and_says_why(tmp_path: Path):
    good = make_engine(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    outbox.ensure(good)
    gone = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'shop.sqlite'}")
    config = NotifyConfig.of(
        {
            "channels": {"chat": {"kind": "webhook", "url": "http://127.0.0.1:9/x"}},
            "routes": {"source.down": ["chat"]},
        }
    )
    with good.begin() as conn:
        outbox.enqueue(conn, Event("source.down", "Source crm is down", "x"), config)
    frame = recent({"audit": good, "shop": gone})
    assert frame[["where", "subject", "status"]].values.tolist() == [
        ["audit", "Source crm is down", "pending"]
    ]
    assert list(frame.attrs["unavailable"]) == ["shop"]
