"""A Google Sheets target for sheet.export in tests: the fake Sheets v4 API over real HTTP,
and an ActionContext given the read engine and the `sheets` source that writes to it."""

from __future__ import annotations

import atexit
import itertools
import threading
from dataclasses import replace
from typing import Any

from lib.actions.context import ActionContext
from lib.config.settings import ROOT
from lib.reading.engine import Engine
from lib.reading.sources.base import SourceConfig
from tests.fakes.server import start_app_in_thread
from tests.fakes.sheets_api import create_app

_lock = threading.Lock()
_shared: dict[str, Any] = {}
_ids = itertools.count(1)


def shared_fake() -> tuple[str, dict[str, dict[str, Any]]]:
    """One fake for the process (URL, store), started on first use, stopped at exit."""
    with _lock:
        if not _shared:
            store: dict[str, dict[str, Any]] = {}
            url, stop = start_app_in_thread(create_app(store))
            atexit.register(stop)
            _shared.update(url=url, store=store)
        return _shared["url"], _shared["store"]


def sql_engine(ctx: ActionContext, sheets: SourceConfig | None = None) -> Engine:
    """An engine over the context's own crm and shop databases (and `sheets`, if given)."""

    def sql(name: str, tables: tuple[str, ...]) -> SourceConfig:
        url = ctx.databases[name].url.render_as_string(False)
        return SourceConfig(
            name, "sql", options={"url": url, "tables": {t: {"mode": "live"} for t in tables}}
        )

    sources = [sql("crm", ("customers",)), sql("shop", ("orders", "payments", "sellers"))]
    return Engine(sources + ([sheets] if sheets else []), ROOT / "queries")


def target(url: str, sheets: SourceConfig | None = None) -> SourceConfig:
    base = sheets or SourceConfig("sheets", "sheet")
    return replace(base, options={**base.options, "sheets_api_url": url, "timeout": 5})


def install(ctx: ActionContext) -> dict[str, Any]:
    """Give `ctx` an engine and the shared fake as its target; valid sheet.export params
    (a fresh spreadsheet in the fake) for the permission matrix."""
    url, store = shared_fake()
    ctx.engine = ctx.engine or sql_engine(ctx)
    ctx.sheet_target = target(url)
    key = f"matrix{next(_ids)}"
    store[key] = {"Sheet1": []}
    return {"source": "customers", "spreadsheet": key, "worksheet": "Export", "mode": "create"}
