"""One customer's contact details on the Customers page: the contact panel (masked but for
the fields this user holds an unmask grant for, lib.access.unmask), the unmask dialog that
asks which fields and why (`customer.unmask`), and the contact form
(`customer.update_contact`).

The fields and the limits (lengths, the reason's minimum) are the actions' own
(lib.actions.customers), so the page never asks for what the action would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access import policy, unmask
from lib.access.principal import Principal
from lib.actions.context import current as action_context
from lib.actions.customers import CONTACT_FIELDS, CONTACT_MAX_LEN, MAX_UNMASK_REASON
from lib.actions.customers import MIN_UNMASK_REASON as MIN_REASON  # what customer.unmask takes
from lib.ui import session_guard
from lib.ui.widgets import escape_markdown, show_result, submit_or_cancel

FIELD_LABELS = {"name": "Name", "email": "E-mail", "phone": "Phone", "address": "Address"}
# Session-state keys.
UNMASKING = "customers_unmasking"  # the unmask dialog is open for this customer id
RESULT = "customers_result"  # the last action's result, shown once after the rerun
FORM_KEYS = tuple(f"customers_new_{f}" for f in CONTACT_FIELDS)
UNMASK_KEYS = ("customers_unmask_fields", "customers_unmask_reason")


def label(value: str) -> str:
    return "VIP" if value == "vip" else value.replace("_", " ").capitalize()


def md(value: object) -> str:
    """Text shown in markdown as it is: a masked e-mail's '*' must not turn into italics."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return escape_markdown(value)


def utc(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def grant_expiry(principal: Principal, customer_id: int, kinds: set[str]) -> datetime | None:
    """Until when the fields shown in clear stay so: the latest expiry among this user's
    unmask grants for this customer (read from their audit rows, which hold no values)."""
    if not kinds:
        return None
    rows = action_context().audit.query(
        actor=principal.username,
        action="customer.unmask",
        outcome="ok",
        target_id=str(customer_id),
        limit=50,
    )
    now = unmask.utc_now()
    ends = [
        end
        for row in rows
        if kinds & set(row["detail"].get("fields") or ())
        and (end := utc(row["detail"].get("expires_at"))) is not None
        and end > now
    ]
    return max(ends, default=None)


# --- the contact panel -----------------------------------------------------------------------


def _open_unmask(customer_id: int) -> None:
    st.session_state[UNMASKING] = customer_id


def close_unmask() -> None:
    state = st.session_state
    state[UNMASKING] = None
    for key in UNMASK_KEYS:
        state.pop(key, None)


def contact_panel(principal: Principal, customer: Mapping[str, Any]) -> None:
    """Contact details, masked but for the fields this user holds a grant for."""
    ctx = action_context()
    customer_id = int(customer["id"])
    shown = unmask.active_fields(ctx, principal, customer_id)
    view = unmask.reveal(customer, principal, ctx)
    st.markdown("**Contact**")
    lines = [f"{FIELD_LABELS[f]}: {md(view[f])}" for f in FIELD_LABELS]
    signed_up = pd.Timestamp(customer["signup_date"]).date().isoformat()
    lines.append(
        f"Segment: **{md(label(customer['segment']))}** · status: "
        f"**{md(label(customer['status']))}** · signed up {md(signed_up)}"
    )
    st.markdown("  \n".join(lines))
    if shown:
        until = grant_expiry(principal, customer_id, shown)
        fields = ", ".join(FIELD_LABELS[f] for f in FIELD_LABELS if f in shown)
        st.caption(
            f":material/visibility: {fields} shown in clear to you"
            + (f" until {until:%H:%M:%S} UTC" if until else "")
            + "; everything else stays masked."
        )
    kinds = policy.unmask_kinds(principal) & set(unmask.KINDS)
    if kinds and policy.may_run(principal, "customer.unmask"):
        st.button(
            "Unmask…",
            key="customers_unmask",
            icon=":material/visibility:",
            on_click=_open_unmask,
            args=(customer_id,),
            help="Show chosen fields of this customer to you for a while, with a reason.",
        )


# --- unmask ----------------------------------------------------------------------------------


@session_guard.dialog("Unmask personal data", on_dismiss=close_unmask)
def unmask_dialog(principal: Principal) -> None:
    """Opened whenever UNMASKING is set (a click inside a dialog opened straight from a
    button is lost in AppTest); closed by clearing it before the rerun."""
    customer_id = st.session_state.get(UNMASKING)
    if not customer_id:
        st.rerun()
    kinds = [k for k in FIELD_LABELS if k in policy.unmask_kinds(principal)]
    minutes = action_context().unmask_minutes
    st.markdown(
        f"Customer **#{customer_id}**: the fields you choose are shown to you only, on this "
        f"customer only, for {minutes} minutes."
    )
    st.caption("Your reason is kept in the audit log; the values you see are not.")
    fields = st.multiselect(
        "Fields",
        kinds,
        key=UNMASK_KEYS[0],
        format_func=FIELD_LABELS.get,
        placeholder="Choose fields",
    )
    reason = st.text_area(
        "Reason",
        key=UNMASK_KEYS[1],
        max_chars=MAX_UNMASK_REASON,
        height=80,
        placeholder="e.g. ticket T001234: the customer asks to confirm the delivery address",
    )
    if submit_or_cancel("Unmask", "customers_unmask", close_unmask):
        reason = (reason or "").strip()
        if not fields:
            st.error("Choose at least one field.")
            return
        if len(reason) < MIN_REASON:
            st.error(f"Give a reason (at least {MIN_REASON} characters).")
            return
        result = actions.run(
            "customer.unmask",
            session_guard.actor(principal),
            customer_id=int(customer_id),
            fields=list(fields),
            reason=reason,
        )
        if not result.ok:
            st.error(escape_markdown(result.message), icon=":material/error:")
            return
        st.session_state[RESULT] = result
        close_unmask()
        st.rerun()


# --- the contact form ------------------------------------------------------------------------


def contact_form(principal: Principal, customer: Mapping[str, Any]) -> None:
    """New e-mail, phone or address: only what is filled in is changed."""
    customer_id = int(customer["id"])
    st.caption("Fill in only what changes; empty fields are kept. The change is audited.")
    with st.form(f"customers_contact_{customer_id}", border=False):
        for field, key in zip(CONTACT_FIELDS, FORM_KEYS, strict=True):
            st.text_input(
                f"New {FIELD_LABELS[field].lower()}", key=key, max_chars=CONTACT_MAX_LEN[field]
            )
        submitted = st.form_submit_button(
            "Save contact", key="customers_save_contact", type="primary", icon=":material/save:"
        )
    if not submitted:
        return
    changes = {
        field: value.strip()
        for field, key in zip(CONTACT_FIELDS, FORM_KEYS, strict=True)
        if (value := st.session_state.get(key) or "").strip()
    }
    if not changes:
        st.warning("Fill in at least one field to change.")
        return
    with st.spinner("Saving…"):
        result = actions.run(
            "customer.update_contact",
            session_guard.actor(principal),
            customer_id=customer_id,
            **changes,
        )
    if not result.ok:
        show_result(result)  # the typed values stay, to be corrected
        return
    st.session_state[RESULT] = result
    for key in FORM_KEYS:
        st.session_state.pop(key, None)
    st.rerun()
