"""Orders & payments: filter orders, approve / reject / refund them, see each payment."""

from lib.ui import orders as orders_view
from lib.ui.navigation import require

principal = require("orders")
orders_view.render(principal)
