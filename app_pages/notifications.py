"""Notifications (admins): the messages sent and waiting, scheduled reports, the demo inbox."""

from lib.ui import notifications
from lib.ui.navigation import require

notifications.render(require("notifications"))
