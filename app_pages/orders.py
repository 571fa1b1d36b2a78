"""Orders & payments: filter orders, approve / reject / refund them, see each payment."""

from lib import orders_view
from lib.pages import require

principal = require("orders")
orders_view.render(principal)
