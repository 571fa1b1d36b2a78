"""Scheduling a dashboard report by e-mail, and stopping a schedule (admins).

A schedule lives in the audit database (lib.reports.schedules_store), so the schedule and
its audit row commit in one transaction. The audit row records the name, the frequency,
the view and how many recipients, with their addresses masked: the addresses themselves
are kept only in the schedule, which needs them to send.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lib.access.masking import looks_like_raw_pii, mask
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import Conflict, ValidationFailed
from lib.reports import schedules_store as store

MAX_NAME = 100
MAX_RECIPIENTS = 20
MAX_ADDRESS = 254  # RFC 5321's limit of a forward path
# One address as people type it: no spaces, commas or angle brackets, one @, a dotted domain.
_ADDRESS = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
_SEPARATORS = re.compile(r"[,;\s]+")
DATES = ("from", "to")  # in a dashboard URL; the schedule's period decides them instead


def recipients(value: object) -> list[str]:
    """The addresses of a comma-, semicolon- or space-separated text or a list of them,
    each checked, duplicates dropped (case-insensitive); 1 to MAX_RECIPIENTS."""
    if isinstance(value, str):
        parts = _SEPARATORS.split(value)
    elif isinstance(value, list | tuple) and all(isinstance(p, str) for p in value):
        parts = [q for p in value for q in _SEPARATORS.split(p)]
    else:
        raise ValidationFailed("recipients must be e-mail addresses")
    found: dict[str, str] = {}
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if len(part) > MAX_ADDRESS or not _ADDRESS.fullmatch(part):
            # Masked: the message is shown, and audited with the refusal.
            raise ValidationFailed(f"recipient {mask('email', part)} is not an e-mail address")
        found.setdefault(part.casefold(), part)
    if not found:
        raise ValidationFailed("recipients: give at least one e-mail address")
    if len(found) > MAX_RECIPIENTS:
        raise ValidationFailed(f"recipients: at most {MAX_RECIPIENTS} addresses")
    return list(found.values())


def view(value: object) -> dict[str, Any]:
    """The dashboard view's parameters (its URL's, dates left out), checked by the
    dashboard's own parser (lib.dashboard.filters.from_url): any value it would ignore is
    refused here, so a schedule never sends a view other than the one asked for."""
    from lib.dashboard.filters import from_url

    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValidationFailed("view must be the dashboard's URL parameters")
    unknown = sorted(set(map(str, value)) - set(store.VIEW_KEYS) - set(DATES))
    if unknown:
        raise ValidationFailed(f"view: unknown parameter {', '.join(unknown)}")
    query = {k: str(value[k]) for k in store.VIEW_KEYS if value.get(k) not in (None, "")}
    filters, problems = from_url(query, None)
    if problems:
        raise ValidationFailed(f"view: {problems[0]}")
    for name in ("segment", "method"):
        if looks_like_raw_pii(str(getattr(filters, name) or "")):
            raise ValidationFailed(f"view: {name} must not contain contact details")
    return {
        "granularity": filters.granularity,
        "seller": filters.seller_id,
        "segment": filters.segment,
        "method": filters.method,
    }


def _validate_schedule(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"name", "recipients", "frequency", "view"})
    return {
        "name": v.free_text(p, "name", min_len=3, max_len=MAX_NAME),
        "recipients": recipients(p.get("recipients")),
        "frequency": v.choice(p, "frequency", store.FREQUENCIES),
        "view": view(p.get("view")),
    }


def schedule(
    call: Call, name: str, recipients: list[str], frequency: str, view: dict[str, Any]
) -> Result:
    """Keep the schedule; the scheduler sends its latest finished period at its next tick."""
    audit = call.ctx.audit
    store.ensure(audit.db)
    with audit.begin() as conn:
        schedule_id = store.insert(
            conn,
            name=name,
            view=view,
            recipients=recipients,
            frequency=frequency,
            created_by=call.actor.username,
        )
        call.target(schedule_id)
        detail = {  # "report", not "name": an audit "name" is read as a person's
            "report": name,
            "frequency": frequency,
            "recipients": len(recipients),
            "to": [mask("email", r) for r in recipients],
            "view": {k: val for k, val in view.items() if val is not None},
        }
        audit.record(conn, call.entry("ok", detail))
    n = len(recipients)
    return call.result(
        "ok",
        f"Scheduled '{name}' {frequency} to {n} recipient{'s' if n != 1 else ''}; "
        "the latest finished period goes out within a minute.",
        schedule_id=schedule_id,
    )


def _validate_unschedule(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"schedule_id"})
    return {"schedule_id": v.integer(p, "schedule_id", minimum=1)}


def unschedule(call: Call, schedule_id: int) -> Result:
    """Stop a schedule: nothing more is sent for it (what was sent stays recorded)."""
    call.target(schedule_id)
    audit = call.ctx.audit
    store.ensure(audit.db)
    with audit.begin() as conn:
        found = store.get(conn, schedule_id)
        if found is None:
            raise ValidationFailed(f"No scheduled report {schedule_id}")
        if not store.deactivate(conn, schedule_id):
            raise Conflict(f"The scheduled report '{found.name}' is already stopped.")
        detail = {"report": found.name, "frequency": found.frequency}
        audit.record(conn, call.entry("ok", detail))
    return call.result("ok", f"Stopped the scheduled report '{found.name}'.")


ACTIONS = (
    Action(
        "report.schedule",
        "report_schedule",
        _validate_schedule,
        schedule,
        "E-mail a dashboard view (XLSX + PDF) daily, weekly or monthly to up to 20 addresses",
    ),
    Action(
        "report.unschedule",
        "report_schedule",
        _validate_unschedule,
        unschedule,
        "Stop a scheduled report",
    ),
)
