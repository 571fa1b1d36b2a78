"""Seller portal: a seller's own products (staff pick any seller); edit, create, deactivate."""

from lib.ui import seller as catalogue_view
from lib.ui.navigation import require

principal = require("seller")
catalogue_view.render(principal)
