"""The workflow declaration the workflow tests share, in one place: the shape of
workflows/customer_orders.toml (customers from the customer API, each one's orders from the
order API, a named query last), with the lines each test sets itself."""

from __future__ import annotations


def customer_orders(*, head: str, customers: str, orders: str, last: str) -> str:
    """A declaration: `head` (title, concurrency, combine, params), then the three steps,
    each with the lines given after its own (`last` names the third step and its query)."""
    return f"""
{head.strip()}

[[steps]]
name = "customers"
source = "customer_api"
path = "/customers"
{customers.strip()}

[[steps]]
name = "orders"
source = "order_api"
path = "/orders"
for_each = "customers"
key = "id"
{orders.strip()}

[[steps]]
{last.strip()}
"""
