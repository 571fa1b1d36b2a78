"""Orders & payments through AppTest: filters from the URL, paging, sorting, the actions.

The demo data is shared by every test of the session (and by the browser tests), so each
test picks its orders by their current state, from an id range no other test uses.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import actions
from lib.access.masking import mask
from lib.access.pii_search import NO_PHONE_SEARCH, NOTE, SHORT_NAME
from lib.access.principal import Principal
from lib.actions import context
from lib.demo.seed import FILES, MARKER
from lib.demo.services.serve import ServiceThread, create_service
from lib.records.database import make_engine
from lib.records.schema import ensure_action_tables
from lib.ui import orders
from lib.ui.navigation import NOT_PERMITTED, PRINCIPAL_KEY
from lib.ui.orders import EMPTY, PAGE_SIZE
from tests.pages.helpers import (
    apps_for,
    config_without,
    insert_unknown_refund,
    open_page,
    run_page_file,
    sign_in,
    table,
    total_of,
)
from tests.stack import crm, shop, write_config

pytestmark = pytest.mark.pages

PAGE = "app_pages/orders.py"
OTHER_OPERATOR = Principal("operator2", "Olga Operator", ("operator",))

# Id ranges of this file's own (orders are in time order: pending ones are mostly recent).
APPROVE_ONE = (18_000, 18_200)
APPROVE_TWO = (18_200, 18_400)
CONFLICT = (18_400, 18_600)
REJECT = (18_600, 18_800)
REFUND = (15_000, 15_200)
VA_REFUND = (15_400, 16_000)  # a virtual-account payment's refund
VA_REJECT = (19_000, 19_400)  # a virtual-account payment's reject


@pytest.fixture
def orders_app(
    tmp_path: Path, demo_dir: Path, demo_services: dict[str, str], monkeypatch
) -> Iterator[Callable[[], AppTest]]:
    """Like the `app` fixture, with the demo back ends up: refunds reach the gateway."""
    with apps_for(write_config(tmp_path, demo_dir, demo_services), monkeypatch) as make:
        yield make


def status_of(demo_dir: Path, order_id: int) -> str:
    return shop(demo_dir, "SELECT status FROM orders WHERE id = ?", order_id)[0][0]


def balance_of(demo_dir: Path, order_id: int) -> int:
    return shop(demo_dir, "SELECT balance_amount FROM payments WHERE order_id = ?", order_id)[0][0]


def pending_in(demo_dir: Path, span: tuple[int, int]) -> list[int]:
    rows = shop(
        demo_dir,
        "SELECT id FROM orders WHERE status = 'pending' AND id >= ? AND id < ? ORDER BY id",
        *span,
    )
    ids = [r[0] for r in rows]
    assert ids, f"no pending order left in {span}"
    return ids


def open_orders(make: Callable[[], AppTest], user: str = "operator", **params: str) -> AppTest:
    return open_page(make, PAGE, user, **params)


def select(at: AppTest, *positions: int) -> AppTest:
    selection = {"rows": list(positions), "columns": [], "cells": []}
    at.session_state[orders.PAGE.key("table")] = {"selection": selection}
    return at.run()


def alerts(at: AppTest) -> list[str]:
    return [a.value for a in [*at.success, *at.warning, *at.error]]


def a_day_inside(demo_dir: Path, span: tuple[int, int]) -> str:
    """A day all of whose orders have ids in `span` and that has at least two pending."""
    rows = shop(
        demo_dir,
        "SELECT substr(ordered_at, 1, 10) AS day, min(id), max(id), "
        "sum(status = 'pending') FROM orders GROUP BY day ORDER BY day",
    )
    for day, lo, hi, pending in rows:
        if lo >= span[0] and hi < span[1] and pending >= 2:
            return day
    pytest.fail(f"no day inside {span} with two pending orders")


# --- filters, paging, sorting ----------------------------------------------------------------


def test_status_from_the_url_shows_only_pending_orders(orders_app):
    at = open_orders(orders_app, status="pending")
    df = table(at)
    assert len(df) == PAGE_SIZE
    assert set(df["status"]) == {"pending"}
    assert at.multiselect(key="orders_status").value == ["pending"]
    assert at.query_params["status"] == "pending"


def test_amount_range_from_the_url_is_applied(orders_app, demo_dir):
    at = open_orders(orders_app, min="100000", max="150000")
    df = table(at)
    assert df["amount"].between(100_000, 150_000).all()
    assert at.number_input(key="orders_min").value == 100_000
    assert at.number_input(key="orders_max").value == 150_000
    in_range = "SELECT count(*) FROM orders WHERE amount BETWEEN 100000 AND 150000"
    assert total_of(at) == shop(demo_dir, in_range)[0][0]


def orders_of(demo_dir: Path, customer_ids: set[int]) -> int:
    marks = ",".join("?" * len(customer_ids))
    sql = f"SELECT count(*) FROM orders WHERE customer_id IN ({marks})"
    return shop(demo_dir, sql, *sorted(customer_ids))[0][0] if customer_ids else 0


def name_searches() -> list[dict]:
    return context.current().audit.query(action="order.search", actor="operator", limit=None)


def test_a_name_matches_by_its_beginning_stays_out_of_the_url_and_is_audited(orders_app, demo_dir):
    names = dict(crm(demo_dir, "SELECT id, name FROM customers"))
    korean = next(n for n in names.values() if len(n) == 3 and "\uac00" <= n[1] <= "\ud7a3")
    prefix = korean[:2]
    before = len(name_searches())
    at = open_orders(orders_app, q=prefix, status="approved")
    matching = {i for i, n in names.items() if n.startswith(prefix)}
    expected = shop(
        demo_dir,
        f"SELECT count(*) FROM orders WHERE status = 'approved' AND customer_id IN"
        f" ({','.join('?' * len(matching))})",
        *sorted(matching),
    )[0][0]
    assert total_of(at) == expected
    assert all("*" in name for name in table(at)["customer"])
    assert at.text_input(key="orders_q").value == prefix
    assert "q" not in at.query_params and at.query_params["status"] == "approved"
    at.run()  # the same search again is not a new one
    rows = name_searches()
    assert len(rows) == before + 1
    assert rows[0]["detail"] == {"kind": "name", "term": mask("name", prefix)}
    hidden = korean[1:]  # the given name, which masking hides, finds no one who only holds it
    at = open_orders(orders_app, q=hidden)
    starting = {i for i, n in names.items() if n.startswith(hidden)}
    assert (total_of(at) if at.dataframe else 0) == orders_of(demo_dir, starting)
    at = open_orders(orders_app, q=korean[:1])
    assert [w.value for w in at.warning] == [SHORT_NAME] and not at.dataframe


def test_search_matches_an_order_id_exactly_and_a_payment_key_prefix(orders_app, demo_dir):
    order_id, key = shop(
        demo_dir, "SELECT order_id, payment_key FROM payments WHERE order_id = 4321"
    )[0]
    at = open_orders(orders_app, q=str(order_id))
    assert list(table(at)["id"]) == [order_id]
    at = open_orders(orders_app, q=key[:12])
    assert order_id in set(table(at)["id"])
    assert all(k.startswith(key[:12]) for k in table(at)["payment_key"])


def test_a_long_number_is_an_order_id_kept_in_the_url_and_not_audited(orders_app):
    before = len(name_searches())
    at = open_orders(orders_app, q="20250101234567")  # 8+ digits: an id, no phone here
    assert [i.value for i in at.info] == [EMPTY]
    assert at.query_params["q"] == "20250101234567"
    assert NOTE not in [c.value for c in at.caption]
    assert len(name_searches()) == before


def test_a_phone_number_is_not_searched_on_orders_and_stays_out_of_the_url(orders_app):
    before = len(name_searches())
    at = open_orders(orders_app, q="010-1234-5678")
    assert [w.value for w in at.warning] == [NO_PHONE_SEARCH] and not at.dataframe
    assert "q" not in at.query_params
    assert len(name_searches()) == before


def test_search_matches_a_whole_customer_email_whatever_its_case(orders_app, demo_dir):
    (customer_id,) = shop(demo_dir, "SELECT customer_id FROM orders WHERE id = 4322")[0]
    [(email,)] = crm(demo_dir, "SELECT email FROM customers WHERE id = ?", customer_id)
    at = open_orders(orders_app, q=f" {email.upper()} ")
    assert total_of(at) == orders_of(demo_dir, {customer_id})
    assert 4322 in set(table(at)["id"]) or total_of(at) > PAGE_SIZE
    assert "q" not in at.query_params
    for part in (email.split("@")[0], email[1:], "@" + email.split("@")[1]):
        at = open_orders(orders_app, q=part)
        assert not at.dataframe, part  # a part of an address reveals nothing


def test_page_two_differs_from_page_one_and_is_in_the_url(orders_app):
    at = open_orders(orders_app, status="approved")
    first = list(table(at)["id"])
    at.button(key="orders_page_next").click().run()
    second = list(table(at)["id"])
    assert at.query_params["page"] == "2"
    assert len(second) == PAGE_SIZE and not set(first) & set(second)
    at = open_orders(orders_app, status="approved", page="2")
    assert list(table(at)["id"]) == second


def test_sorting_by_amount_descending_is_server_side_and_in_the_url(orders_app, demo_dir):
    at = open_orders(orders_app)
    at.selectbox(key="orders_sort_by").set_value("amount")
    at.selectbox(key="orders_sort_dir").set_value("desc").run()
    amounts = list(table(at)["amount"])
    assert amounts == sorted(amounts, reverse=True)
    assert amounts[0] == shop(demo_dir, "SELECT max(amount) FROM orders")[0][0]
    assert at.query_params["sort"] == "-amount"
    again = open_orders(orders_app, sort="-amount")
    assert list(table(again)["amount"]) == amounts


def pager_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Rows "))


def test_a_long_list_is_counted_up_to_10000_and_paged_by_its_rows(orders_app, demo_dir):
    """More than 10,000 orders: the count says so without counting them all, and Next and
    Previous step from the rows shown (keyset), the same rows as the page's number."""
    assert shop(demo_dir, "SELECT count(*) FROM orders")[0][0] > 10_000
    at = open_orders(orders_app)
    first = list(table(at)["id"])
    assert pager_caption(at) == "Rows 1–20 of 10,000+ · page 1"
    assert not at.button(key="orders_page_next").disabled
    newest = shop(demo_dir, "SELECT id FROM orders ORDER BY ordered_at DESC, id DESC LIMIT 40")
    assert first == [r[0] for r in newest[:20]]
    at.button(key="orders_page_next").click().run()
    assert list(table(at)["id"]) == [r[0] for r in newest[20:]]
    assert pager_caption(at) == "Rows 21–40 of 10,000+ · page 2"
    assert at.query_params["page"] == "2"
    at.button(key="orders_page_next").click().run()
    third = list(table(at)["id"])
    at.button(key="orders_page_prev").click().run()
    assert list(table(at)["id"]) == [r[0] for r in newest[20:]]
    at.button(key="orders_page_prev").click().run()
    assert list(table(at)["id"]) == first and "page" not in at.query_params
    assert list(table(open_orders(orders_app, page="3"))["id"]) == third


def test_a_page_past_the_end_of_a_long_list_goes_back_to_rows_the_count_vouches_for(orders_app):
    at = open_orders(orders_app, page="9999")
    assert len(table(at)) == PAGE_SIZE
    assert pager_caption(at) == "Rows 9,981–10,000 of 10,000+ · page 500"
    assert at.query_params["page"] == "500"


def test_the_last_page_of_an_exact_list_has_no_next(orders_app, demo_dir):
    day = shop(demo_dir, "SELECT substr(max(ordered_at), 1, 10) FROM orders")[0][0]
    on_day = "SELECT count(*) FROM orders WHERE ordered_at >= ?"
    count = shop(demo_dir, on_day, day)[0][0]
    pages = -(-count // PAGE_SIZE)
    at = open_orders(orders_app, page=str(pages + 3), **{"from": day, "to": day})
    assert pager_caption(at).endswith(f"of {count:,} · page {pages} of {pages}")
    assert at.button(key="orders_page_next").disabled


def test_only_the_sorts_an_index_serves_are_offered(orders_app):
    at = open_orders(orders_app, sort="-balance")
    assert at.selectbox(key="orders_sort_by").options == [
        "Ordered at",
        "Order id",
        "Amount",
        "Status",
    ]
    assert at.selectbox(key="orders_sort_by").value == "ordered_at"
    assert "sort" not in at.query_params
    at.selectbox(key="orders_sort_by").set_value("status")
    at.selectbox(key="orders_sort_dir").set_value("asc").run()
    df = table(at)
    assert list(df["status"]) == sorted(df["status"])
    assert at.query_params["sort"] == "status"


def test_a_name_that_too_many_customers_start_with_asks_for_more(orders_app, demo_dir, monkeypatch):
    names = [n for (n,) in crm(demo_dir, "SELECT name FROM customers")]
    prefix = max({n[:2] for n in names}, key=lambda p: sum(n.startswith(p) for n in names))
    monkeypatch.setattr(orders, "MAX_CUSTOMERS", 3)
    at = open_orders(orders_app, q=prefix)
    assert not at.dataframe
    [error] = [e.value for e in at.error]
    assert error.startswith("More than 3 customers' names start with") and error.endswith(
        "type more of the name."
    )
    assert prefix not in error  # the term is masked


def test_changing_a_filter_goes_back_to_page_one(orders_app):
    at = open_orders(orders_app, page="3")
    assert at.query_params["page"] == "3"
    at.multiselect(key="orders_status").set_value(["approved"]).run()
    assert "page" not in at.query_params
    assert at.query_params["status"] == "approved"


def test_an_unknown_status_in_the_url_is_ignored(orders_app):
    at = open_orders(orders_app, status="bogus", sort="-nonsense")
    assert at.multiselect(key="orders_status").value == []
    assert len(table(at)) == PAGE_SIZE
    assert "status" not in at.query_params and "sort" not in at.query_params
    assert any("bogus" in c.value for c in at.caption)


def test_filters_that_match_nothing_say_so(orders_app):
    at = open_orders(orders_app, q="no-such-customer-anywhere")
    assert [i.value for i in at.info] == [EMPTY]
    assert not at.dataframe


# --- actions ---------------------------------------------------------------------------------


def test_approving_a_selected_order_approves_it_and_shows_the_result(orders_app, demo_dir):
    order_id = pending_in(demo_dir, APPROVE_ONE)[0]
    at = open_orders(orders_app, status="pending", q=str(order_id))
    assert list(table(at)["id"]) == [order_id]
    select(at, 0)
    at.button(key="orders_approve").click().run()
    assert status_of(demo_dir, order_id) == "approved"
    assert f"Order {order_id} approved." in alerts(at)
    assert [t.value for t in at.toast] == [f"Order {order_id} approved."]
    # It left the pending filter without a reload of the page.
    assert [i.value for i in at.info] == [EMPTY]


def test_bulk_approve_runs_one_action_per_row_with_its_own_result(orders_app, demo_dir):
    day = a_day_inside(demo_dir, APPROVE_TWO)
    at = open_orders(orders_app, status="pending", sort="id", **{"from": day, "to": day})
    ids = list(table(at)["id"])
    picked = ids[:2]
    assert all(APPROVE_TWO[0] <= i < APPROVE_TWO[1] for i in picked)
    select(at, 0, 1)
    assert at.button(key="orders_approve").label == "Approve 2"
    at.button(key="orders_approve").click().run()
    assert [status_of(demo_dir, i) for i in picked] == ["approved", "approved"]
    assert sorted(alerts(at)) == sorted(f"Order {i} approved." for i in picked)
    assert len(at.toast) == 2
    assert not set(picked) & set(table(at)["id"])
    # The selection went with the orders: nothing else is selected now.
    assert at.button(key="orders_approve").disabled


def test_a_second_approval_of_the_same_order_says_another_operator_got_there_first(
    orders_app, demo_dir
):
    order_id = pending_in(demo_dir, CONFLICT)[0]
    at = open_orders(orders_app, status="pending", q=str(order_id))
    select(at, 0)
    # Someone else approves it while this operator is looking at it.
    assert actions.run("order.approve", OTHER_OPERATOR, order_id=order_id).ok
    at.button(key="orders_approve").click().run()
    assert [w.value for w in at.warning] == [
        f"Order {order_id} is already approved: another operator got there first."
    ]
    assert not at.success


def test_refund_dialog_refunds_part_of_the_balance(orders_app, demo_dir):
    order_id, balance = shop(
        demo_dir,
        "SELECT o.id, p.balance_amount FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE o.status = 'approved' AND p.balance_amount >= 20000 AND o.id >= ? AND o.id < ? "
        "ORDER BY o.id LIMIT 1",
        *REFUND,
    )[0]
    at = open_orders(orders_app, q=str(order_id))
    select(at, 0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Balance"] == f"₩{balance:,}"
    at.button(key="orders_refund").click().run()
    amount = at.number_input(key=f"orders_refund_amount_{order_id}")
    assert amount.value == balance  # defaults to the whole balance
    amount.set_value(10_000)
    at.text_input(key="orders_refund_reason").input("damaged box")
    at.button(key="orders_refund_submit").click().run()
    assert not at.exception
    assert balance_of(demo_dir, order_id) == balance - 10_000
    assert status_of(demo_dir, order_id) == "partially_refunded"
    assert f"Refunded ₩10,000 on order {order_id}; balance ₩{balance - 10_000:,}." in alerts(at)
    assert list(table(at)["balance"]) == [balance - 10_000]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Balance"] == f"₩{balance - 10_000:,}"  # asked the gateway again
    assert "damaged box" in list(at.dataframe[1].value["reason"])  # the gateway's cancels


def test_refund_dialog_of_a_virtual_account_asks_for_the_bank_account(orders_app, demo_dir):
    # Toss: a paid-in virtual-account (가상계좌) payment is refunded to the customer's bank
    # account, named in the cancel as refundReceiveAccount (docs.tosspayments.com,
    # guides/apis/cancel-payment "가상계좌 결제 취소하기").
    order_id, balance, key = shop(
        demo_dir,
        "SELECT o.id, p.balance_amount, p.payment_key FROM orders o"
        " JOIN payments p ON p.order_id = o.id WHERE o.status = 'approved'"
        " AND p.method = 'virtual_account' AND p.status = 'DONE' AND p.balance_amount >= 20000"
        " AND o.id >= ? AND o.id < ? ORDER BY o.id LIMIT 1",
        *VA_REFUND,
    )[0]
    at = open_orders(orders_app, q=str(order_id))
    select(at, 0)
    at.button(key="orders_refund").click().run()
    assert "A virtual-account payment is refunded to the customer's bank account." in (
        " ".join(i.value for i in at.info)
    )
    bank = at.selectbox(key="orders_refund_bank")
    assert bank.value is None and "신한은행" in bank.options
    at.number_input(key=f"orders_refund_amount_{order_id}").set_value(10_000)
    at.text_input(key="orders_refund_reason").input("damaged box")
    at.button(key="orders_refund_submit").click().run()
    assert "Give the customer's bank, account number and account holder." in [
        e.value for e in at.error
    ]
    assert balance_of(demo_dir, order_id) == balance  # nothing was sent

    at.selectbox(key="orders_refund_bank").set_value("88")
    at.text_input(key="orders_refund_account_number").input("11012x45678")
    at.text_input(key="orders_refund_holder").input("홍길동")
    at.button(key="orders_refund_submit").click().run()
    assert "refund_account.account_number must be digits only" in [e.value for e in at.error]
    assert balance_of(demo_dir, order_id) == balance

    at.text_input(key="orders_refund_account_number").input("11012345678")
    at.button(key="orders_refund_submit").click().run()
    assert not at.exception
    assert f"Refunded ₩10,000 on order {order_id}; balance ₩{balance - 10_000:,}." in alerts(at)
    assert balance_of(demo_dir, order_id) == balance - 10_000
    for typed in ("orders_refund_account_number", "orders_refund_holder", "orders_refund_bank"):
        assert typed not in at.session_state  # the dialog forgot what was typed
    rows = shop(demo_dir, "SELECT * FROM refunds WHERE payment_key = ?", key)
    assert len(rows) == 1 and "11012345678" not in repr(rows)


def test_reject_dialog_requires_a_reason(orders_app, demo_dir):
    order_id = pending_in(demo_dir, REJECT)[0]
    at = open_orders(orders_app, status="pending", q=str(order_id))
    select(at, 0)
    at.button(key="orders_reject").click().run()
    at.button(key="orders_reject_submit").click().run()
    assert "Give a reason (at least 3 characters)." in [e.value for e in at.error]
    assert status_of(demo_dir, order_id) == "pending"
    at.text_area(key="orders_reject_reason").input("fraud check failed")
    at.button(key="orders_reject_submit").click().run()
    assert status_of(demo_dir, order_id) == "rejected"
    assert balance_of(demo_dir, order_id) == 0
    assert f"Order {order_id} rejected and its payment canceled." in alerts(at)


def test_reject_dialog_of_a_paid_in_virtual_account_asks_for_the_bank_account(orders_app, demo_dir):
    order_id = shop(
        demo_dir,
        "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id"
        " WHERE o.status = 'pending' AND p.method = 'virtual_account' AND p.status = 'DONE'"
        " AND o.id >= ? AND o.id < ? ORDER BY o.id LIMIT 1",
        *VA_REJECT,
    )[0][0]
    at = open_orders(orders_app, status="pending", q=str(order_id))
    select(at, 0)
    at.button(key="orders_reject").click().run()
    assert "A virtual-account payment is refunded to the customer's bank account." in (
        " ".join(i.value for i in at.info)
    )
    at.text_area(key="orders_reject_reason").input("out of stock")
    at.button(key="orders_reject_submit").click().run()
    assert "Give the customer's bank, account number and account holder." in [
        e.value for e in at.error
    ]
    assert status_of(demo_dir, order_id) == "pending"
    at.selectbox(key="orders_refund_bank").set_value("06")
    at.text_input(key="orders_refund_account_number").input("123456789012")
    at.text_input(key="orders_refund_holder").input("Emily Clark")
    at.button(key="orders_reject_submit").click().run()
    assert not at.exception
    assert f"Order {order_id} rejected and its payment canceled." in alerts(at)
    assert (status_of(demo_dir, order_id), balance_of(demo_dir, order_id)) == ("rejected", 0)


# --- access and sources ----------------------------------------------------------------------


def test_an_analyst_sees_the_orders_read_only(orders_app, demo_dir):
    """Analysts follow a dashboard bar to its orders: the page opens with the table, names
    masked, and no action button; an action asked for anyway is denied."""
    at = sign_in(orders_app(), "analyst", "analyst-demo")
    analyst = at.session_state[PRINCIPAL_KEY]
    assert "Orders & payments" in {el.proto.label for el in at.sidebar.get("page_link")}
    at = open_orders(orders_app, user="analyst", status="pending")
    assert not at.exception and not at.error
    assert at.title[0].value == "Orders & payments"
    df = table(at)
    assert len(df) == PAGE_SIZE and set(df["status"]) == {"pending"}
    at = select(at, 0, 1)
    assert not at.exception and not at.error
    keys = {b.key for b in at.button}
    assert not keys & {"orders_approve", "orders_reject", "orders_refund", "orders_reconcile"}
    assert not {"Approve", "Reject…", "Refund…", "Reconcile"} & {b.label for b in at.button}
    names = dict(crm(demo_dir, "SELECT id, name FROM customers"))
    ids = shop(demo_dir, "SELECT id, customer_id FROM orders WHERE status = 'pending'")
    customer_of = dict(ids)
    assert all("*" in c for c in df["customer"])
    assert not [n for i, n in zip(df["id"], df["customer"], strict=True)
                if n == names[customer_of[i]]]  # fmt: skip

    order_id = int(df["id"].iloc[0])
    denied = actions.run("order.approve", analyst, order_id=order_id)
    assert denied.outcome == "denied", denied.message
    assert status_of(demo_dir, order_id) == "pending"


def test_an_analyst_who_forces_a_dialog_open_sees_none_and_nothing_changes(orders_app, demo_dir):
    """Only the toolbar's buttons open a dialog, and an analyst has none; a dialog put in the
    session state anyway (as a crafted client could) is not drawn, and nothing is written."""
    order_id = pending_in(demo_dir, REJECT)[-1]
    at = open_orders(orders_app, user="analyst", status="pending", q=str(order_id))
    [row] = table(at).to_dict("records")
    for action, typed in (("order.reject", "orders_reject"), ("order.refund", "orders_refund")):
        at.session_state[orders.PAGE.key("dialog")] = (action, (row,))
        at.run()
        assert not at.exception and not at.error
        drawn = [*at.button, *at.text_area, *at.text_input, *at.number_input]
        assert not [w.key for w in drawn if str(w.key).startswith(typed)]  # its form, buttons
        assert at.session_state[orders.PAGE.key("dialog")] is None
    assert status_of(demo_dir, order_id) == "pending"
    assert not context.current().audit.query(actor="analyst", target_id=str(order_id))


def test_a_role_without_the_page_is_refused(orders_app):
    at = sign_in(orders_app(), "auditor", "auditor-demo")
    auditor = at.session_state[PRINCIPAL_KEY]
    assert "Orders & payments" not in {el.proto.label for el in at.sidebar.get("page_link")}
    # Typed by hand, /orders runs the page file for this principal: it refuses.
    page = run_page_file(auditor, PAGE)
    assert [e.value for e in page.error] == [NOT_PERMITTED]
    assert not page.dataframe and not page.title and not page.button


def test_an_admin_may_open_the_page_and_act(orders_app):
    at = open_orders(orders_app, user="admin", status="pending")
    assert at.title[0].value == "Orders & payments"
    assert {b.key for b in at.button} >= {"orders_approve", "orders_reject", "orders_refund"}


def test_a_gateway_that_is_down_is_said_plainly_and_the_table_still_works(app, demo_dir):
    # The plain `app` fixture points the back ends, the gateway too, at a closed port.
    at = open_orders(app, q="4323")
    select(at, 0)
    assert any(e.value.startswith("Gateway unavailable") for e in at.error)
    assert list(table(at)["id"]) == [4323]
    assert at.button(key="orders_payment_retry")


def test_a_source_that_is_down_is_named_and_the_filters_still_work(tmp_path, demo_dir, monkeypatch):
    with apps_for(config_without(tmp_path, demo_dir, "crm"), monkeypatch) as make:
        at = open_orders(make)
        errors = [e.value for e in at.error]
        assert any(e.startswith("Source 'crm' is unavailable") for e in errors), errors
        assert at.multiselect(key="orders_status").value == []
        assert not at.dataframe


# --- a refund whose outcome the gateway left unknown -----------------------------------------


@pytest.fixture
def own_orders_app(
    tmp_path: Path, demo_dir: Path, monkeypatch
) -> Iterator[tuple[Callable[[], AppTest], Path]]:
    """The page over this test's own copy of the demo data and its own gateway."""
    data = tmp_path / "demo"
    data.mkdir()
    for name in [*FILES, MARKER]:
        shutil.copy(demo_dir / name, data / name)
    gateway = ServiceThread(create_service("gateway", data)).start()
    with apps_for(write_config(tmp_path, data, {"gateway": gateway.url}), monkeypatch) as make:
        yield make, data
    gateway.stop()


def _unknown_refund(data: Path, order_id: int, amount: int) -> None:
    """A refund recorded as unknown: its request never got an answer from the gateway."""
    engine = make_engine(f"sqlite:///{data / 'shop.sqlite'}")
    try:
        ensure_action_tables(engine, "shop")
        with engine.begin() as conn:
            insert_unknown_refund(conn, order_id, amount, f"page-{order_id}")
    finally:
        engine.dispose()


def test_an_unknown_refund_can_be_reconciled_from_the_page(own_orders_app):
    make, data = own_orders_app
    order_id, balance = shop(
        data,
        "SELECT o.id, p.balance_amount FROM orders o JOIN payments p ON p.order_id = o.id "
        "WHERE o.status = 'approved' AND p.balance_amount >= 20000 ORDER BY o.id LIMIT 1",
    )[0]
    at = open_orders(make, q=str(order_id), sort="id")
    select(at, list(table(at)["id"]).index(order_id))
    assert not [b for b in at.button if b.key == "orders_reconcile"]  # nothing to decide

    _unknown_refund(data, order_id, 4_000)
    at.run()
    assert any(f"a refund of #{order_id}" in w.value for w in at.warning)
    at.button(key="orders_reconcile").click().run()
    assert not at.exception
    done = f"Refunded ₩4,000 on order {order_id}; balance ₩{balance - 4_000:,}."
    assert alerts(at).count(done) == 1
    assert [t.value for t in at.toast] == [done]
    assert shop(data, "SELECT status FROM refunds WHERE order_id = ?", order_id) == [("done",)]
    assert balance_of(data, order_id) == balance - 4_000
    assert not [b for b in at.button if b.key == "orders_reconcile"]  # decided


def test_refund_dialog_asks_for_the_account_when_the_shop_missed_the_deposit(orders_app, demo_dir):
    # The shop's copy still says WAITING_FOR_DEPOSIT; the gateway knows the customer paid in.
    # The dialog asks by the gateway's status, so the refund can be made at all.
    order_id, balance = shop(
        demo_dir,
        "SELECT o.id, p.balance_amount FROM orders o"
        " JOIN payments p ON p.order_id = o.id WHERE o.status = 'approved'"
        " AND p.method = 'virtual_account' AND p.status = 'DONE' AND p.balance_amount >= 20000"
        " AND o.id >= ? AND o.id < ? ORDER BY o.id DESC LIMIT 1",
        *VA_REFUND,
    )[0]
    con = sqlite3.connect(demo_dir / "shop.sqlite")
    with con:
        con.execute(
            "UPDATE payments SET status = 'WAITING_FOR_DEPOSIT' WHERE order_id = ?", (order_id,)
        )
    con.close()
    at = open_orders(orders_app, q=str(order_id))
    select(at, 0)
    at.button(key="orders_refund").click().run()
    at.number_input(key=f"orders_refund_amount_{order_id}").set_value(10_000)
    at.text_input(key="orders_refund_reason").input("damaged box")
    at.selectbox(key="orders_refund_bank").set_value("88")
    at.text_input(key="orders_refund_account_number").input("11012345678")
    at.text_input(key="orders_refund_holder").input("홍길동")
    at.button(key="orders_refund_submit").click().run()
    assert not at.exception
    assert f"Refunded ₩10,000 on order {order_id}; balance ₩{balance - 10_000:,}." in alerts(at)
    assert balance_of(demo_dir, order_id) == balance - 10_000
