"""Deterministic demo data: customers, sellers, products, orders, payments, refunds, spend,
sales, tickets.

Every function is pure: it returns new lists of plain dicts (keys in column order) and draws from
its own `random.Random` seeded from base.SEED and the function's name, so changing one generator
does not shift the numbers of another. Timestamps are UTC text, 'YYYY-MM-DD HH:MM:SS' for the SQL
tables and 'YYYY-MM-DDTHH:MM:SSZ' for the tickets (MongoDB-style documents).

One module per group of tables: people (customers), shop (sellers, products, orders, payments,
refunds), monthly (marketing spend, store sales), support (tickets); base holds what they share.

Bump DATA_VERSION whenever the output changes: the seeder rebuilds demo files whose version
differs and leaves current ones (and the edits made to them) alone.
"""

from __future__ import annotations

from lib.demo.data import monthly, people, shop, support
from lib.demo.data.base import Row, without_cyclic_gc

# 2: refunds with reasons behind the refunded orders; 3: search keys and list indexes
# (lib.records.schema), any size
DATA_VERSION = "3"


@without_cyclic_gc
def generate(
    orders: int = shop.ORDER_COUNT, customers: int = people.CUSTOMER_COUNT
) -> dict[str, list[Row]]:
    """All demo data, keyed by table (or file) name: `orders` orders (and their payments and
    refunds) of `customers` customers; the other tables keep their sizes. The same sizes give
    the same rows."""
    if orders < 1 or customers < 1:
        raise ValueError("the demo needs at least one order and one customer")
    customer_rows = people.customers(customers)
    product_rows = shop.products()
    order_rows = shop.orders(customer_rows, product_rows, orders)
    payment_rows = shop.payments(order_rows)
    return {
        "customers": customer_rows,
        "sellers": shop.sellers(),
        "products": product_rows,
        "orders": order_rows,
        "payments": payment_rows,
        "refunds": shop.refunds(order_rows, payment_rows),
        "marketing_spend": monthly.marketing_spend(),
        "store_sales": monthly.store_sales(),
        "tickets": support.tickets(customer_rows),
    }
