"""The selected order's payment as the payment gateway holds it (balance, cancels), below the
Orders table; what the gateway said is kept per session until an action touches that
payment or the user asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lib.access import policy
from lib.access.principal import Principal
from lib.actions.context import current as action_context
from lib.actions.orders import awaiting_reconcile
from lib.errors import BackofficeError
from lib.payments.gateway import Payment
from lib.ui.widgets import escape_markdown

PAYMENTS = "orders_payments"  # payment_key -> Payment, or the lookup's error text

log = logging.getLogger(__name__)


def lookup_payment(payment_key: str) -> Payment | str:
    """The gateway's Payment, or a one-line reason it could not be read; kept per session
    until an action touches that payment or the user asks again."""
    cache: dict[str, Payment | str] = st.session_state.setdefault(PAYMENTS, {})
    if payment_key not in cache:
        try:
            client = action_context().payments
            if client is None:
                cache[payment_key] = "No payment gateway is configured."
            else:
                with st.spinner("Asking the payment gateway…"):
                    cache[payment_key] = client.get(payment_key)
        except BackofficeError as exc:
            cache[payment_key] = str(exc)
    return cache[payment_key]


def forget_payments(payment_keys: Iterable[str | None]) -> None:
    """Drop what the gateway said about these payments: the next look asks it again."""
    cache = st.session_state.get(PAYMENTS, {})
    for key in payment_keys:
        cache.pop(key, None)


def undecided(order_ids: Collection[int]) -> set[int]:
    """Which of these orders have a refund that order.reconcile would decide; asked only
    for the rows a user who may reconcile has selected. A shop database that cannot answer
    now offers no Reconcile this run (the table above says what is wrong)."""
    try:
        return awaiting_reconcile(order_ids)
    except SQLAlchemyError as exc:
        log.warning("could not read undecided refunds: %s", type(exc).__name__)
        return set()


def _undecided_refunds(principal: Principal, selected: Sequence[Mapping[str, Any]]) -> None:
    """Why Reconcile is offered: the gateway never said what became of these refunds."""
    if not selected or not policy.may_run(principal, "order.reconcile"):
        return
    found = undecided([r["id"] for r in selected])
    if not found:
        return
    undecided_ids = sorted(found)
    listed = ", ".join(f"#{i}" for i in undecided_ids)
    st.warning(
        f"The gateway has not said what became of a refund of {listed}: "
        "Reconcile asks it again. Do not refund these orders again meanwhile.",
        icon=":material/sync_problem:",
    )


def _cancels(payment: Payment) -> None:
    if not payment.cancels:
        st.caption("No cancels on this payment.")
        return
    st.markdown("**Cancels**")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "canceled_at": pd.to_datetime(c.canceled_at, utc=True, errors="coerce"),
                    "amount": c.amount,
                    "reason": c.reason,
                    "transaction_key": c.transaction_key,
                }
                for c in payment.cancels
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "canceled_at": st.column_config.DatetimeColumn(
                "Canceled at (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "amount": st.column_config.NumberColumn("Amount", format="₩%,d"),
            "reason": st.column_config.TextColumn("Reason"),
            "transaction_key": st.column_config.TextColumn("Transaction key"),
        },
    )


def payment_panel(principal: Principal, selected: Sequence[Mapping[str, Any]]) -> None:
    """The table page's panel: undecided refunds among the selection, then the one selected
    order's payment."""
    _undecided_refunds(principal, selected)
    st.subheader("Payment", divider="gray")
    if len(selected) != 1:
        st.caption("Select one order to see its payment as the gateway holds it.")
        return
    row = selected[0]
    key = row["payment_key"]
    if not key:
        st.info(f"Order #{row['id']} has no payment.")
        return
    payment = lookup_payment(key)
    if isinstance(payment, str):
        st.error(escape_markdown(payment), icon=":material/error:")
        st.button(
            "Ask the gateway again",
            key="orders_payment_retry",
            on_click=forget_payments,
            args=([key],),
            icon=":material/refresh:",
        )
        return
    status = payment.status.replace("_", " ").capitalize()
    st.caption(
        f"Order #{row['id']} · payment {escape_markdown(payment.payment_key)} · "
        f"{escape_markdown(payment.method.replace('_', ' '))} · as the gateway holds it: "
        f"**{escape_markdown(status)}**"
    )
    m = st.columns(3)
    m[0].metric("Paid", f"₩{payment.total_amount:,}")
    m[1].metric("Refunded", f"₩{payment.total_amount - payment.balance_amount:,}")
    m[2].metric("Balance", f"₩{payment.balance_amount:,}")
    if row["balance"] is not None and row["balance"] != payment.balance_amount:
        st.warning(
            f"The shop records a balance of ₩{row['balance']:,}; the gateway says "
            f"₩{payment.balance_amount:,}. The gateway's figure is the one that counts.",
            icon=":material/sync_problem:",
        )
    _cancels(payment)
    st.button(
        "Ask the gateway again",
        key="orders_payment_refresh",
        on_click=forget_payments,
        args=([key],),
        icon=":material/refresh:",
        type="tertiary",
    )
