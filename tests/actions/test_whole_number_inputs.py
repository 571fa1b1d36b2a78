"""Ids and amounts: every action takes ASCII digits only, within a bound, and says so plainly.

`int()` alone takes "١٢" (Arabic-Indic digits) as 12, and an id past what the database
column holds used to fail inside the database as an internal error.
"""

from __future__ import annotations

from typing import Any

import pytest

from lib import actions
from lib.actions.validation import MAX_INTEGER
from tests.actions.conftest import PRINCIPALS

ADMIN = PRINCIPALS["admin"]  # may run every action: only the input decides

BAD_NUMBERS = {
    "superscript two": "²",
    "arabic-indic twelve": "١٢",
    "ten to the thirtieth": 10**30,
    "ten to the thirtieth as text": str(10**30),
    "exponent text": "1e3",
    "minus one": -1,
    "a bool": True,
    "padded text": " 12",
    "underscored text": "1_000",
    "fraction": 2.5,
}

# Valid input for each action; the whole-number fields are swapped for a bad value below.
VALID: dict[str, dict[str, Any]] = {
    "order.approve": {"order_id": 1},
    "order.reject": {"order_id": 1, "reason": "out of stock"},
    "order.refund": {"order_id": 1, "amount": 500, "reason": "damaged box"},
    "order.reconcile": {"order_id": 1},
    "customer.update_contact": {"customer_id": 1, "phone": "010-2222-3333"},
    "customer.unmask": {
        "customer_id": 1,
        "fields": ["email"],
        "reason": "customer asked on the phone for a receipt",
    },
    "product.create": {
        "name": "Linen shirt",
        "price": 39000,
        "stock": 5,
        "category": "fashion",
        "seller_id": 1,
    },
    "product.update": {"product_id": 1, "price": 12300, "stock": 3, "seller_id": 1},
    "product.deactivate": {"product_id": 1},
    "report.unschedule": {"schedule_id": 1},
    "report.retry": {"schedule_id": 1, "period": "2026-11"},
    "notification.retry": {"outbox": "audit", "message_id": 1},
}
WHOLE_NUMBER_FIELDS = {
    "order.approve": ["order_id"],
    "order.reject": ["order_id"],
    "order.refund": ["order_id", "amount"],
    "order.reconcile": ["order_id"],
    "customer.update_contact": ["customer_id"],
    "customer.unmask": ["customer_id"],
    "product.create": ["price", "stock", "seller_id"],
    "product.update": ["product_id", "price", "stock", "seller_id"],
    "product.deactivate": ["product_id"],
    "report.unschedule": ["schedule_id"],
    "report.retry": ["schedule_id"],
    "notification.retry": ["message_id"],
}
PLAIN = ("must be a whole number", "must be at least", "must be at most")


def test_every_action_with_a_whole_number_field_is_listed():
    # sheet.import_rows takes numbers as spreadsheet cells: its own test is below (and its
    # row numbers in tests/actions/test_sheet_import_by_key.py). sheet.export and
    # sheet.connect take no whole number: names, a link, a file; nor does report.schedule
    # (a name, recipients, a frequency and the dashboard view, its seller id checked there),
    # nor report.send_now and notification.deliver_now (no parameters).
    without = {"sheet.import_rows", "sheet.export", "sheet.connect", "report.schedule"}
    without |= {"report.send_now", "notification.deliver_now"}
    assert set(WHOLE_NUMBER_FIELDS) | without == set(actions.ACTIONS)


@pytest.mark.parametrize("bad", list(BAD_NUMBERS), ids=list(BAD_NUMBERS))
@pytest.mark.parametrize(
    ("action", "field"),
    [(a, f) for a, fields in WHOLE_NUMBER_FIELDS.items() for f in fields],
)
def test_a_number_that_is_not_plain_ascii_digits_within_bounds_is_invalid(
    sqlite_ctx, audit_rows, action, field, bad
):
    params = {**VALID[action], field: BAD_NUMBERS[bad]}
    result = actions.run(action, ADMIN, **params)
    assert result.outcome == "invalid", result.message
    assert result.message.startswith(f"{field} must be"), result.message
    assert any(p in result.message for p in PLAIN), result.message
    assert [r["outcome"] for r in audit_rows(sqlite_ctx, action=action)] == ["invalid"]


def test_the_largest_id_is_accepted_and_one_more_is_invalid(sqlite_ctx):
    at_bound = actions.run("order.approve", ADMIN, order_id=str(MAX_INTEGER))
    assert (at_bound.outcome, at_bound.message) == ("invalid", f"No order {MAX_INTEGER}")
    past = actions.run("order.approve", ADMIN, order_id=MAX_INTEGER + 1)
    assert (past.outcome, past.message) == ("invalid", "order_id must be at most 2,147,483,647")


@pytest.mark.parametrize("cell", ["²", "١٢", str(10**30), "1e3"], ids=str)
def test_a_spreadsheet_amount_that_is_not_ascii_digits_is_invalid(sqlite_ctx, cell):
    row = {"month": "2026-11-01", "channel": "search", "spend_krw": cell}
    row |= {"clicks": "10", "signups": "1"}
    result = actions.run("sheet.import_rows", ADMIN, table="marketing_spend", rows=[row])
    assert result.outcome == "invalid", result.message
    assert "spend_krw" in result.message and "whole-number" in result.message.replace(" ", "-")
