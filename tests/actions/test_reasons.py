"""The reason of every action that takes one: no contact details in it, whatever their shape.

A reason is stored in the audit log as typed and shown to auditors, so the action refuses
one carrying an e-mail address or a phone number, before anything changes.
"""

from __future__ import annotations

import importlib
import json

import pytest

from lib.actions import ACTIONS, run
from lib.actions import validation as v
from lib.errors import ValidationFailed

REFUSED = "reason must not contain contact details (e-mail or phone number)"
WITH_CONTACTS = [
    "customer asked to call back on 010-1234-5678",
    "customer asked to call back on 010 1234 5678",
    "wrote from minsu.kim@example.com about it",
    "office line 02 - 123 - 4567 confirmed the address",
    "card company ARS 1588-1234 confirmed the charge",
    "US buyer, reached at +1 (415) 555-0100 yesterday",
]
WITHOUT_CONTACTS = [
    "refund 12,000 for order 4321, box arrived broken",
    "delivery promised by 2026-11-30, customer cancelled on ticket T0099",
    "customer asked to confirm the address on file, ticket 4411",
]
# Every action whose input has a reason, with the rest of a valid input.
TAKES_A_REASON = {
    "customer.unmask": ("support", {"customer_id": 1, "fields": ["email"]}),
    "order.reject": ("operator", {"order_id": 1}),
    "order.refund": ("operator", {"order_id": 1, "amount": 1_000}),
}


def test_every_action_that_takes_a_reason_is_listed_here():
    probe = "x" * 20
    takes = set()
    for name, action in ACTIONS.items():
        try:
            action.validate({"reason": probe})
        except ValidationFailed as exc:
            if "unexpected parameter: reason" in str(exc):
                continue
        except Exception:  # noqa: BLE001 - any other complaint means reason is accepted
            pass
        takes.add(name)
    assert takes == set(TAKES_A_REASON)


@pytest.mark.parametrize("reason", WITH_CONTACTS)
@pytest.mark.parametrize("name", sorted(TAKES_A_REASON))
def test_a_reason_with_contact_details_is_refused_and_kept_out_of_the_audit_log(
    sqlite_ctx, principals, audit_rows, name, reason
):
    user, params = TAKES_A_REASON[name]
    result = run(name, principals[user], reason=reason, **params)
    assert (result.outcome, result.message) == ("invalid", REFUSED)
    rows = audit_rows(sqlite_ctx, action=name)
    assert [r["outcome"] for r in rows] == ["invalid"]
    assert reason not in json.dumps(rows, ensure_ascii=False, default=str)


@pytest.mark.parametrize("reason", WITHOUT_CONTACTS)
def test_ids_amounts_and_dates_in_a_reason_are_accepted(reason):
    assert v.reason({"reason": f"  {reason} "}) == reason


def test_a_missing_or_short_reason_is_still_refused_as_before():
    with pytest.raises(ValidationFailed, match="reason is required"):
        v.reason({})
    with pytest.raises(ValidationFailed, match="reason must be at least 10 characters"):
        v.reason({"reason": "too short"}, min_len=10)


# The module whose dialog asks for each reason, and the name under which its action states
# the minimum.
PAGE_MINIMUM = {
    "customer.unmask": ("lib.ui.customer_contact", "lib.actions.customers", "MIN_UNMASK_REASON"),
    "order.reject": ("lib.ui.orders_dialogs", "lib.actions.orders", "MIN_REASON"),
    "order.refund": ("lib.ui.orders_dialogs", "lib.actions.orders", "MIN_REASON"),
}


@pytest.mark.parametrize("name", sorted(TAKES_A_REASON))
def test_the_reason_minimum_a_page_asks_for_is_the_one_its_action_states_and_enforces(name):
    page_name, action_module, constant = PAGE_MINIMUM[name]
    page = importlib.import_module(page_name)
    stated = getattr(importlib.import_module(action_module), constant)
    assert stated == page.MIN_REASON  # read from the action, not a number of the page's own
    _, params = TAKES_A_REASON[name]
    validate = ACTIONS[name].validate
    with pytest.raises(ValidationFailed, match=f"reason must be at least {stated} characters"):
        validate({**params, "reason": "x" * (stated - 1)})
    assert validate({**params, "reason": "x" * stated})["reason"] == "x" * stated
