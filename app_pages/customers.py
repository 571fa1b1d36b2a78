"""Customers: search and filter (personal data masked), one customer's orders, tickets and
profile, unmask with a reason, edit contact details."""

from lib.ui import customers as customers_view
from lib.ui.navigation import require

principal = require("customers")
customers_view.render(principal)
