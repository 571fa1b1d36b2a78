"""The generated demo data: deterministic, the promised sizes, and internally consistent."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from lib.demo import data, seed
from lib.demo.data import people, shop
from lib.demo.data.base import is_korean

SQL_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def demo() -> dict[str, list[dict]]:
    return data.generate()


def test_two_generations_are_equal(demo):
    assert data.generate() == demo


def test_generation_takes_under_three_seconds():
    started = time.perf_counter()
    data.generate()
    assert time.perf_counter() - started < 3


def test_sizes(demo):
    assert {name: len(rows) for name, rows in demo.items()} == {
        "customers": 2000,
        "sellers": 3,
        "products": 150,
        "orders": 20000,
        "payments": 20000,
        "refunds": sum(o["status"] in ("refunded", "partially_refunded") for o in demo["orders"]),
        "marketing_spend": 90,
        "store_sales": 54,
        "tickets": 3000,
    }
    assert [c["id"] for c in demo["customers"]] == list(range(1, 2001))
    assert [o["id"] for o in demo["orders"]] == list(range(1, 20001))
    assert Counter(p["seller_id"] for p in demo["products"]) == {1: 50, 2: 50, 3: 50}


def test_order_status_mix_is_roughly_as_specified(demo):
    orders = demo["orders"]
    share = {s: n / len(orders) for s, n in Counter(o["status"] for o in orders).items()}
    bounds = {
        "approved": (0.76, 0.84),
        "pending": (0.04, 0.08),
        "rejected": (0.025, 0.055),
        "refunded": (0.045, 0.075),
        "partially_refunded": (0.025, 0.055),
    }
    assert set(share) == set(bounds)
    for status, (lo, hi) in bounds.items():
        assert lo <= share[status] <= hi, status


def test_pending_orders_are_mostly_from_the_last_two_months(demo):
    pending = [o for o in demo["orders"] if o["status"] == "pending"]
    recent = [o for o in pending if o["ordered_at"] >= "2026-09-01"]
    assert len(recent) / len(pending) > 0.7


def test_orders_grow_over_time_within_the_eighteen_months(demo):
    orders = demo["orders"]
    assert orders[0]["ordered_at"] >= "2025-05-01 00:00:00"
    assert orders[-1]["ordered_at"] <= "2026-10-31 23:59:59"
    per_month = Counter(o["ordered_at"][:7] for o in orders)
    assert len(per_month) == 18
    first_half_year = sum(n for m, n in per_month.items() if m < "2025-11")
    last_half_year = sum(n for m, n in per_month.items() if m >= "2026-05")
    assert last_half_year > 1.5 * first_half_year


def test_order_amount_and_seller_come_from_the_product(demo):
    products = {p["id"]: p for p in demo["products"]}
    for order in demo["orders"]:
        product = products[order["product_id"]]
        assert order["amount"] == product["price"] * order["quantity"]
        assert order["seller_id"] == product["seller_id"]
        assert 1 <= order["quantity"] <= 5


def test_every_order_belongs_to_a_customer_who_had_signed_up(demo):
    signup = {c["id"]: c["signup_date"] for c in demo["customers"]}
    for order in demo["orders"]:
        assert signup[order["customer_id"]] <= order["ordered_at"][:10]


def test_one_payment_per_order_with_status_and_balance_from_the_order(demo):
    orders = {o["id"]: o for o in demo["orders"]}
    payments = demo["payments"]
    assert sorted(p["order_id"] for p in payments) == sorted(orders)
    assert len({p["payment_key"] for p in payments}) == len(payments)
    for payment in payments:
        order = orders[payment["order_id"]]
        assert re.fullmatch(r"tpk_[0-9a-f]{20}", payment["payment_key"])
        assert payment["amount"] == order["amount"]
        assert payment["method"] in ("card", "transfer", "virtual_account", "easy_pay")
        expected_status = {
            "pending": "DONE",
            "approved": "DONE",
            "rejected": "ABORTED",
            "refunded": "CANCELED",
            "partially_refunded": "PARTIAL_CANCELED",
        }[order["status"]]
        assert payment["status"] == expected_status
        if expected_status == "DONE":
            assert payment["balance_amount"] == payment["amount"]
        elif expected_status == "PARTIAL_CANCELED":
            assert 0 < payment["balance_amount"] < payment["amount"]
            assert payment["balance_amount"] % 100 == 0
        else:
            assert payment["balance_amount"] == 0


def test_each_refunded_order_has_one_done_refund_of_what_its_payment_lost(demo):
    orders = {o["id"]: o for o in demo["orders"]}
    payments = {p["order_id"]: p for p in demo["payments"]}
    refunds = demo["refunds"]
    refunded = {i for i, o in orders.items() if o["status"] in ("refunded", "partially_refunded")}
    assert sorted(r["order_id"] for r in refunds) == sorted(refunded)
    assert [r["id"] for r in refunds] == list(range(1, len(refunds) + 1))
    for r in refunds:
        order, payment = orders[r["order_id"]], payments[r["order_id"]]
        assert r["payment_key"] == payment["payment_key"]
        assert r["amount"] == payment["amount"] - payment["balance_amount"] > 0
        assert r["reason"] in shop.REFUND_REASONS
        assert (r["status"], r["requested_by"], r["rejects_order"]) == ("done", "seed", False)
        assert r["idempotency_key"] == f"seed-{order['id']}"
        assert r["requested_at"] == r["settled_at"] == order["updated_at"]
        # The gateway sandbox seeds one cancel per refunded payment: the next refund's count.
        assert (r["cancels_before"], r["cancels_after"]) == (0, 1)
    reasons = Counter(r["reason"] for r in refunds)
    assert set(reasons) == set(shop.REFUND_REASONS)
    assert reasons.most_common(1)[0][1] < 0.3 * len(refunds)  # a mix, not one reason


def test_products_have_positive_round_prices_and_known_categories(demo):
    categories = {"fashion", "beauty", "electronics", "home", "food", "sports"}
    assert {p["category"] for p in demo["products"]} == categories
    for product in demo["products"]:
        assert product["price"] > 0 and product["price"] % 100 == 0
        assert product["stock"] >= 0
        assert product["active"] in (0, 1)
        assert product["created_at"] <= product["updated_at"]


def test_names_are_korean_and_english(demo):
    names = [c["name"] for c in demo["customers"]]
    korean = sum(is_korean(n) for n in names)
    assert 0.5 < korean / len(names) < 0.7
    assert any(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n) for n in names)


def test_customer_contact_fields_have_the_promised_shapes(demo):
    customers = demo["customers"]
    emails = [c["email"] for c in customers]
    assert len(set(emails)) == len(emails)
    for c in customers:
        assert re.fullmatch(r"[a-z.]+\d+@example\.(com|net|org)", c["email"]), c["email"]
        assert re.fullmatch(r"010-\d{4}-\d{4}", c["phone"])
        assert c["segment"] in ("vip", "regular", "new", "dormant")
        assert c["status"] in ("active", "inactive", "blocked")
        assert "2023-01-01" <= c["signup_date"] <= "2026-10-31"
        assert SQL_TS.match(c["updated_at"]) and c["updated_at"][:10] >= c["signup_date"]
    assert any(c["address"].startswith("서울특별시 ") for c in customers)
    assert any(c["address"].startswith("Seoul, ") for c in customers)


def test_timestamps_are_utc_text(demo):
    for order in demo["orders"]:
        assert SQL_TS.match(order["ordered_at"]) and SQL_TS.match(order["updated_at"])
        assert order["ordered_at"] <= order["updated_at"]
    for payment in demo["payments"]:
        assert SQL_TS.match(payment["approved_at"])


def test_monthly_sheets_cover_every_month_and_channel_or_store(demo):
    months = [f"2025-{m:02d}-01" for m in range(5, 13)] + [f"2026-{m:02d}-01" for m in range(1, 11)]
    spend = demo["marketing_spend"]
    assert {(r["month"], r["channel"]) for r in spend} == {
        (m, c) for m in months for c in ("search", "social", "display", "email", "affiliate")
    }
    sales = demo["store_sales"]
    assert {(r["month"], r["store"]) for r in sales} == {
        (m, s) for m in months for s in ("Gangnam", "Hongdae", "Busan Seomyeon")
    }
    assert all(r["spend_krw"] > 0 and r["clicks"] >= r["signups"] >= 0 for r in spend)
    assert all(r["revenue_krw"] > 0 and r["orders"] > 0 for r in sales)


def test_tickets_have_the_document_shape_and_known_customers(demo):
    customer_ids = {c["id"] for c in demo["customers"]}
    tickets = demo["tickets"]
    assert [t["_id"] for t in tickets] == [f"T{n:06d}" for n in range(1, 3001)]
    for t in tickets:
        assert t["customer_id"] in customer_ids
        assert t["status"] in ("open", "pending", "closed")
        assert t["priority"] in ("low", "normal", "high")
        assert t["channel"] in ("email", "chat", "phone")
        assert ISO_Z.match(t["created_at"])
        assert set(t["assignee"]) == {"name", "team"}
        assert t["tags"] and all(isinstance(tag, str) for tag in t["tags"])
        assert t["messages"][0]["from"] == "customer"
        assert t["messages"][0]["at"] == t["created_at"]
        assert all(
            m["from"] in ("customer", "agent") and ISO_Z.match(m["at"]) for m in t["messages"]
        )
        assert [m["at"] for m in t["messages"]] == sorted(m["at"] for m in t["messages"])


def test_the_seeded_databases_have_the_declared_tables_keys_and_indexes(seeded_demo_dir: Path):
    # lib.records.schema is the one declaration: the seeder adds nothing and leaves nothing out.
    assert data.DATA_VERSION == "3"  # 3: search keys and list indexes, any size
    for file, metadata in seed.DECLARED.items():
        engine = sa.create_engine(f"sqlite:///{seeded_demo_dir / file}")
        # The indexes the declaration gives SQLite (one is PostgreSQL's only), as create_all
        # makes them: the seeder builds them after loading the rows, the same ones.
        declared = sa.create_engine("sqlite://")
        try:
            metadata.create_all(declared)
            expected = sa.inspect(declared)
            seen = sa.inspect(engine)
            assert set(seen.get_table_names()) == set(seed.FILES[file])
            for name in seed.FILES[file]:
                table = metadata.tables[name]
                assert [c["name"] for c in seen.get_columns(name)] == list(table.columns.keys())
                assert seen.get_pk_constraint(name)["constrained_columns"] == [
                    c.name for c in table.primary_key
                ]
                assert sorted(u["column_names"] for u in seen.get_unique_constraints(name)) == (
                    sorted([c.name] for c in table.columns if c.unique)
                )
                assert {i["name"]: i["column_names"] for i in seen.get_indexes(name)} == {
                    i["name"]: i["column_names"] for i in expected.get_indexes(name)
                }
                assert len(seen.get_indexes(name)) == len(
                    [i for i in table.indexes if i.name != "idx_payments_key_prefix"]
                )
                assert {
                    (fk["referred_table"], tuple(fk["constrained_columns"]))
                    for fk in seen.get_foreign_keys(name)
                } == {(fk.column.table.name, (fk.parent.name,)) for fk in table.foreign_keys}
        finally:
            engine.dispose()
            declared.dispose()
    # update_contact turns a taken address into a Conflict through this constraint.
    crm = sa.create_engine(f"sqlite:///{seeded_demo_dir / 'crm.sqlite'}")
    try:
        uniques = sa.inspect(crm).get_unique_constraints("customers")
    finally:
        crm.dispose()
    assert [u["column_names"] for u in uniques] == [["email"]]


# --- any size ---------------------------------------------------------------------------------

# The default demo's rows, as DATA_VERSION 2 generated them: sizes became parameters and the
# e-mail draw got a bound without changing one row of the default.
DEFAULT_ROWS_SHA256 = "6b834595b70d13d205d0966aa5ab0f2176d5d82e4a3b4d9461223f8164db3e0c"


def test_the_default_size_gives_the_same_rows_as_before_sizes_were_parameters(demo):
    text = json.dumps(demo, sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == DEFAULT_ROWS_SHA256


@pytest.fixture(scope="module")
def small() -> dict[str, list[dict]]:
    return data.generate(orders=3000, customers=500)


def test_a_smaller_demo_is_deterministic_and_of_the_asked_sizes(small):
    assert data.generate(orders=3000, customers=500) == small
    sizes = {name: len(rows) for name, rows in small.items()}
    assert (sizes["orders"], sizes["payments"], sizes["customers"]) == (3000, 3000, 500)
    assert (sizes["sellers"], sizes["products"], sizes["tickets"]) == (3, 150, 3000)
    assert [o["id"] for o in small["orders"]] == list(range(1, 3001))
    customer_ids = {c["id"] for c in small["customers"]}
    assert {o["customer_id"] for o in small["orders"]} <= customer_ids
    assert {t["customer_id"] for t in small["tickets"]} <= customer_ids


def test_a_smaller_demo_keeps_the_distributions(small):
    orders = small["orders"]
    share = Counter(o["status"] for o in orders)
    assert 0.74 <= share["approved"] / len(orders) <= 0.86
    assert 0.03 <= share["pending"] / len(orders) <= 0.09
    per_month = Counter(o["ordered_at"][:7] for o in orders)
    assert len(per_month) == 18 and per_month["2026-10"] > per_month["2025-05"]
    korean = sum(is_korean(c["name"]) for c in small["customers"])
    assert 0.5 < korean / len(small["customers"]) < 0.7


def test_e_mails_stay_unique_at_150_000_customers():
    # Random draws of the common names run out long before this; the generator must end.
    customers = people.customers(150_000)
    emails = [c["email"] for c in customers]
    assert len(emails) == len(set(emails)) == 150_000
    assert all(re.fullmatch(r"[a-z.]+\d+@example\.(com|net|org)", e) for e in emails)


def test_sizes_below_one_are_refused():
    with pytest.raises(ValueError):
        data.generate(orders=0)


def test_the_marker_records_the_sizes_so_a_default_seed_replaces_a_bigger_one(tmp_path):
    seed.seed(tmp_path, orders=3000, customers=500)
    assert seed.is_current(tmp_path, orders=3000, customers=500)
    assert not seed.is_current(tmp_path)  # the default sizes: make run rebuilds the small demo
    assert seed.seed(tmp_path, orders=3000, customers=500)["orders"] == 3000  # kept as is
    counts = seed.seed(tmp_path)
    assert (counts["orders"], counts["customers"]) == (20000, 2000)
    assert seed.is_current(tmp_path)
