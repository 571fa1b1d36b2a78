"""Customer actions: update contact details, unmask personal data for a while.

Personal data never reaches the audit log raw: a contact change is recorded as masked
before/after values (lib.access.masking, the same rule as every screen), an unmask as the kinds
revealed and for how long, never the values. Messages never quote what was typed either,
since they are audited too.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from lib.access import policy, unmask
from lib.access.masking import mask_detail
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import ActionDenied, Conflict, ValidationFailed
from lib.records.database import READ_ONLY
from lib.records.schema import customers, now_text

# What update_contact and unmask take; the Customers page's form and dialog read them here.
CONTACT_FIELDS = ("email", "phone", "address")
CONTACT_MAX_LEN = {"email": 254, "phone": 32, "address": 200}
MIN_ADDRESS = 5
MIN_UNMASK_REASON = 10
MAX_UNMASK_REASON = 500

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
# After dropping spaces, dots, hyphens and brackets: 010 then 4 + 4 digits, or an older
# 011/016/017/018/019 number with 3 or 4 digits in the middle.
_MOBILE = re.compile(r"(010)(\d{4})(\d{4})|(01[16789])(\d{3,4})(\d{4})")
_PHONE_SEPARATORS = re.compile(r"[\s.()-]")


def _customer(conn: sa.Connection, customer_id: int, lock: bool = False) -> Any:
    stmt = sa.select(customers).where(customers.c.id == customer_id)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


# --- update_contact -------------------------------------------------------------------------


def normalize_email(value: str) -> str:
    """`value` as stored: trimmed, domain in lower case. Raises ValidationFailed."""
    value = value.strip()
    if len(value) > CONTACT_MAX_LEN["email"] or not _EMAIL.fullmatch(value) or ".." in value:
        raise ValidationFailed("email is not a valid e-mail address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalize_phone(value: str) -> str:
    """A Korean mobile number (01X-XXXX-XXXX, 01XXXXXXXXX, +82 10-XXXX-XXXX...) as
    010-1234-5678. Raises ValidationFailed."""
    digits = _PHONE_SEPARATORS.sub("", value)
    if digits.startswith("+82"):
        digits = "0" + digits[3:].removeprefix("0")
    m = _MOBILE.fullmatch(digits)
    if m is None:
        # Never quote the value: this message is audited.
        raise ValidationFailed("phone must be a Korean mobile number (01X-XXXX-XXXX or +82)")
    return "-".join(part for part in m.groups() if part is not None)


def _validate_update_contact(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"customer_id", *CONTACT_FIELDS})
    clean: dict[str, Any] = {"customer_id": v.integer(p, "customer_id", minimum=1)}
    email = v.text(p, "email", max_len=CONTACT_MAX_LEN["email"], required=False)
    if email is not None:
        clean["email"] = normalize_email(email)
    phone = v.text(p, "phone", max_len=CONTACT_MAX_LEN["phone"], required=False)
    if phone is not None:
        clean["phone"] = normalize_phone(phone)
    address = v.text(
        p, "address", min_len=MIN_ADDRESS, max_len=CONTACT_MAX_LEN["address"], required=False
    )
    if address is not None:
        clean["address"] = address
    if len(clean) == 1:
        raise ValidationFailed(f"give at least one of: {', '.join(CONTACT_FIELDS)}")
    return clean


def update_contact(call: Call, customer_id: int, **new: str) -> Result:
    """Change a customer's email, phone and/or address; only what differs is written."""
    call.target(customer_id)
    with call.transaction("crm") as tx:
        before = _customer(tx.conn, customer_id, lock=True)
        if before is None:
            raise ValidationFailed(f"No customer {customer_id}")
        changes = {f: value for f, value in new.items() if value != getattr(before, f)}
        if "email" in changes:
            taken = tx.execute(
                sa.select(customers.c.id).where(
                    sa.func.lower(customers.c.email) == changes["email"].lower(),
                    customers.c.id != customer_id,
                )
            ).first()
            if taken is not None:
                raise Conflict("That e-mail address belongs to another customer.")
        if changes:
            try:
                tx.execute(
                    sa.update(customers)
                    .where(customers.c.id == customer_id)
                    .values(**changes, updated_at=now_text())
                )
            except sa.exc.IntegrityError:
                # Another customer took the address meanwhile. `from None`: the driver's
                # message quotes the statement's parameters, which are personal data.
                raise Conflict("That e-mail address belongs to another customer.") from None
        detail = {
            "changed": sorted(changes),
            **{f: {"before": getattr(before, f), "after": changes[f]} for f in sorted(changes)},
        }
        tx.audit("ok", mask_detail(detail))
    if not changes:
        return call.result("ok", f"Customer {customer_id}: nothing changed.", changed=[])
    return call.result(
        "ok",
        f"Customer {customer_id}: {', '.join(sorted(changes))} updated.",
        changed=sorted(changes),
    )


# --- unmask ---------------------------------------------------------------------------------


def _validate_unmask(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"customer_id", "fields", "reason"})
    fields = p.get("fields")
    if isinstance(fields, str):
        fields = [fields]
    if not fields or not isinstance(fields, list | tuple | set | frozenset):
        raise ValidationFailed(f"fields is required: one or more of {', '.join(unmask.KINDS)}")
    if not all(isinstance(f, str) and f in unmask.KINDS for f in fields):
        # Not quoting what was sent: it is audited, and could be anything.
        raise ValidationFailed(f"fields must be among: {', '.join(unmask.KINDS)}")
    return {
        "customer_id": v.integer(p, "customer_id", minimum=1),
        "fields": sorted(set(fields)),
        "reason": v.reason(p, min_len=MIN_UNMASK_REASON, max_len=MAX_UNMASK_REASON),
    }


def unmask_customer(call: Call, customer_id: int, fields: list[str], reason: str) -> Result:
    """Let the actor see `fields` of this one customer for ctx.unmask_minutes."""
    call.target(customer_id)
    refused = sorted(set(fields) - policy.unmask_kinds(call.actor))
    if refused:
        raise ActionDenied(f"Your role may not unmask: {', '.join(refused)}.")
    with call.ctx.db("crm").connect().execution_options(**{READ_ONLY: True}) as conn:
        if _customer(conn, customer_id) is None:
            raise ValidationFailed(f"No customer {customer_id}")
    unmask.ensure_table(call.ctx.audit)
    # The grant and its audit row commit together: no grant that was not recorded.
    with call.ctx.audit.begin() as conn:
        expires_at = unmask.grant(
            conn,
            actor=call.actor.username,
            customer_id=customer_id,
            fields=fields,
            reason=reason,
            minutes=call.ctx.unmask_minutes,
            request_id=call.request_id,
        )
        detail = {"fields": fields, "expires_at": expires_at}
        call.ctx.audit.record(conn, call.entry("ok", detail, reason))
    return call.result(
        "ok",
        f"Customer {customer_id}: {', '.join(fields)} shown to you for "
        f"{call.ctx.unmask_minutes} minutes.",
        fields=fields,
        expires_at=expires_at,
    )


ACTIONS = (
    Action(
        "customer.update_contact",
        "customer",
        _validate_update_contact,
        update_contact,
        "Change a customer's e-mail, phone or address",
    ),
    Action(
        "customer.unmask",
        "customer",
        _validate_unmask,
        unmask_customer,
        "See a customer's personal data for a while, with a reason",
    ),
)
