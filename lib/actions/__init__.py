"""Every write in the product: `run(name, actor, **params) -> Result`.

The same steps for every action, on every call, server side: the action must exist, the
actor's role must be granted it (deny by default), its input must validate, then its body
checks the record's state, applies the effect and records the audit row. Refusals are
audited too. Outcomes: ok, denied, conflict, invalid, failed, unknown.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lib.access import policy
from lib.access.principal import Principal
from lib.actions import (
    customers,
    notifications,
    orders,
    products,
    reports,
    sheet_connect,
    sheet_export,
    sheets,
)
from lib.actions.base import Action, Call, Result
from lib.actions.context import ActionContext, current, use_context
from lib.errors import (
    ActionDenied,
    ActionFailed,
    Conflict,
    OutcomeUnknown,
    ValidationFailed,
)

log = logging.getLogger(__name__)

ACTIONS: dict[str, Action] = {
    a.name: a
    for module in (
        orders,
        customers,
        products,
        sheets,
        sheet_export,
        sheet_connect,
        reports,
        notifications,
    )
    for a in module.ACTIONS
}

__all__ = ["ACTIONS", "ActionContext", "Result", "run", "use_context"]

_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (ActionDenied, "denied"),
    (ValidationFailed, "invalid"),
    (Conflict, "conflict"),
    (ActionFailed, "failed"),
    (OutcomeUnknown, "unknown"),
)


def run(name: str, actor: Principal, /, **params: Any) -> Result:
    """Run action `name` as `actor`. Never raises for a refusal: the Result says why."""
    ctx = current()
    request_id = uuid.uuid4().hex
    action = ACTIONS.get(name)
    if action is None or not isinstance(actor, Principal):
        who = actor if isinstance(actor, Principal) else Principal("anonymous", "", ("none",))
        stub = Action(name or "unknown", "action", lambda p: p, lambda *a, **k: None)
        call = Call(ctx, who, stub, request_id)
        outcome, message = (
            ("invalid", f"No action named '{name}'")
            if action is None
            else ("denied", "Not signed in")
        )
        call.audit(outcome, {"error": message})
        return call.result(outcome, message)

    call = Call(ctx, actor, action, request_id)
    if not policy.may_run(actor, name):
        call.target(_target_hint(params))
        call.audit("denied", {"error": "role not granted this action"})
        return call.result("denied", f"Your role may not run {name}.")
    try:
        clean = action.validate(dict(params))
    except ValidationFailed as exc:
        call.target(_target_hint(params))
        _audit_refusal(call, "invalid", str(exc))
        return call.result("invalid", str(exc))
    except Exception:  # a validator's own bug must not escape run()
        log.exception("validating %s failed (request %s)", name, request_id)
        _audit_refusal(call, "invalid", "input could not be checked")
        return call.result("invalid", "The input could not be checked.")
    try:
        return action.execute(call, **clean)
    except tuple(cls for cls, _ in _REFUSALS) as exc:
        outcome = next(o for cls, o in _REFUSALS if isinstance(exc, cls))
        _audit_refusal(call, outcome, str(exc))
        return call.result(outcome, str(exc))
    except Exception:
        # Unexpected: the transaction rolled back; say so without leaking internals.
        log.exception("action %s failed (request %s)", name, request_id)
        call.audit("failed", {"error": "internal error"})
        return call.result(
            "failed", f"{name} failed; nothing was changed (request {request_id[:8]})."
        )


def _audit_refusal(call: Call, outcome: str, message: str) -> None:
    """Audit a refusal with its message, or without it if the store refuses the text
    (it would carry personal data): the refusal itself is always recorded."""
    try:
        call.audit(outcome, {"error": message})
    except ValueError:
        call.audit(outcome, {"error": "(message withheld: it contained personal data)"})


def _target_hint(params: dict[str, Any]) -> str | None:
    for key in ("order_id", "customer_id", "product_id", "table", "schedule_id"):
        value = params.get(key)
        if isinstance(value, int | str) and len(str(value)) <= 64:
            return str(value)
    return None
