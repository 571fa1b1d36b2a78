"""product.create / update / deactivate: a seller within its own tenant, admin anywhere."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from lib.actions import run
from lib.records.schema import products

MISSING = 999_999


def first_product(ctx, seller_id: int, active: int = 1) -> dict:
    with ctx.db("shop").connect() as conn:
        row = conn.execute(
            sa.select(products)
            .where(products.c.seller_id == seller_id, products.c.active == active)
            .order_by(products.c.id)
            .limit(1)
        ).first()
    return dict(row._mapping)


def product_count(ctx) -> int:
    with ctx.db("shop").connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(products)).scalar_one()


# --- a seller in its own tenant -------------------------------------------------------------


def test_seller_creates_a_product_in_its_own_catalogue(ctx, principals, audit_rows, one_row):
    result = run(
        "product.create",
        principals["seller1"],
        name="Linen Summer Shirt",
        price=39_000,
        stock=12,
        category="fashion",
    )
    assert result.outcome == "ok", result.message
    created = one_row(ctx, "shop", products, result.data["product_id"])
    assert (created["seller_id"], created["name"], created["price"], created["stock"]) == (
        1,
        "Linen Summer Shirt",
        39_000,
        12,
    )
    assert created["active"] == 1
    [row] = audit_rows(ctx, action="product.create")
    assert row["target_id"] == str(created["id"])
    # Product data is not personal data: the name is recorded as it is.
    assert row["detail"]["name"] == "Linen Summer Shirt"
    assert row["detail"]["seller_id"] == 1


def test_seller_updates_its_own_product_and_the_audit_holds_before_and_after(
    ctx, principals, audit_rows, one_row
):
    product = first_product(ctx, 1)
    result = run(
        "product.update",
        principals["seller1"],
        product_id=product["id"],
        price=product["price"] + 1000,
        stock=product["stock"],  # unchanged: not written, not recorded
        name="Essential Wool Coat (2026)",
    )
    assert result.outcome == "ok", result.message
    assert result.data["changed"] == ["name", "price"]
    after = one_row(ctx, "shop", products, product["id"])
    assert (after["name"], after["price"]) == (
        "Essential Wool Coat (2026)",
        product["price"] + 1000,
    )
    assert after["updated_at"] > product["updated_at"]
    [row] = audit_rows(ctx, action="product.update")
    assert row["detail"] == {
        "changed": ["name", "price"],
        "name": {"before": product["name"], "after": "Essential Wool Coat (2026)"},
        "price": {"before": product["price"], "after": product["price"] + 1000},
    }


def test_update_with_no_difference_changes_nothing(ctx, principals, one_row):
    product = first_product(ctx, 1)
    result = run(
        "product.update", principals["seller1"], product_id=product["id"], stock=product["stock"]
    )
    assert result.ok
    assert result.data["changed"] == []
    assert one_row(ctx, "shop", products, product["id"]) == product


def test_seller_deactivates_its_own_product_once(ctx, principals, audit_rows, one_row):
    product = first_product(ctx, 1)
    first = run("product.deactivate", principals["seller1"], product_id=product["id"])
    assert first.outcome == "ok", first.message
    assert one_row(ctx, "shop", products, product["id"])["active"] == 0
    again = run("product.deactivate", principals["seller1"], product_id=product["id"])
    assert again.outcome == "conflict"
    assert "already inactive" in again.message
    assert [r["outcome"] for r in audit_rows(ctx, action="product.deactivate")] == [
        "ok",
        "conflict",
    ]


# --- tenant isolation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("product.update", {"price": 1}),
        ("product.update", {"name": "Mine now"}),
        ("product.update", {"stock": 0, "seller_id": 1}),  # "it is mine" does not make it so
        ("product.update", {"category": "food", "seller_id": 2}),
        ("product.deactivate", {}),
    ],
)
def test_seller_cannot_change_another_tenants_product_through_any_parameter(
    ctx, principals, audit_rows, one_row, action, params
):
    theirs = first_product(ctx, 2)
    result = run(action, principals["seller1"], product_id=theirs["id"], **params)
    assert result.outcome == "denied"
    assert result.message == f"Product {theirs['id']} is not in your catalogue"
    assert one_row(ctx, "shop", products, theirs["id"]) == theirs
    [row] = audit_rows(ctx, action=action)
    assert (row["outcome"], row["actor"], row["target_id"]) == (
        "denied",
        "seller1",
        str(theirs["id"]),
    )


@pytest.mark.parametrize(
    ("action", "params"), [("product.update", {"price": 1}), ("product.deactivate", {})]
)
def test_a_missing_product_looks_the_same_to_a_seller_as_another_tenants(
    ctx, principals, action, params
):
    theirs = first_product(ctx, 2)
    other = run(action, principals["seller1"], product_id=theirs["id"], **params)
    missing = run(action, principals["seller1"], product_id=MISSING, **params)
    assert missing.outcome == other.outcome == "denied"
    assert missing.message.replace(str(MISSING), "N") == other.message.replace(
        str(theirs["id"]), "N"
    )


@pytest.mark.parametrize("seller_id", [2, 3, MISSING])
def test_seller_cannot_create_in_another_catalogue(ctx, principals, seller_id):
    count = product_count(ctx)
    result = run(
        "product.create",
        principals["seller1"],
        name="Sneaky Listing",
        price=1000,
        stock=1,
        category="home",
        seller_id=seller_id,
    )
    assert result.outcome == "denied"
    assert result.message == "You may only add products to your own catalogue"
    assert product_count(ctx) == count


def test_seller_cannot_move_its_product_to_another_tenant(ctx, principals, one_row):
    mine = first_product(ctx, 1)
    result = run(
        "product.update", principals["seller1"], product_id=mine["id"], seller_id=2, stock=5
    )
    assert result.outcome == "denied"
    assert one_row(ctx, "shop", products, mine["id"]) == mine


def test_roles_without_product_actions_are_denied(ctx, principals):
    product = first_product(ctx, 1)
    for who in ("operator", "support", "analyst", "auditor"):
        assert run("product.deactivate", principals[who], product_id=product["id"]).outcome == (
            "denied"
        )


# --- admin ----------------------------------------------------------------------------------


def test_admin_may_change_any_tenants_products(ctx, principals, one_row):
    admin = principals["admin"]
    theirs = first_product(ctx, 2)
    assert run("product.update", admin, product_id=theirs["id"], stock=3).ok
    assert one_row(ctx, "shop", products, theirs["id"])["stock"] == 3
    assert run("product.deactivate", admin, product_id=theirs["id"]).ok
    created = run(
        "product.create",
        admin,
        name="Jeju Tangerines 5kg",
        price=25_000,
        stock=40,
        category="food",
        seller_id=3,
    )
    assert created.ok, created.message
    assert one_row(ctx, "shop", products, created.data["product_id"])["seller_id"] == 3


@pytest.mark.parametrize(
    ("action", "params", "message"),
    [
        ("product.update", {"product_id": MISSING, "price": 1}, f"No product {MISSING}"),
        ("product.deactivate", {"product_id": MISSING}, f"No product {MISSING}"),
        ("product.create", {"seller_id": 99}, "No seller 99"),
        ("product.create", {}, "seller_id is required"),
    ],
)
def test_admin_is_told_what_does_not_exist(ctx, principals, action, params, message):
    if action == "product.create":
        params = {"name": "Desk Lamp", "price": 30_000, "stock": 2, "category": "home", **params}
    result = run(action, principals["admin"], **params)
    assert (result.outcome, result.message) == ("invalid", message)


def test_admin_cannot_move_a_product_between_sellers_by_update(ctx, principals, one_row):
    product = first_product(ctx, 1)
    result = run(
        "product.update", principals["admin"], product_id=product["id"], seller_id=2, stock=1
    )
    assert (result.outcome, result.message) == ("invalid", "seller_id cannot be changed")
    assert one_row(ctx, "shop", products, product["id"]) == product


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"price": 0}, "price"),
        ({"price": -5}, "price"),
        ({"price": 10**12}, "price"),
        ({"price": "cheap"}, "price"),
        ({"stock": -1}, "stock"),
        ({"stock": 1.5}, "stock"),
        ({"category": "toys"}, "category"),
        ({"name": "x"}, "name"),
        ({"name": "y" * 121}, "name"),
        ({"name": "Call 010-1234-5678 for deals"}, "name"),
    ],
)
def test_bad_product_fields_are_invalid_naming_the_field(ctx, principals, params, field):
    good = {"name": "Yoga Mat", "price": 20_000, "stock": 10, "category": "sports"}
    count = product_count(ctx)
    created = run("product.create", principals["seller1"], **{**good, **params})
    assert created.outcome == "invalid"
    assert created.message.startswith(field)
    assert product_count(ctx) == count

    mine = first_product(ctx, 1)
    updated = run("product.update", principals["seller1"], product_id=mine["id"], **params)
    assert updated.outcome == "invalid"
    assert updated.message.startswith(field)


def test_update_needs_something_to_change(ctx, principals):
    mine = first_product(ctx, 1)
    result = run("product.update", principals["seller1"], product_id=mine["id"])
    assert result.outcome == "invalid"
    assert "at least one of" in result.message


# --- optimistic concurrency -----------------------------------------------------------------


def test_edit_from_a_stale_screen_conflicts(ctx, principals, one_row):
    seller = principals["seller1"]
    product = first_product(ctx, 1)
    opened_at = product["updated_at"]
    first = run(
        "product.update", seller, product_id=product["id"], stock=1, expected_updated_at=opened_at
    )
    assert first.ok, first.message
    # Same second or not, the first write moved the version on.
    assert first.data["updated_at"] != opened_at
    stale = run(
        "product.update", seller, product_id=product["id"], stock=2, expected_updated_at=opened_at
    )
    assert stale.outcome == "conflict"
    assert "changed by someone else" in stale.message
    assert one_row(ctx, "shop", products, product["id"])["stock"] == 1
    fresh = run(
        "product.update",
        seller,
        product_id=product["id"],
        stock=2,
        expected_updated_at=first.data["updated_at"],
    )
    assert fresh.ok, fresh.message


def test_versions_differ_even_within_one_second(sqlite_ctx, principals):
    seller = principals["seller1"]
    product = first_product(sqlite_ctx, 1)
    stamps = [
        run("product.update", seller, product_id=product["id"], stock=n).data["updated_at"]
        for n in range(1, 5)
    ]
    assert len(set(stamps)) == 4
    assert stamps == sorted(stamps)
