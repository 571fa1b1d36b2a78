"""The demo shop's tables: sellers, products, orders and their payments."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from itertools import accumulate

from lib.demo.data.base import (
    END_TS,
    SEASON,
    START_TS,
    Row,
    apportion,
    later,
    month_starts,
    next_month,
    seeded_rng,
    sql_ts,
    weighted,
)

ORDER_COUNT = 20000
PENDING_RECENT_SINCE = "2026-09-01"  # operators work through older orders; pending ones are recent
PAYMENT_STATUS = {
    "pending": "DONE",  # paid at checkout, waiting for an operator's approval
    "approved": "DONE",
    "rejected": "ABORTED",
    "refunded": "CANCELED",
    "partially_refunded": "PARTIAL_CANCELED",
}
MONTHLY_GROWTH = 1.07

SELLERS: list[Row] = [
    {"id": 1, "name": "Seoul Style Co.", "email": "partners@seoulstyle.example.com"},
    {"id": 2, "name": "Hangang Electronics", "email": "sales@hangang-electronics.example.net"},
    {"id": 3, "name": "Jeju Market", "email": "hello@jejumarket.example.org"},
]

# category -> (KRW price range, item names)
CATALOGUE: dict[str, tuple[int, int, list[str]]] = {
    "fashion": (19_000, 189_000, [
        "Linen Shirt", "Denim Jacket", "Wool Coat", "Cotton Tee", "Pleated Skirt", "Chino Pants",
        "Knit Cardigan", "Leather Belt", "Canvas Sneakers", "Silk Scarf"]),
    "beauty": (9_000, 69_000, [
        "Vitamin C Serum", "Sheet Mask Set", "Sunscreen SPF50", "Cushion Foundation", "Lip Tint",
        "Toner Pads", "Cleansing Oil", "Hand Cream", "Eye Cream", "Hair Essence"]),
    "electronics": (19_000, 399_000, [
        "Wireless Earbuds", "Bluetooth Speaker", "Power Bank 10000mAh", "USB-C Charger",
        "Smart Watch", "Mechanical Keyboard", "Webcam", "Portable SSD", "LED Desk Lamp",
        "Noise Cancelling Headphones"]),
    "home": (8_000, 129_000, [
        "Cotton Towel Set", "Ceramic Mug", "Scented Candle", "Bamboo Cutting Board",
        "Memory Foam Pillow", "Linen Curtain", "Storage Basket", "Stainless Tumbler",
        "Glass Food Container", "Throw Blanket"]),
    "food": (9_000, 159_000, [
        "Jeju Tangerines 3kg", "Korean Pear Gift Set", "Green Tea 100g", "Kimchi 2kg",
        "Hanwoo Beef Gift Set", "Wildflower Honey 500g", "Roasted Seaweed 20 Packs", "Rice 10kg",
        "Citron Tea 1kg", "Dried Persimmons"]),
    "sports": (9_000, 249_000, [
        "Yoga Mat", "Running Shoes", "Dumbbell Set", "Hiking Backpack", "Cycling Gloves",
        "Jump Rope", "Resistance Bands", "Tennis Racket", "Swim Goggles", "Camping Chair"]),
}  # fmt: skip
PRODUCT_VARIANTS = [
    "Classic", "Premium", "Everyday", "Mini", "Pro", "Signature", "Essential", "Deluxe", "Lite",
    "Eco", "Urban", "Travel",
]  # fmt: skip
# Each seller has a focus, together they cover every category.
SELLER_CATEGORY_MIX = {
    1: {"fashion": 22, "beauty": 18, "sports": 10},
    2: {"electronics": 25, "home": 20, "sports": 5},
    3: {"food": 30, "home": 10, "beauty": 10},
}


def sellers() -> list[Row]:
    """The three demo sellers; the tenant id of seller N is N."""
    return [dict(s) for s in SELLERS]


def products() -> list[Row]:
    """150 products, 50 per seller, ids 1..50 for seller 1, 51..100 for seller 2, and so on."""
    rng = seeded_rng("products")
    rows: list[Row] = []
    created_lo = datetime(2024, 6, 1)
    created_span = int((START_TS - created_lo).total_seconds()) - 1  # all exist before any order
    for seller in SELLERS:
        categories = [c for c, n in SELLER_CATEGORY_MIX[seller["id"]].items() for _ in range(n)]
        used_names: set[str] = set()
        for category in categories:
            lo, hi, items = CATALOGUE[category]
            while True:
                name = f"{rng.choice(PRODUCT_VARIANTS)} {rng.choice(items)}"
                if name not in used_names:
                    used_names.add(name)
                    break
            # Prices like 29,000 or 28,900: whole thousands, sometimes just under.
            price = rng.randint(lo // 1000, hi // 1000) * 1000 - (100 if rng.random() < 0.5 else 0)
            created = created_lo + timedelta(seconds=rng.randint(0, created_span))
            updated = created + timedelta(
                seconds=rng.randint(0, int((END_TS - created).total_seconds()))
            )
            rows.append(
                {
                    "id": len(rows) + 1,
                    "seller_id": seller["id"],
                    "name": name,
                    "category": category,
                    "price": price,
                    "stock": 0 if rng.random() < 0.08 else rng.randint(1, 500),
                    "active": 0 if rng.random() < 0.08 else 1,
                    "created_at": sql_ts(created),
                    "updated_at": sql_ts(updated),
                }
            )
    return rows


def orders(
    customer_rows: list[Row], product_rows: list[Row], count: int = ORDER_COUNT
) -> list[Row]:
    """`count` orders (20000 by default) over 2025-05 .. 2026-10, growing month by month, ids
    in time order.

    Each order's customer had signed up by the order's day; amount = price * quantity and the
    seller is the product's. Pending orders are mostly from the last two months.
    """
    rng = seeded_rng("orders")
    months = month_starts()
    weights = [MONTHLY_GROWTH**i * SEASON.get(m.month, 1.0) for i, m in enumerate(months)]
    times: list[datetime] = []
    for month, in_month in zip(months, apportion(count, weights), strict=True):
        start, end = (datetime(d.year, d.month, 1) for d in (month, next_month(month)))
        span = int((end - start).total_seconds())
        times.extend(start + timedelta(seconds=rng.randrange(span)) for _ in range(in_month))
    times.sort()
    stamps = [sql_ts(t) for t in times]

    # Customers by signup date, with cumulative weights, so "anyone signed up by day D" is a
    # prefix and a weighted pick from it is one bisect.
    by_signup = sorted(customer_rows, key=lambda c: (c["signup_date"], c["id"]))
    signups = [c["signup_date"] for c in by_signup]
    segment_weight = {"vip": 5.0, "regular": 1.5, "new": 1.5, "dormant": 0.3}
    status_weight = {"active": 1.0, "inactive": 0.4, "blocked": 0.1}
    cum_weights = list(
        accumulate(segment_weight[c["segment"]] * status_weight[c["status"]] for c in by_signup)
    )

    popularity = [rng.lognormvariate(0, 0.8) for _ in product_rows]
    picked_products = rng.choices(product_rows, popularity, k=len(times))
    quantities = rng.choices((1, 2, 3, 4, 5), (60, 22, 10, 5, 3), k=len(times))

    n_recent = sum(s >= PENDING_RECENT_SINCE for s in stamps)
    p_pending_old = 0.01
    p_pending_recent = min(
        0.9, (0.06 * len(stamps) - p_pending_old * (len(stamps) - n_recent)) / max(n_recent, 1)
    )
    settled = weighted(
        rng, ("approved", "rejected", "refunded", "partially_refunded"), (80, 4, 6, 4)
    )

    rows: list[Row] = []
    for i, (ts, stamp) in enumerate(zip(times, stamps, strict=True)):
        k = bisect_right(signups, stamp[:10])
        pick = bisect_right(cum_weights, rng.random() * cum_weights[k - 1], 0, k)
        customer = by_signup[min(pick, k - 1)]
        product = picked_products[i]
        p_pending = p_pending_recent if stamp >= PENDING_RECENT_SINCE else p_pending_old
        if rng.random() < p_pending:
            status, updated = "pending", ts
        else:
            status = settled()
            if status == "approved":
                updated = later(rng, ts, 60, 2 * 3600)
            elif status == "rejected":
                updated = later(rng, ts, 600, 2 * 86400)
            else:
                updated = later(rng, ts, 86400, 20 * 86400)
        rows.append(
            {
                "id": i + 1,
                "customer_id": customer["id"],
                "seller_id": product["seller_id"],
                "product_id": product["id"],
                "quantity": quantities[i],
                "amount": product["price"] * quantities[i],
                "status": status,
                "ordered_at": stamp,
                "updated_at": sql_ts(updated),
            }
        )
    return rows


def payments(order_rows: list[Row]) -> list[Row]:
    """One payment per order; status and balance follow the order status (see PAYMENT_STATUS)."""
    rng = seeded_rng("payments")
    method = weighted(rng, ("card", "easy_pay", "transfer", "virtual_account"), (55, 25, 12, 8))
    used_keys: set[str] = set()
    rows: list[Row] = []
    for order in order_rows:
        while True:
            key = f"tpk_{rng.getrandbits(80):020x}"
            if key not in used_keys:
                used_keys.add(key)
                break
        amount = order["amount"]
        status = PAYMENT_STATUS[order["status"]]
        if status == "DONE":
            balance = amount
        elif status == "PARTIAL_CANCELED":
            refund = round(amount * rng.uniform(0.1, 0.7) / 100) * 100
            balance = amount - min(max(refund, 100), amount - 100)
        else:
            balance = 0
        ordered = datetime.fromisoformat(order["ordered_at"])
        rows.append(
            {
                "payment_key": key,
                "order_id": order["id"],
                "amount": amount,
                "balance_amount": balance,
                "method": method(),
                "status": status,
                "approved_at": sql_ts(later(rng, ordered, 5, 90)),
            }
        )
    return rows


# Why customers got their money back, and how often (weights); the dashboard groups them.
REFUND_REASONS: dict[str, int] = {
    "Arrived damaged": 16,
    "Defective on arrival": 12,
    "Wrong size": 14,
    "Wrong item sent": 8,
    "Arrived late": 10,
    "Changed my mind": 18,
    "Found cheaper elsewhere": 8,
    "Duplicate order": 5,
    "Not as described": 6,
    "Missing parts": 3,
}


def refunds(order_rows: list[Row], payment_rows: list[Row]) -> list[Row]:
    """The refund behind each refunded or partially refunded order, as the app records one
    it made: done, for what the payment lost (amount - balance), at the order's last change.
    One cancel each, as the gateway sandbox seeds its ledger from these payments."""
    rng = seeded_rng("refunds")
    reasons = list(REFUND_REASONS)
    reason = {
        "refunded": weighted(rng, reasons, list(REFUND_REASONS.values())),
        # A duplicate order is refunded whole.
        "partially_refunded": weighted(
            rng, reasons, [0 if r == "Duplicate order" else w for r, w in REFUND_REASONS.items()]
        ),
    }
    by_order = {p["order_id"]: p for p in payment_rows}
    rows: list[Row] = []
    for order in order_rows:
        if order["status"] not in ("refunded", "partially_refunded"):
            continue
        payment = by_order[order["id"]]
        rows.append(
            {
                "id": len(rows) + 1,
                "order_id": order["id"],
                "payment_key": payment["payment_key"],
                "amount": payment["amount"] - payment["balance_amount"],
                "reason": reason[order["status"]](),
                "idempotency_key": f"seed-{order['id']}",
                "status": "done",
                "requested_by": "seed",
                "requested_at": order["updated_at"],
                "settled_at": order["updated_at"],
                "gateway_code": None,
                "cancels_before": 0,
                "cancels_after": 1,
                "rejects_order": False,
            }
        )
    return rows
