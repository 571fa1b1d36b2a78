"""A Google Sheets target for sheet.export in tests: the fake Sheets v4 API over real HTTP,
and an ActionContext given the read engine and the `sheets` source that writes to it."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import threading
import tomllib
from dataclasses import replace
from pathlib import Path
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
    """An engine over the context's own crm and shop databases (and `sheets`, if given), with
    the shipped config's tables of those sources (live tables, snapshots, derived rollups)."""
    shipped = tomllib.loads((ROOT / "config" / "backoffice.toml").read_text(encoding="utf-8"))

    def sql(name: str) -> SourceConfig:
        url = ctx.databases[name].url.render_as_string(False)
        declared = {k: v for k, v in shipped["sources"][name].items() if k in ("tables", "derived")}
        return SourceConfig(name, "sql", options={"url": url, **declared})

    sources = [sql("crm"), sql("shop")]
    return Engine(sources + ([sheets] if sheets else []), ROOT / "queries")


def target(url: str, sheets: SourceConfig | None = None) -> SourceConfig:
    base = sheets or SourceConfig("sheets", "sheet")
    return replace(base, options={**base.options, "sheets_api_url": url, "timeout": 5})


def install(ctx: ActionContext) -> dict[str, Any]:
    """Give `ctx` an engine and the shared fake as its target; valid sheet.export params
    (a fresh spreadsheet in the fake) for the permission matrix."""
    url, store = shared_fake()
    # A one-row CSV sheet: what every role that may export may export (the Customers and
    # Orders lists are for the roles that may open those pages).
    folder = Path(tempfile.mkdtemp(prefix="matrix-sheet-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "targets.csv").write_text("month,target_krw\n2026-01,1000\n", encoding="utf-8")
    columns = {"month": "date", "target_krw": "int"}
    sheets = SourceConfig(
        "sheets",
        "sheet",
        options={"tables": {"targets": {"file": str(folder / "targets.csv"), "columns": columns}}},
    )
    ctx.engine = ctx.engine or sql_engine(ctx, sheets)
    ctx.sheet_target = target(url, sheets)
    key = f"matrix-sheet-{next(_ids)}"  # a key is 10 characters or more
    store[key] = {"Sheet1": []}
    return {"source": "sheets.targets", "spreadsheet": key, "worksheet": "Export", "mode": "create"}
