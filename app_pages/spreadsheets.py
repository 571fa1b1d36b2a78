"""Spreadsheets: the declared sheets, combine and chart them, import, export, connect."""

from lib.ui import spreadsheets
from lib.ui.navigation import require

spreadsheets.render(require("spreadsheets"))
