"""Scheduled dashboard reports by e-mail (admins): schedule one, stop it, build a failed
period again, and send what is due now.

A schedule lives in the audit database (lib.reports.schedules_store), so the schedule and
its audit row commit in one transaction. The audit row records the name, the frequency,
the view and how many recipients, with their addresses masked: the addresses themselves
are kept only in the schedule, which needs them to send.

report.send_now (no parameters) runs the scheduler's round (lib.reports.schedules.send_due)
in the caller's request with the process's jobs (lib.actions.notifications.process_jobs):
each period is recorded with its e-mail in the scheduler's own transactions, as the
background round does, and the audit row that follows says how many were queued and how
many builds failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lib.access.masking import looks_like_raw_pii, mask
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.actions.notifications import no_parameters, process_jobs
from lib.errors import ActionFailed, Conflict, ValidationFailed
from lib.reports import schedules_store as store

MAX_NAME = 100
MAX_RECIPIENTS = 20
MAX_ADDRESS = 254  # RFC 5321's limit of a forward path
# One address as people type it: no spaces, commas or angle brackets, one @, a dotted domain.
_ADDRESS = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
_SEPARATORS = re.compile(r"[,;\s]+")
DATES = ("from", "to")  # in a dashboard URL; the schedule's period decides them instead
# A period's key: 2026-11-29 (daily), 2026-W48 (weekly), 2026-11 (monthly).
_PERIOD = re.compile(r"[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2})?)")
NO_EMAIL = "e-mail is not configured: [notifications.smtp]"


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
    notify = call.ctx.notify
    if notify is None or notify.smtp is None:
        raise ValidationFailed(NO_EMAIL)  # every period would fail to send: refuse it now
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


def _schedule(conn: Any, schedule_id: int) -> Any:
    """The schedule `schedule_id`, or ValidationFailed naming it."""
    found = store.get(conn, schedule_id)
    if found is None:
        raise ValidationFailed(f"No scheduled report {schedule_id}")
    return found


def _validate_unschedule(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"schedule_id"})
    return {"schedule_id": v.integer(p, "schedule_id", minimum=1)}


def unschedule(call: Call, schedule_id: int) -> Result:
    """Stop a schedule: nothing more is sent for it (what was sent stays recorded)."""
    call.target(schedule_id)
    audit = call.ctx.audit
    store.ensure(audit.db)
    with audit.begin() as conn:
        found = _schedule(conn, schedule_id)
        if not store.deactivate(conn, schedule_id):
            raise Conflict(f"The scheduled report '{found.name}' is already stopped.")
        detail = {"report": found.name, "frequency": found.frequency}
        audit.record(conn, call.entry("ok", detail))
    return call.result("ok", f"Stopped the scheduled report '{found.name}'.")


def _validate_retry(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"schedule_id", "period"})
    period = v.text(p, "period", max_len=16)
    if not _PERIOD.fullmatch(str(period)):
        raise ValidationFailed("period must be like 2026-11-29, 2026-W48 or 2026-11")
    return {"schedule_id": v.integer(p, "schedule_id", minimum=1), "period": period}


def retry(call: Call, schedule_id: int, period: str) -> Result:
    """A failed period to be built again at the scheduler's next round (or Send now), with
    a fresh count of builds: for one that gave up after [reports] max_attempts."""
    call.target(schedule_id)
    audit = call.ctx.audit
    store.ensure(audit.db)
    with audit.begin() as conn:
        found = _schedule(conn, schedule_id)
        if not found.active:
            raise Conflict(f"The scheduled report '{found.name}' is stopped.")
        send = store.send_of(conn, schedule_id, period)
        if send is None:
            raise ValidationFailed(f"'{found.name}' has no send for {period}")
        status = send["status"]
        if status == store.RETRY:
            raise Conflict(f"'{found.name}' for {period} is already waiting to be built again.")
        if status != store.FAILED or not store.ask_retry(conn, int(send["id"])):
            # Not failed when read, or no longer failed when asked (another admin, a round).
            if status == store.FAILED:
                status = (store.send_of(conn, schedule_id, period) or {}).get("status", "gone")
            raise Conflict(
                f"'{found.name}' for {period} is not failed (status {status}): "
                "nothing to build again."
            )
        detail = {"report": found.name, "period": period, "builds": int(send["attempts"])}
        audit.record(conn, call.entry("ok", detail))
    return call.result(
        "ok", f"'{found.name}' for {period} will be built again at the next round (or Send now)."
    )


def send_now(call: Call) -> Result:
    """The scheduler's round now: each report whose latest finished period has no send yet
    (and each period asked to be built again) is built and queued, once across processes."""
    import sqlalchemy as sa

    from lib.access.masking import masked_line
    from lib.reports import schedules

    jobs = process_jobs(call.ctx)
    try:
        done = schedules.send_due(jobs.settings, engine=jobs.engine, outboxes=jobs.outboxes)
    except sa.exc.SQLAlchemyError as exc:
        reason = masked_line(getattr(exc, "orig", None) or type(exc).__name__, 200)
        raise ActionFailed(f"The schedules cannot be read: {reason}") from None
    call.audit("ok", {"queued": done.queued, "failed": done.failed})
    parts = []
    if done.queued:
        parts.append(f"Queued {done.queued} report{'s' if done.queued != 1 else ''} for e-mail")
    if done.failed:
        noun = "report" if done.failed == 1 else "reports"
        parts.append(f"{done.failed} {noun} could not be built (listed with the reason)")
    if not parts:
        parts.append(
            "Nothing due: every schedule's latest period is sent, or failed and waiting for "
            "Retry build"
        )
    return call.result("ok", "; ".join(parts) + ".", queued=done.queued, failed=done.failed)


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
    Action(
        "report.retry",
        "report_schedule",
        _validate_retry,
        retry,
        "Build a scheduled report's failed period again at the next round",
    ),
    Action(
        "report.send_now",
        "report_schedule",
        no_parameters,
        send_now,
        "Build and queue the scheduled reports that are due now, instead of at the next round",
    ),
)
