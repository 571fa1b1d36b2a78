"""Audit log: who did what, filterable, exportable, with a check of the hash chain."""

from lib.ui import audit
from lib.ui.navigation import require

audit.render(require("audit"))
