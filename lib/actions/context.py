"""What actions act on: the audit store, the systems of record, the payment gateway.

Built once per process from the settings; tests build their own and install it with
`use_context`, so `run(name, actor, **params)` needs nothing else from its caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lib.access.masking import masked_line
from lib.audit import AuditStore
from lib.errors import ConfigError
from lib.notify import outbox
from lib.notify.config import NotifyConfig
from lib.payments.client import PaymentsClient
from lib.payments.gateway import GatewayConfig
from lib.reading.sources.base import SourceConfig
from lib.records.database import make_engine
from lib.records.schema import ensure_action_tables


@dataclass
class ActionContext:
    audit: AuditStore
    databases: dict[str, sa.Engine]  # "shop", "crm": the systems of record
    payments: PaymentsClient | None = None
    unmask_minutes: int = 10
    # What sheet.export reads and writes to; None: the app's (lib.config.runtime) engine and
    # its `sheets` source. Tests give their own.
    engine: Any = None
    sheet_target: SourceConfig | None = None
    # [notifications]: where Tx.notify routes an event; None: nothing is routed.
    notify: NotifyConfig | None = None
    # The process's background jobs (lib.jobs.worker.Jobs) that notification.deliver_now
    # and report.send_now run a round of; None: the app's (worker.for_process). Tests give
    # their own.
    jobs: Any = None
    _prepared: set[str] = field(default_factory=set)
    _prepare_lock: threading.Lock = field(default_factory=threading.Lock)

    def db(self, name: str) -> sa.Engine:
        try:
            engine = self.databases[name]
        except KeyError:
            raise ConfigError(f"No system of record named '{name}'") from None
        if name not in self._prepared:
            with self._prepare_lock:
                if name not in self._prepared:
                    ensure_action_tables(engine, name)
                    if self.notify is not None:
                        outbox.ensure(engine)
                    self._prepared.add(name)
        return engine

    def same_database_as_audit(self, name: str) -> bool:
        """True when the change and its audit row can share one transaction."""
        url = self.db(name).url
        return url.render_as_string(False) == self.audit.db.url.render_as_string(False)


_lock = threading.Lock()
_context: ActionContext | None = None
log = logging.getLogger(__name__)
RECORDS = ("shop", "crm")  # the systems of record actions write to


def ensure_records(settings: Any) -> list[str]:
    """Create the tables the action layer owns (shop: refunds) in each system of record that
    lacks them, as the first action would: called when the app's reading engine is made, so
    a shop no action has written to yet (no `refunds` table) still has every table the
    configuration declares (refunds_snapshot) and its pages read it. Never raises: a
    database that is down or refuses DDL is left as it is and said in one masked log line
    each (returned too); the page that reads it then says the source is unavailable. A
    SQLite file that does not exist is left alone (no empty database made at a wrong path)."""
    from lib.reading.sources.sql import failure_reason, sqlalchemy_url

    problems = []
    for name in RECORDS:
        try:
            cfg = settings.source(name)
            url = sa.make_url(sqlalchemy_url(cfg))
        except (ConfigError, sa.exc.ArgumentError):
            continue  # no such SQL source in this configuration
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            continue
        engine = make_engine(url)
        try:
            ensure_action_tables(engine, name)
        except Exception as exc:  # noqa: BLE001 - a start-up courtesy; the action retries
            problem = masked_line(f"{name}: {failure_reason(cfg, exc)}")
            log.warning("action tables not ensured in %s", problem)
            problems.append(problem)
        finally:
            engine.dispose()
    return problems


def from_settings() -> ActionContext:
    from lib.config.settings import load_settings
    from lib.reading.sources.sql import sqlalchemy_url

    settings = load_settings()
    audit = AuditStore(settings.audit_url)
    audit.create_schema()
    dbs = {name: make_engine(sqlalchemy_url(settings.source(name))) for name in ("shop", "crm")}
    payments = None
    if settings.gateway:
        gw = settings.gateway
        payments = PaymentsClient(
            GatewayConfig(
                base_url=gw["base_url"],
                secret_key=gw["secret_key"],
                timeout=float(gw.get("timeout", 5)),
                retries=int(gw.get("retries", 2)),
            )
        )
    minutes = int(settings.app.get("unmask_minutes", 10))
    notify = settings.notify if settings.notifications else None
    if notify is not None:
        outbox.ensure(audit.db)  # an event of a shop change may share the audit's database
    return ActionContext(
        audit=audit, databases=dbs, payments=payments, unmask_minutes=minutes, notify=notify
    )


def current() -> ActionContext:
    global _context
    with _lock:
        if _context is None:
            _context = from_settings()
        return _context


@contextmanager
def use_context(ctx: ActionContext) -> Iterator[ActionContext]:
    """Run actions against `ctx` inside the block (tests, scripts)."""
    global _context
    with _lock:
        previous, _context = _context, ctx
    try:
        yield ctx
    finally:
        with _lock:
            _context = previous


def reset() -> None:
    """Forget the process's context (the configuration changed, e.g. between tests)."""
    global _context
    with _lock:
        _context = None
