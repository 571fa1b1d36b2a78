"""Integrations: workflows across the back ends, their runs, and the back ends' health."""

from lib.ui import integrations
from lib.ui.navigation import require

integrations.render(require("integrations"))
