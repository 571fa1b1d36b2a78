"""Dashboard: KPIs with the change against the previous period, and the charts behind them,
for the view in the URL (dates, granularity, seller, segment, payment method); a seller sees
its own tenant's. Report downloads (XLSX, PDF) and, for admins, scheduling."""

from lib.ui import dashboard
from lib.ui.navigation import require

dashboard.render(require("dashboard"))
