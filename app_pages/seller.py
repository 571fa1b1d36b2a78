"""Seller portal: a seller's own products (staff pick any seller); edit, create, deactivate."""

from lib.ui import seller
from lib.ui.navigation import require

principal = require("seller")
seller.render(principal)
