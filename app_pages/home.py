"""Home: the pages this user may open and, for staff, the sources behind the app."""

from lib.ui import home
from lib.ui.navigation import require

home.render(require(""))
