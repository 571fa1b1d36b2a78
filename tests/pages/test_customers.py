"""Customers through AppTest: masking, search, filters from the URL, paging, sorting, the
detail with its sources, unmask with a reason, contact edits and their audit rows.

The demo data is shared by every test of the session (and by the browser tests): this file
uses customers 1500-1600 only, each test its own, and reads their current state first.
The `app` fixture's config points the REST sources at a closed port, so the customer API
is down in every test here, as the last test checks on purpose.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.access.masking import looks_like_raw_pii, mask
from lib.access.pii_search import MAX_SEARCHES, SEARCH_WINDOW, SHORT_NAME, TOO_MANY, parse, record
from lib.actions import context
from lib.ui import customers
from lib.ui.customer_contact import UNMASKING
from lib.ui.url_state import MAX_INT
from tests.pages.helpers import customer, open_page, table, total_of
from tests.stack import crm, write_config

pytestmark = pytest.mark.pages

PAGE = "app_pages/customers.py"
EMPTY, PAGE_SIZE = customers.PAGE.empty, customers.PAGE.page_size
TABLE = customers.PAGE.key("table")  # the dataframe's selection
MASKED = 1550  # nobody unmasks or edits this one
UNMASKED = 1510  # support unmasks its e-mail
NEIGHBOUR = 1511  # ...and sees this one still masked
OPERATOR_VIEW = 1520
API_DOWN = 1532  # has orders and several tickets
NO_TICKETS = 1503
EDITED = 1590  # support changes its phone
KOREAN_RANGE = (1540, 1550)
EMAIL_RANGE = (1560, 1570)
REASON = "customer asked us to confirm the e-mail on file, ticket T0099"


def shop_count(demo_dir: Path, sql: str, *params: object) -> int:
    con = sqlite3.connect(demo_dir / "shop.sqlite")
    try:
        return con.execute(sql, params).fetchone()[0]
    finally:
        con.close()


def open_customers(make: Callable[[], AppTest], user: str = "support", **params: str) -> AppTest:
    return open_page(make, PAGE, user, **params)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def contact(at: AppTest) -> str:
    """The detail's contact block as a reader sees it."""
    block = next(i for i, m in enumerate(at.markdown) if m.value == "**Contact**")
    return unescape(at.markdown[block + 1].value)


def page_text(at: AppTest) -> str:
    """Everything the page shows as text: markdown, captions, alerts and every table cell."""
    parts = [
        str(e.value)
        for e in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning, *at.subheader]
    ]
    parts = [unescape(p) for p in parts]
    parts += [df.value.to_csv(index=False) for df in at.dataframe]
    return "\n".join(parts)


def audit_rows(action: str, target_id: int) -> list[dict]:
    return context.current().audit.query(action=action, target_id=str(target_id), limit=20)


# --- masking and search ----------------------------------------------------------------------


def test_personal_data_is_masked_by_default_in_the_list_and_the_detail(app, demo_dir):
    at = open_customers(app, id=str(MASKED))
    text = page_text(at)
    raw = crm(demo_dir, "SELECT email, phone, name FROM customers")
    assert not [email for email, _, _ in raw if email in text]
    assert not [phone for _, phone, _ in raw if phone in text]
    assert not looks_like_raw_pii(text)
    df = table(at)
    assert len(df) == PAGE_SIZE
    assert df["email"].str.contains(r"\*\*\*@").all()
    row = customer(demo_dir, MASKED)
    shown = contact(at)
    assert mask("email", row["email"]) in shown and mask("name", row["name"]) in shown
    assert row["name"] not in shown
    assert at.query_params["id"] == str(MASKED)


def searches_by(user: str) -> list[dict]:
    return context.current().audit.query(action="customer.search", actor=user, limit=None)


def test_a_fragment_of_a_masked_name_finds_nothing_but_its_beginning_does(app, demo_dir):
    names = crm(demo_dir, "SELECT id, name FROM customers ORDER BY id")
    korean = next(
        n
        for i, n in names
        if KOREAN_RANGE[0] <= i < KOREAN_RANGE[1] and len(n) == 3 and "\uac00" <= n[1] <= "\ud7a3"
    )
    hidden = korean[1:]  # the given name, which masking hides
    starting = {i for i, n in names if n.startswith(hidden)}
    at = open_customers(app, q=hidden)
    if starting:  # only names that begin with it, never one that merely holds it
        assert set(table(at)["id"]) <= starting
    else:
        assert [i.value for i in at.info] == [EMPTY]
    prefix = korean[:2]
    at = open_customers(app, q=prefix)
    matching = {i for i, n in names if n.lower().startswith(prefix)}
    assert total_of(at) == len(matching)
    df = table(at)
    assert set(df["id"]) <= matching
    assert all(prefix not in name for name in df["name"])  # still masked
    assert at.text_input(key="customers_q").value == prefix


def test_a_one_letter_name_search_is_refused_with_a_note(app):
    at = open_customers(app, q="김")
    assert [w.value for w in at.warning] == [SHORT_NAME]
    assert not at.dataframe


def test_an_email_matches_only_whole_whatever_its_case(app, demo_dir):
    rows = crm(demo_dir, "SELECT id, email FROM customers ORDER BY id")
    target_id, email = next(r for r in rows if EMAIL_RANGE[0] <= r[0] < EMAIL_RANGE[1])
    local, _, domain = email.partition("@")
    for fragment in (local, local[:-1] + "@" + domain, "@" + domain, email[1:]):
        at = open_customers(app, q=fragment)
        assert not at.dataframe, fragment  # a part of a masked address reveals nothing
    at = open_customers(app, q=f"  {email.upper()} ")
    assert list(table(at)["id"]) == [target_id]


def test_search_by_id_and_by_a_whole_phone_number_in_any_shape(app, demo_dir):
    row = customer(demo_dir, MASKED)
    at = open_customers(app, q=str(MASKED))
    assert list(table(at)["id"]) == [MASKED]
    assert at.query_params["q"] == str(MASKED)  # an id is no personal data: it stays
    digits = re.sub(r"\D", "", row["phone"])
    for q in (
        digits,
        f"{digits[:3]} {digits[3:7]}-{digits[7:]}",
        f"+82 {digits[1:3]} {digits[3:]}",
    ):
        at = open_customers(app, q=q)
        assert list(table(at)["id"]) == [MASKED], q
    # The digits the mask hides cannot be found a few at a time.
    for q in (digits[:7], digits[:-1], digits[3:], f"{digits[:3]}-{digits[3:7]}"):
        at = open_customers(app, q=q)
        assert not at.dataframe or MASKED not in set(table(at)["id"]), q


def test_a_search_on_personal_data_stays_out_of_the_url_and_is_audited_once(app, demo_dir):
    row = customer(demo_dir, MASKED)
    before = len(searches_by("operator"))
    at = open_customers(app, "operator", q=row["phone"], segment=row["segment"])
    assert list(table(at)["id"]) == [MASKED]
    assert "q" not in at.query_params  # the link keeps the other filters only
    assert at.query_params["segment"] == row["segment"]
    assert not looks_like_raw_pii(" ".join(f"{k}={at.query_params[k]}" for k in at.query_params))
    at.run()  # a rerun of the same search is not another search
    at.text_input(key="customers_q").input(row["email"]).run()
    assert list(table(at)["id"]) == [MASKED]
    assert "q" not in at.query_params
    rows = searches_by("operator")[: len(searches_by("operator")) - before]
    assert [(r["detail"]["kind"], r["detail"]["term"]) for r in rows] == [
        ("email", mask("email", row["email"].lower())),
        ("phone", mask("phone", re.sub(r"\D", "", row["phone"]))),
    ]
    stored = json.dumps(rows, ensure_ascii=False, default=str)
    assert row["email"] not in stored and row["phone"] not in stored
    assert re.sub(r"\D", "", row["phone"]) not in stored


def test_a_search_that_matches_nothing_says_so(app):
    at = open_customers(app, q="no-such-customer-zzz")
    assert [i.value for i in at.info] == [EMPTY]
    assert not at.dataframe


def test_segment_and_status_filters_come_from_the_url(app, demo_dir):
    at = open_customers(app, segment="vip", status="blocked,inactive")
    expected = crm(
        demo_dir,
        "SELECT count(*) FROM customers"
        " WHERE segment = 'vip' AND status IN ('blocked', 'inactive')",
    )[0][0]
    df = table(at)
    assert set(df["segment"]) == {"vip"}
    assert set(df["status"]) <= {"blocked", "inactive"}
    assert total_of(at) == expected
    assert at.multiselect(key="customers_segment").value == ["vip"]
    assert at.multiselect(key="customers_status").value == ["inactive", "blocked"]
    assert at.query_params["segment"] == "vip"


def test_signup_date_range_from_the_url(app, demo_dir):
    at = open_customers(app, **{"from": "2024-01-01", "to": "2024-01-31"})
    expected = crm(
        demo_dir,
        "SELECT count(*) FROM customers WHERE signup_date BETWEEN '2024-01-01' AND '2024-01-31'",
    )[0][0]
    assert total_of(at) == expected
    dates = table(at)["signup_date"]
    assert str(min(dates))[:10] >= "2024-01-01" and str(max(dates))[:10] <= "2024-01-31"


# --- paging and sorting ----------------------------------------------------------------------


def test_paging_is_server_side_and_in_the_url(app, demo_dir):
    at = open_customers(app, sort="-id")
    first = list(table(at)["id"])
    top = crm(demo_dir, "SELECT max(id) FROM customers")[0][0]
    assert first == list(range(top, top - PAGE_SIZE, -1))
    at.button(key="customers_page_next").click().run()
    second = list(table(at)["id"])
    assert second == list(range(top - PAGE_SIZE, top - 2 * PAGE_SIZE, -1))
    assert at.query_params["page"] == "2"
    again = open_customers(app, sort="-id", page="2")
    assert list(table(again)["id"]) == second


def test_sorting_by_name_is_in_the_url_and_restored(app, demo_dir):
    at = open_customers(app)
    at.selectbox(key="customers_sort_by").set_value("name")
    at.selectbox(key="customers_sort_dir").set_value("asc").run()
    ids = list(table(at)["id"])
    # By the name's search key (lower(name), indexed), the id breaking ties.
    expected = [
        i for (i,) in crm(demo_dir, "SELECT id FROM customers ORDER BY name_key, id LIMIT 20")
    ]
    assert ids == expected
    assert at.query_params["sort"] == "name"
    assert "page" not in at.query_params
    assert list(table(open_customers(app, sort="name"))["id"]) == expected


def test_a_count_past_its_cap_says_so_and_next_pages_by_the_last_row_shown(
    app, demo_dir, monkeypatch
):
    """The count is exact up to a cap (10,000; 50 here) and "50+" past it, with no last page;
    Next and Previous read the rows after the last one shown (or before the first) in the
    sort's order, ties on the signup date broken by the id, no row twice."""
    capped = replace(customers.PAGE, listing=replace(customers.PAGE.listing, count_cap=50))
    monkeypatch.setattr(customers, "PAGE", capped)
    at = open_customers(app)
    expected = [
        i for (i,) in crm(demo_dir, "SELECT id FROM customers ORDER BY signup_date DESC, id DESC")
    ]
    assert "Rows 1–20 of 50+ · page 1" in [c.value for c in at.caption]
    shown = list(table(at)["id"])
    for number in (2, 3, 4):
        at.button(key="customers_page_next").click().run()
        assert f"Rows {(number - 1) * 20 + 1}–{number * 20} of 50+ · page {number}" in [
            c.value for c in at.caption
        ]
        shown += list(table(at)["id"])
    assert shown == expected[:80]
    at.button(key="customers_page_prev").click().run()
    assert list(table(at)["id"]) == expected[40:60]
    assert not at.button(key="customers_page_next").disabled


def test_the_sorts_offered_are_the_indexed_ones_of_the_query():
    from lib.config.settings import ROOT
    from lib.reading.source_query_render import parse as parse_query

    declared = parse_query(ROOT / "queries", "customers_page")
    assert set(customers.SORTS) == set(declared.sortable)
    assert declared.sortable["name"] == ("c.name_key",)


# --- the detail ------------------------------------------------------------------------------


def test_selecting_a_row_opens_the_customer_and_puts_its_id_in_the_url(app):
    at = open_customers(app, q=str(MASKED))
    at.session_state[TABLE] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert [s.value for s in at.subheader] == [f"Customer #{MASKED}"]
    assert at.query_params["id"] == str(MASKED)
    at.button(key="customers_close").click().run()
    assert "id" not in at.query_params
    assert not at.subheader


def selected_rows(at: AppTest) -> list[int]:
    return list(at.session_state[TABLE]["selection"]["rows"])


def test_the_open_customer_follows_its_row_and_stays_open_off_the_page(app, demo_dir):
    top = crm(demo_dir, "SELECT max(id) FROM customers")[0][0]
    at = open_customers(app, sort="-id", id=str(top - 1))  # a link: its row is ticked
    assert [s.value for s in at.subheader] == [f"Customer #{top - 1}"]
    assert selected_rows(at) == [1]
    at.button(key="customers_page_next").click().run()  # not on page 2: still open
    assert [s.value for s in at.subheader] == [f"Customer #{top - 1}"]
    assert selected_rows(at) == [] and at.query_params["id"] == str(top - 1)
    at.button(key="customers_page_prev").click().run()
    assert selected_rows(at) == [1]
    at.session_state[TABLE] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    at.run()  # a click on another row opens that customer
    assert [s.value for s in at.subheader] == [f"Customer #{top - 3}"]
    assert at.query_params["id"] == str(top - 3)
    at.button(key="customers_page_next").click().run()
    assert at.query_params["page"] == "2"
    at.multiselect(key="customers_status").set_value(["blocked"]).run()
    assert "page" not in at.query_params  # a new filter: back to page 1, the customer open
    assert at.query_params["id"] == str(top - 3)


@pytest.mark.parametrize("raw", ["0", "-3", str(MAX_INT + 1), "9" * 18])
def test_an_id_outside_the_bounds_of_ids_in_the_url_opens_no_customer(app, raw):
    at = open_customers(app, id=raw)
    assert not at.subheader and not at.warning  # no "Customer #…", no "No customer #…"
    assert "id" not in at.query_params
    assert len(table(at)) == PAGE_SIZE


def test_customer_api_down_still_shows_orders_and_tickets(app, demo_dir):
    at = open_customers(app, id=str(API_DOWN))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "customer_api" in errors[0] and "\n" not in errors[0]
    orders = shop_count(demo_dir, "SELECT count(*) FROM orders WHERE customer_id = ?", API_DOWN)
    tickets = json.loads((demo_dir / "tickets.json").read_text(encoding="utf-8"))
    mine = [t for t in tickets if t["customer_id"] == API_DOWN]
    assert orders and mine, "pick a customer with orders and tickets"
    labels = [t.label for t in at.tabs]
    assert labels[:2] == [f"Orders ({orders})", f"Support tickets ({len(mine)})"]
    frames = [df.value for df in at.dataframe]
    order_frame = next(f for f in frames if "ordered_at" in f.columns)
    ticket_frame = next(f for f in frames if "ticket" in f.columns)
    assert len(order_frame) == min(orders, 20)
    assert list(order_frame["ordered_at"]) == sorted(order_frame["ordered_at"], reverse=True)
    assert set(ticket_frame["ticket"]) == {t["_id"] for t in mine}


def test_contact_details_in_a_ticket_subject_are_masked(app, demo_dir, tmp_path, monkeypatch):
    data = tmp_path / "demo"  # a copy: the subject is changed for this test only
    shutil.copytree(demo_dir, data)
    tickets = json.loads((data / "tickets.json").read_text(encoding="utf-8"))
    ticket = next(t for t in tickets if t["customer_id"] == API_DOWN)
    ticket["subject"] = "Call me on 010 - 2345 - 6789 or at sora.park@example.com, order 4321"
    (data / "tickets.json").write_text(json.dumps(tickets, ensure_ascii=False), encoding="utf-8")
    config = write_config(tmp_path, data)
    # A MongoDB stand-in of its own, seeded from the changed file (one per URI per process).
    text = config.read_text(encoding="utf-8").replace("mongomock://demo", f"mongomock://{tmp_path}")
    config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(config))
    at = open_customers(app, id=str(API_DOWN))
    frame = next(df.value for df in at.dataframe if "ticket" in df.value.columns)
    subject = frame.set_index("ticket").loc[ticket["_id"], "subject"]
    assert subject == "Call me on 010 - **** - 6789 or at s***@example.com, order 4321"
    text = page_text(at)
    assert "2345" not in text and "sora.park" not in text


def test_a_customer_without_tickets_says_so(app, demo_dir):
    tickets = json.loads((demo_dir / "tickets.json").read_text(encoding="utf-8"))
    assert not [t for t in tickets if t["customer_id"] == NO_TICKETS]
    at = open_customers(app, id=str(NO_TICKETS))
    assert "No support tickets from this customer." in [i.value for i in at.info]
    assert at.tabs[1].label == "Support tickets (0)"


def test_operator_sees_no_unmask_button_but_may_edit_contact(app):
    at = open_customers(app, "operator", id=str(OPERATOR_VIEW))
    assert [s.value for s in at.subheader] == [f"Customer #{OPERATOR_VIEW}"]
    keys = {b.key for b in at.button}
    assert "customers_unmask" not in keys
    assert "customers_save_contact" in keys


def test_unmask_needs_a_reason_then_shows_that_field_of_that_customer_only(app, demo_dir):
    row = customer(demo_dir, UNMASKED)
    at = open_customers(app, id=str(UNMASKED))
    assert row["email"] not in contact(at)
    assert "customers_unmask" in {b.key for b in at.button}

    at.session_state[UNMASKING] = UNMASKED  # what the Unmask… button does
    at.run()
    assert at.multiselect(key="customers_unmask_fields").options == [
        "Name",
        "E-mail",
        "Phone",
        "Address",
    ]
    before = len(audit_rows("customer.unmask", UNMASKED))
    at.multiselect(key="customers_unmask_fields").set_value(["email"])
    at.button(key="customers_unmask_submit").click().run()
    assert "Give a reason (at least 10 characters)." in [e.value for e in at.error]
    assert len(audit_rows("customer.unmask", UNMASKED)) == before
    assert row["email"] not in contact(at)

    at.text_area(key="customers_unmask_reason").input(REASON)
    at.button(key="customers_unmask_submit").click().run()
    assert not at.exception
    shown = contact(at)
    assert row["email"] in shown  # in clear now
    assert row["phone"] not in shown and mask("phone", row["phone"]) in shown
    assert any("E-mail shown in clear to you until" in c.value for c in at.caption)
    assert row["email"] not in table(at).to_csv()  # lists stay masked

    other = customer(demo_dir, NEIGHBOUR)
    at = open_customers(app, id=str(NEIGHBOUR))
    assert other["email"] not in contact(at)
    assert mask("email", other["email"]) in contact(at)

    newest = audit_rows("customer.unmask", UNMASKED)[0]
    assert (newest["actor"], newest["outcome"]) == ("support", "ok")
    assert newest["detail"]["fields"] == ["email"]
    assert newest["reason"] == REASON
    assert row["email"] not in json.dumps(newest, ensure_ascii=False, default=str)


def test_update_contact_changes_the_phone_and_audits_it_masked(app, demo_dir):
    before = customer(demo_dir, EDITED)["phone"]
    new = before
    while new == before:
        new = f"010-{random.randint(2000, 9999)}-{random.randint(0, 9999):04d}"
    at = open_customers(app, id=str(EDITED))
    at.text_input(key="customers_new_phone").input(new.replace("-", ""))
    at.button(key="customers_save_contact").click().run()
    assert not at.exception
    assert customer(demo_dir, EDITED)["phone"] == new
    assert f"Customer {EDITED}: phone updated." in [t.value for t in at.toast]
    assert mask("phone", new) in contact(at)
    assert at.text_input(key="customers_new_phone").value == ""

    newest = audit_rows("customer.update_contact", EDITED)[0]
    assert newest["outcome"] == "ok" and newest["actor"] == "support"
    assert newest["detail"]["phone"] == {
        "before": mask("phone", before),
        "after": mask("phone", new),
    }
    stored = json.dumps(newest, ensure_ascii=False, default=str)
    assert before not in stored and new not in stored


def test_an_invalid_phone_is_refused_and_nothing_changes(app, demo_dir):
    before = customer(demo_dir, EDITED)["phone"]
    at = open_customers(app, id=str(EDITED))
    at.text_input(key="customers_new_phone").input("12345")
    at.button(key="customers_save_contact").click().run()
    assert any("phone must be a Korean mobile number" in e.value for e in at.error)
    assert customer(demo_dir, EDITED)["phone"] == before


def test_filters_of_another_page_do_not_leak_into_this_one(app, demo_dir):
    at = open_customers(app, "operator", status="blocked")
    assert at.multiselect(key="customers_status").value == ["blocked"]
    at.switch_page("app_pages/orders.py").run()
    assert not at.exception
    orders_status = next(m for m in at.multiselect if m.label == "Status")  # the Orders' own key
    assert orders_status.value == []
    orders_status.set_value(["pending"]).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.multiselect(key="customers_status").value == []
    assert total_of(at) == crm(demo_dir, "SELECT count(*) FROM customers")[0][0]


def test_searches_on_personal_data_past_the_limit_are_refused(app, demo_dir, tmp_path, monkeypatch):
    # An audit log of this test's own: the count is per user, across all of its searches.
    config = write_config(tmp_path, demo_dir)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(f"{demo_dir}/audit.sqlite", f"{tmp_path}/audit.sqlite"))
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(config))
    at = open_customers(app, q="김민")  # the first search of the window runs
    assert not at.warning and len(table(at)) > 0
    audit = context.current().audit
    support = at.session_state["principal"]
    for _ in range(MAX_SEARCHES - 1):
        assert record(audit, support, parse("이서"), "customer")
    at.text_input(key="customers_q").input("박지").run()
    assert [w.value for w in at.warning] == [TOO_MANY]
    assert not at.dataframe
    denied = audit.query(action="customer.search", outcome="denied", limit=None)
    assert [(r["actor"], r["detail"]["kind"]) for r in denied] == [("support", "name")]
    # Searches that touch no personal data still run; so does the window's end.
    at.text_input(key="customers_q").input("").run()
    assert not at.warning and len(table(at)) > 0
    later = datetime.now(UTC) + SEARCH_WINDOW + timedelta(seconds=1)
    assert record(audit, support, parse("박지"), "customer", now=later)
