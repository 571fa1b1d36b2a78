"""The Orders page's dialogs: reject the selected pending orders, refund one order's balance,
and the customer's bank account a paid-in virtual-account payment is refunded to.

Each collects what its action needs and runs it through lib.ui.table_actions.run_action (one
action per order, each with its own result). The limits come from the actions that enforce
them (lib.actions.orders), so the form and the action never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from lib.access.masking import mask
from lib.access.principal import Principal
from lib.actions.orders import MAX_REFUND_REASON, MAX_REJECT_REASON, MIN_REASON, REFUNDABLE
from lib.config import runtime
from lib.errors import BackofficeError, ValidationFailed
from lib.payments.gateway import Payment
from lib.payments.refund_account import (
    BANKS,
    MAX_ACCOUNT_NUMBER,
    MAX_HOLDER_NAME,
    WHY,
    is_virtual_account,
    may_need_account,
)
from lib.payments.refund_account import parse as parse_refund_account
from lib.ui import session_guard, table_actions
from lib.ui.payment_panel import lookup_payment
from lib.ui.source_listing import Lookup
from lib.ui.widgets import escape_markdown, show_error, submit_or_cancel

if TYPE_CHECKING:
    from lib.ui.table_page import Row, RowAction, TablePage

# What was typed in a dialog is for that one dialog: the next one starts empty.
TYPED = (
    "orders_reject_reason",
    "orders_refund_reason",
    "orders_refund_amount_",
    "orders_refund_bank",
    "orders_refund_account_number",
    "orders_refund_holder",
)


# The customer's name on an order, from the crm by id (masked where shown).
CUSTOMER_NAME = Lookup("customers_names", on="customer_id", columns={"name": "customer"})


def one_order(order_id: int) -> pd.DataFrame:
    """The order and its payment as the shop records them now, read by its key in the shop's
    own database (queries/orders_one.sql), with the customer's name; empty if no such order."""
    found = runtime.source_queries().run("orders_one", order_id=int(order_id))
    return CUSTOMER_NAME.merge(found)


def _page() -> TablePage:
    from lib.ui.orders import PAGE  # the declaration names these dialogs: imported late

    return PAGE


def _action(name: str) -> RowAction:
    return next(a for a in _page().actions if a.action == name)


def _close() -> None:
    table_actions.close_dialog(_page(), TYPED)


def _extra(reason: str, account: Mapping[str, str] | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"reason": reason}
    if account is not None:
        extra["refund_account"] = dict(account)
    return extra


@session_guard.dialog("Reject orders", on_dismiss=_close)
def reject_dialog(principal: Principal, rows: Sequence[Row]) -> None:
    """Reject the pending orders among `rows` (order.reject also cancels each payment)."""
    order_ids = [r["id"] for r in rows]
    if not order_ids:
        _close()
        st.rerun()
    listed = ", ".join(f"#{i}" for i in order_ids[:10]) + (" …" if len(order_ids) > 10 else "")
    noun = "order" if len(order_ids) == 1 else f"{len(order_ids)} orders"
    st.markdown(f"Reject {noun}: {listed}")
    st.caption("Each payment is canceled in full through the gateway.")
    reason = st.text_area(
        "Reason", key="orders_reject_reason", max_chars=MAX_REJECT_REASON, height=80
    )
    account = None
    if len(order_ids) == 1 and _needs_refund_account(order_ids[0]):
        account = refund_account_form()
    elif len(order_ids) > 1:
        st.caption(
            "A virtual-account payment that was paid in needs the customer's bank account: "
            "reject such an order on its own."
        )
    if submit_or_cancel("Reject", "orders_reject", _close):
        reason = (reason or "").strip()
        if len(reason) < MIN_REASON:
            st.error(f"Give a reason (at least {MIN_REASON} characters).")
            return
        if account is not None and not _account_typed(account):
            return
        with st.spinner("Rejecting…"):
            page = _page()
            action = _action("order.reject")
            table_actions.run_action(page, principal, action, rows, **_extra(reason, account))
        _close()
        st.rerun()


@session_guard.dialog("Refund", on_dismiss=_close)
def refund_dialog(principal: Principal, rows: Sequence[Row]) -> None:
    """Refund all or part of one order's balance, read again from the shop."""
    if len(rows) != 1:
        _close()
        st.rerun()
    order_id = int(rows[0]["id"])
    try:
        found = one_order(order_id)
    except BackofficeError as exc:
        show_error(exc)
        return
    if found.empty:
        st.error(f"No order {order_id}.")
        return
    order = _page().records(found)[0]
    customer = escape_markdown(mask("name", found["customer"].iloc[0]))
    balance = order["balance"] or 0
    st.markdown(
        f"Order **#{order['id']}** · {customer} · {order['status'].replace('_', ' ')}  \n"
        f"Paid ₩{order['amount']:,} · balance **₩{balance:,}**"
    )
    if order["status"] not in REFUNDABLE or balance <= 0:
        st.warning("Nothing on this order can be refunded.")
        return
    amount = st.number_input(
        "Amount (₩)",
        key=f"orders_refund_amount_{order['id']}",
        min_value=1,
        max_value=balance,
        value=balance,
        step=1_000,
        help="Partial refunds are allowed, up to the balance.",
    )
    reason = st.text_input("Reason", key="orders_refund_reason", max_chars=MAX_REFUND_REASON)
    account = None
    if _asks_refund_account(found["method"].iloc[0], order["payment_key"]):
        account = refund_account_form()
    if submit_or_cancel(f"Refund ₩{int(amount or 0):,}", "orders_refund", _close):
        reason = (reason or "").strip()
        if not amount or not 1 <= int(amount) <= balance:
            st.error(f"Refund between ₩1 and the balance, ₩{balance:,}.")
            return
        if len(reason) < MIN_REASON:
            st.error(f"Give a reason (at least {MIN_REASON} characters).")
            return
        if account is not None and not _account_typed(account):
            return
        with st.spinner("Refunding through the gateway…"):
            extra = _extra(reason, account)
            action = _action("order.refund")
            table_actions.run_action(
                _page(), principal, action, [order], amount=int(amount), **extra
            )
        _close()
        st.rerun()


def _needs_refund_account(order_id: int) -> bool:
    """Whether to ask for the customer's bank account for this order's payment (see
    _asks_refund_account); False if the shop cannot say (the action decides then)."""
    try:
        found = one_order(order_id)
    except BackofficeError:
        return False
    if found.empty:
        return False
    key = found["payment_key"].iloc[0]
    return _asks_refund_account(found["method"].iloc[0], None if pd.isna(key) else str(key))


def _asks_refund_account(method: Any, payment_key: str | None) -> bool:
    """Whether a cancel of this payment may need the customer's bank account: a
    virtual-account payment that the gateway does not say is still waiting for its deposit.
    The shop's copy of the status is not asked: it can be behind (the customer paid in since),
    and then the account would never be asked for."""
    if not is_virtual_account(method):
        return False  # nothing to ask the gateway
    looked_up = lookup_payment(payment_key) if payment_key else None
    status = looked_up.status if isinstance(looked_up, Payment) else None
    return may_need_account(method, status)


def _account_typed(account: Mapping[str, str]) -> bool:
    """Check the typed account by the action's own rule, so the dialog stays open with what
    was typed; says what is missing or wrong."""
    if not all(account.values()):
        st.error("Give the customer's bank, account number and account holder.")
        return False
    try:
        parse_refund_account(account)
    except ValidationFailed as exc:
        st.error(str(exc))
        return False
    return True


def refund_account_form() -> dict[str, str]:
    """The customer's bank account a paid-in virtual-account payment is refunded to, as typed
    (the action validates it; it is sent to the gateway and audited masked, never stored)."""
    st.info(WHY + " Ask the customer for it.", icon=":material/account_balance:")
    bank = st.selectbox(
        "Bank",
        list(BANKS),
        index=None,
        key="orders_refund_bank",
        format_func=lambda code: BANKS.get(code, code),
        placeholder="The customer's bank",
    )
    number = st.text_input(
        "Account number",
        key="orders_refund_account_number",
        max_chars=MAX_ACCOUNT_NUMBER,
        help=f"Digits only, up to {MAX_ACCOUNT_NUMBER}.",
    )
    holder = st.text_input("Account holder", key="orders_refund_holder", max_chars=MAX_HOLDER_NAME)
    return {
        "bank": bank or "",
        "account_number": (number or "").strip(),
        "holder_name": (holder or "").strip(),
    }
