"""Dashboard: revenue kept, orders and marketing spend over a date range, by customer segment."""

from lib.ui import dashboard
from lib.ui.navigation import require

dashboard.render(require("dashboard"))
