"""Every action for every role: allowed exactly where config/policy.toml says, each denial
audited, no unauthorized success."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lib import actions
from lib.access import policy
from lib.access.principal import Principal
from lib.actions.context import ActionContext
from lib.config.settings import load_settings
from lib.demo.services.serve import DEFAULT_SECRET, ServiceThread, create_service
from lib.jobs.worker import Jobs
from lib.notify import outbox
from lib.notify.config import NotifyConfig, SmtpConfig
from lib.notify.model import Event
from lib.payments.client import PaymentsClient
from lib.payments.gateway import GatewayConfig
from lib.reports import schedules_store
from tests.actions import export_target
from tests.actions.conftest import PRINCIPALS, sqlite_context
from tests.pages.helpers import insert_unknown_refund
from tests.stack import write_config

# One user per role; a seller acts for its own tenant.
ROLE_USERS = {
    role: PRINCIPALS[role] for role in ("admin", "operator", "support", "analyst", "auditor")
} | {"seller": PRINCIPALS["seller1"]}


def _first(ctx: ActionContext, sql: str) -> int:
    with ctx.db("shop").connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def _unknown_refund(ctx: ActionContext, order_id: int) -> int:
    """A refund whose gateway call never got an answer (its key was never sent)."""
    with ctx.db("shop").begin() as conn:
        insert_unknown_refund(conn, order_id, 500, f"matrix-{order_id}")
    return order_id


def _schedule(ctx: ActionContext) -> dict[str, Any]:
    """An active scheduled report to stop."""
    schedules_store.ensure(ctx.audit.db)
    with ctx.audit.db.begin() as conn:
        schedule_id = schedules_store.insert(
            conn,
            name="Weekly sales",
            view={"granularity": "week"},
            recipients=["ops@example.com"],
            frequency="weekly",
            created_by="admin",
        )
    return {"schedule_id": schedule_id}


def _failed_send(ctx: ActionContext) -> dict[str, Any]:
    """A scheduled report whose period's build gave up (failed, max_attempts builds)."""
    schedule_id = _schedule(ctx)["schedule_id"]
    with ctx.audit.db.begin() as conn:
        conn.execute(
            sa.insert(schedules_store.report_sends).values(
                schedule_id=schedule_id, period_key="2026-W48", date_from="2026-11-23",
                date_to="2026-11-29", created_at="2026-11-30T10:00:00+00:00", status="failed",
                attempts=3, last_error="SourceUnavailable: shop",
            )
        )  # fmt: skip
    return {"schedule_id": schedule_id, "period": "2026-W48"}


def _jobs(ctx: ActionContext) -> dict[str, Any]:
    """The process's jobs over this test's configuration and audit database: nothing due.
    No parameters: the action runs a round of the context's jobs."""
    outbox.ensure(ctx.audit.db)
    ctx.jobs = Jobs(load_settings(), outboxes={"audit": ctx.audit.db})
    return {}


def _failed_message(ctx: ActionContext) -> dict[str, Any]:
    """An e-mail in the audit database's outbox that gave up (failed)."""
    outbox.ensure(ctx.audit.db)
    event = Event("report.scheduled", "Report 'Weekly sales'", "attached")
    with ctx.audit.db.begin() as conn:
        [message_id] = outbox.enqueue(
            conn, event, NotifyConfig(), channel="email", recipients=["ops@example.com"]
        )
        conn.execute(
            sa.update(outbox.outbox).where(outbox.outbox.c.id == message_id).values(status="failed")
        )
    return {"outbox": "audit", "message_id": message_id}


def _params(ctx: ActionContext, actor: Principal) -> dict[str, Callable[[], dict[str, Any]]]:
    """Input that is valid for each action, so only the permission decides the outcome."""
    pending = "SELECT id FROM orders WHERE status = 'pending' ORDER BY id LIMIT 1"
    approved = (
        "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE o.status = 'approved' AND p.balance_amount > 1000 ORDER BY o.id LIMIT 1"
    )
    product = "SELECT id FROM products WHERE seller_id = 1 AND active = 1 ORDER BY id LIMIT 1"
    own = {} if actor.tenant else {"seller_id": 1}
    return {
        "order.approve": lambda: {"order_id": _first(ctx, pending)},
        "order.reject": lambda: {"order_id": _first(ctx, pending), "reason": "out of stock"},
        "order.reconcile": lambda: {"order_id": _unknown_refund(ctx, _first(ctx, approved))},
        "order.refund": lambda: {
            "order_id": _first(ctx, approved),
            "amount": 500,
            "reason": "damaged box",
        },
        "customer.update_contact": lambda: {"customer_id": 1, "phone": "010-2222-3333"},
        "customer.unmask": lambda: {
            "customer_id": 1,
            "fields": ["email"],
            "reason": "customer asked on the phone for a receipt",
        },
        "product.create": lambda: {
            "name": "Linen shirt",
            "price": 39000,
            "stock": 5,
            "category": "fashion",
            **own,
        },
        "product.update": lambda: {"product_id": _first(ctx, product), "price": 12300},
        "product.deactivate": lambda: {"product_id": _first(ctx, product)},
        "sheet.connect": lambda: {
            "table": "budget",
            "kind": "csv",
            "columns": {"month": "date", "amount": "int"},
            "filename": "budget.csv",
            "data": b"month,amount\n2026-01,100\n",
        },
        "sheet.export": lambda: export_target.install(ctx),
        "sheet.import_rows": lambda: {
            "table": "marketing_spend",
            "rows": [
                {
                    "month": "2026-11-01",
                    "channel": "search",
                    "spend_krw": "1000",
                    "clicks": "10",
                    "signups": "1",
                }
            ],
        },
        "report.schedule": lambda: {
            "name": "Monthly sales",
            "recipients": "ana@example.com, ops@example.com",
            "frequency": "monthly",
            "view": {"granularity": "week", "segment": "vip"},
        },
        "report.unschedule": lambda: _schedule(ctx),
        "report.retry": lambda: _failed_send(ctx),
        "report.send_now": lambda: _jobs(ctx),
        "notification.retry": lambda: _failed_message(ctx),
        "notification.deliver_now": lambda: _jobs(ctx),
    }


@pytest.fixture
def matrix_ctx(tmp_path, demo_dir, monkeypatch) -> Iterator[ActionContext]:
    ctx = sqlite_context(tmp_path, demo_dir)
    # sheet.connect writes beside the configuration: this test's own (under its demo dir).
    (tmp_path / "config").mkdir()
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(write_config(tmp_path / "config", demo_dir)))
    gateway = ServiceThread(create_service("gateway", tmp_path)).start()
    ctx.payments = PaymentsClient(GatewayConfig(gateway.url, DEFAULT_SECRET, timeout=2))
    # report.schedule needs e-mail configured (a closed port: nothing is sent here)
    ctx.notify = NotifyConfig(smtp=SmtpConfig("127.0.0.1", 9, "backoffice@example.com"))
    with actions.use_context(ctx):
        yield ctx
    gateway.stop()


def test_the_matrix_covers_every_declared_action():
    assert set(actions.ACTIONS) == set(_params(None, ROLE_USERS["admin"]))  # type: ignore[arg-type]
    assert set(ROLE_USERS) == set(policy.roles())


@pytest.mark.parametrize("action", sorted(actions.ACTIONS))
@pytest.mark.parametrize("role", sorted(ROLE_USERS))
def test_role_may_run_action_exactly_where_policy_says(matrix_ctx, role, action):
    actor = ROLE_USERS[role]
    params = _params(matrix_ctx, actor)[action]()
    result = actions.run(action, actor, **params)
    rows = matrix_ctx.audit.query(action=action, limit=None)
    if policy.may_run(actor, action):
        assert result.outcome == "ok", result.message
        assert rows[0]["outcome"] == "ok"
    else:
        assert result.outcome == "denied"
        assert [(r["outcome"], r["actor"]) for r in rows] == [("denied", actor.username)]
