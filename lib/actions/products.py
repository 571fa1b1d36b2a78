"""Product actions: create, update, deactivate. A seller acts only within its own tenant.

Tenant rule (lib.access.policy.may_touch_tenant): a seller's product of another tenant and a
product that does not exist are refused with the same message, so a seller cannot learn
which ids other tenants use. Staff who see every tenant (admin) are told plainly when a
product does not exist. No parameter moves a product to another tenant.

`updated_at` is a product's version: it changes on every write (strictly increasing, see
`_next_stamp`), so an edit made on a stale screen (`expected_updated_at`) conflicts.
Product data is not personal data: audit details are recorded unmasked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lib.access import policy
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.errors import ActionDenied, Conflict, ValidationFailed
from lib.records.schema import now_text, products, sellers

CATEGORIES = ("fashion", "beauty", "electronics", "home", "food", "sports")
EDITABLE = ("name", "price", "stock", "category")
MAXIMUM = 1_000_000_000  # price (won) and stock: far above any real value, inside INT32
# The bounds the action enforces; the Seller portal's inputs read them from here.
NAME_MIN, NAME_MAX = 2, 120
PRICE_MIN, STOCK_MIN = 1, 0
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # lib.records.schema.now_text

# The seller directory, read only here (to check that an admin names a real seller).


def _not_yours(product_id: int) -> ActionDenied:
    return ActionDenied(f"Product {product_id} is not in your catalogue")


def _product(call: Call, conn: sa.Connection, product_id: int) -> Any:
    """The product, locked for the transaction, if the actor may touch its tenant."""
    row = conn.execute(
        sa.select(products).where(products.c.id == product_id).with_for_update()
    ).first()
    if row is None and policy.sees_all_tenants(call.actor):
        raise ValidationFailed(f"No product {product_id}")
    if row is None or not policy.may_touch_tenant(call.actor, row.seller_id):
        raise _not_yours(product_id)  # the same for "not yours" and "no such product"
    return row


def _stamp(value: str | datetime | None) -> str | None:
    """A product's updated_at as text: PostgreSQL and MariaDB hold a real timestamp (read
    back as a datetime), SQLite the text itself; versions compare and travel as text."""
    return value.strftime(STAMP_FORMAT) if isinstance(value, datetime) else value


def _next_stamp(previous: str | None) -> str:
    """Now, or one second after `previous` if that is not earlier than now.

    now_text() counts whole seconds; two writes within one second would otherwise leave
    the same updated_at and an edit based on the first would not see the second.
    """
    now = now_text()
    if previous is None or now > previous:
        return now
    try:
        before = datetime.strptime(previous, STAMP_FORMAT)
    except ValueError:
        return now
    return (before + timedelta(seconds=1)).strftime(STAMP_FORMAT)


# --- input ----------------------------------------------------------------------------------


def _fields(p: dict[str, Any], required: bool) -> dict[str, Any]:
    fields = {
        # A catalogue is public and the name is audited as is.
        "name": v.free_text(p, "name", min_len=NAME_MIN, max_len=NAME_MAX, required=required),
        "price": v.integer(p, "price", minimum=PRICE_MIN, required=required),
        "stock": v.integer(p, "stock", minimum=STOCK_MIN, required=required),
        "category": v.choice(p, "category", CATEGORIES, required=required),
    }
    for name in ("price", "stock"):
        if fields[name] is not None and fields[name] > MAXIMUM:
            raise ValidationFailed(f"{name} must be at most {MAXIMUM:,}")
    return fields


def _validate_create(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {*EDITABLE, "seller_id"})
    return {
        **_fields(p, required=True),
        "seller_id": v.integer(p, "seller_id", minimum=1, required=False),
    }


def _validate_update(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"product_id", *EDITABLE, "seller_id", "expected_updated_at"})
    if isinstance(p.get("expected_updated_at"), datetime):
        # The version as read from PostgreSQL or MariaDB (or a DataFrame's Timestamp): as text.
        p = {**p, "expected_updated_at": _stamp(p["expected_updated_at"])}
    fields = {k: value for k, value in _fields(p, required=False).items() if value is not None}
    if not fields:
        raise ValidationFailed(f"give at least one of: {', '.join(EDITABLE)}")
    return {
        "product_id": v.integer(p, "product_id", minimum=1),
        "seller_id": v.integer(p, "seller_id", minimum=1, required=False),
        "expected_updated_at": v.text(p, "expected_updated_at", max_len=40, required=False),
        **fields,
    }


def _validate_deactivate(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"product_id"})
    return {"product_id": v.integer(p, "product_id", minimum=1)}


# --- create ---------------------------------------------------------------------------------


def create(
    call: Call, name: str, price: int, stock: int, category: str, seller_id: int | None
) -> Result:
    """Add an active product to a seller's catalogue (a seller's own, by default)."""
    if seller_id is None:
        seller_id = call.actor.tenant
        if seller_id is None:
            raise ValidationFailed("seller_id is required")
    if not policy.may_touch_tenant(call.actor, seller_id):
        raise ActionDenied("You may only add products to your own catalogue")
    with call.transaction("shop") as tx:
        if tx.execute(sa.select(sellers.c.id).where(sellers.c.id == seller_id)).first() is None:
            raise ValidationFailed(f"No seller {seller_id}")
        stamp = now_text()
        product_id = tx.execute(
            sa.insert(products).values(
                seller_id=seller_id,
                name=name,
                category=category,
                price=price,
                stock=stock,
                active=1,
                created_at=stamp,
                updated_at=stamp,
            )
        ).inserted_primary_key[0]
        call.target(product_id)
        tx.audit(
            "ok",
            {
                "seller_id": seller_id,
                "name": name,
                "category": category,
                "price": price,
                "stock": stock,
            },
        )
    return call.result(
        "ok", f"Product {product_id} created.", product_id=product_id, updated_at=stamp
    )


# --- update ---------------------------------------------------------------------------------


def update(
    call: Call,
    product_id: int,
    seller_id: int | None,
    expected_updated_at: str | None,
    **fields: Any,
) -> Result:
    """Change a product's name, price, stock or category; only what differs is written."""
    call.target(product_id)
    with call.transaction("shop") as tx:
        before = _product(call, tx.conn, product_id)
        if seller_id is not None and seller_id != before.seller_id:
            if not policy.may_touch_tenant(call.actor, seller_id):
                raise ActionDenied("You may not move a product to another seller")
            raise ValidationFailed("seller_id cannot be changed")
        current = _stamp(before.updated_at)
        if expected_updated_at is not None and expected_updated_at != current:
            raise Conflict(
                f"Product {product_id} was changed by someone else since you opened it; "
                "reload it and try again."
            )
        changes = {f: value for f, value in fields.items() if value != getattr(before, f)}
        stamp = current
        if changes:
            stamp = _next_stamp(current)
            tx.execute(
                sa.update(products)
                .where(products.c.id == product_id)
                .values(**changes, updated_at=stamp)
            )
        tx.audit(
            "ok",
            {
                "changed": sorted(changes),
                **{f: {"before": getattr(before, f), "after": changes[f]} for f in sorted(changes)},
            },
        )
    if not changes:
        return call.result(
            "ok", f"Product {product_id}: nothing changed.", changed=[], updated_at=stamp
        )
    return call.result(
        "ok",
        f"Product {product_id}: {', '.join(sorted(changes))} updated.",
        changed=sorted(changes),
        updated_at=stamp,
    )


# --- deactivate -----------------------------------------------------------------------------


def deactivate(call: Call, product_id: int) -> Result:
    """Take a product off sale (active -> inactive); its history stays."""
    call.target(product_id)
    with call.transaction("shop") as tx:
        before = _product(call, tx.conn, product_id)
        changed = tx.execute(
            sa.update(products)
            .where(products.c.id == product_id, products.c.active == 1)
            .values(active=0, updated_at=_next_stamp(_stamp(before.updated_at)))
        ).rowcount
        if changed != 1:
            raise Conflict(f"Product {product_id} is already inactive.")
        tx.audit("ok", {"active": {"before": True, "after": False}})
    return call.result("ok", f"Product {product_id} deactivated.", active=False)


ACTIONS = (
    Action(
        "product.create",
        "product",
        _validate_create,
        create,
        "Add a product to a seller's catalogue",
    ),
    Action(
        "product.update",
        "product",
        _validate_update,
        update,
        "Change a product's name, price, stock or category",
    ),
    Action(
        "product.deactivate", "product", _validate_deactivate, deactivate, "Take a product off sale"
    ),
)
