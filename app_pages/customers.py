"""Customers: search and filter (personal data masked), one customer's orders, tickets and
profile, unmask with a reason, edit contact details."""

from lib import customers_view
from lib.pages import require

principal = require("customers")
customers_view.render(principal)
