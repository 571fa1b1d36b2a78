"""Seller portal: a seller's own products (staff pick any seller); edit, create, deactivate."""

from lib import catalogue_view
from lib.pages import require

principal = require("seller")
catalogue_view.render(principal)
