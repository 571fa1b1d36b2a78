"""Where outboxes are: the audit database (events of no record: reports, backlog, a source
down) and every system of record an action writes (shop, crm), each with its tables made.

    outboxes_for(settings)  # {"audit": engine, "shop": engine, "crm": engine}

The engines are the action context's (lib.actions.context.current()), so the process keeps
one pool per database, when that context was made from the same configuration; otherwise
(a script with settings of its own) engines are made from `settings`, once per process. A
record database that is the audit database (one PostgreSQL database for both) is listed
once, as "audit": its rows are delivered and listed once.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa

from lib.config.settings import Settings
from lib.notify import outbox

_lock = threading.Lock()
_ensured: set[str] = set()
_made: dict[str, dict[str, sa.Engine]] = {}
RECORD_DBS = ("shop", "crm")


def _key(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def ensured(engines: dict[str, sa.Engine]) -> dict[str, sa.Engine]:
    """The same engines, one per database, each with the outbox tables made (once a process)."""
    out: dict[str, sa.Engine] = {}
    seen: set[str] = set()
    for name, engine in engines.items():
        key = _key(engine)
        if key in seen:
            continue
        seen.add(key)
        with _lock:
            if key not in _ensured:
                outbox.ensure(engine)
                _ensured.add(key)
        out[name] = engine
    return out


def outboxes_for(settings: Settings) -> dict[str, sa.Engine]:
    from lib.actions.context import current

    ctx = current()
    if ctx.audit.url.render_as_string(False) == sa.make_url(settings.audit_url).render_as_string(
        False
    ):
        engines = {"audit": ctx.audit.db}
        engines.update({name: ctx.db(name) for name in RECORD_DBS if name in ctx.databases})
        return ensured(engines)
    return ensured(_own_engines(settings))


def _own_engines(settings: Settings) -> dict[str, sa.Engine]:
    from lib.audit import AuditStore
    from lib.reading.sources.sql import sqlalchemy_url
    from lib.records.database import make_engine

    key = repr((settings.audit_url, [settings.source(n) for n in RECORD_DBS]))
    with _lock:
        if key not in _made:
            engines = {"audit": AuditStore(settings.audit_url).db}
            for name in RECORD_DBS:
                engines[name] = make_engine(sqlalchemy_url(settings.source(name)))
            _made[key] = engines
        return _made[key]
