"""sheet.export: a list, a sheet or a combined view, masked, into a Google Sheet worksheet.

Only what the user may export (lib.actions.export_data.allowed: the pages their role may
open) is read; anything else is denied and audited, nothing read or written.

The rows are read here, server side, by name (lib.actions.export_data): nothing the browser
sends becomes a cell. They are masked as the pages mask them, except what the user's active
unmask grants reveal on their records. The worksheet gets a header row (frozen) and typed
cells: numbers as numbers, dates and times as dates (USER_ENTERED with ISO text), text as
text behind a quote prefix (so "=HYPERLINK(...)" or "00123" stay the very text).

It writes through gspread's own calls (add_worksheet, clear, resize, update) with the
`sheets` source's client (lib.reading.sources.sheet.client_for, write scope). The audit row
names the spreadsheet, the worksheet, the source and the row count, never a value.
"""

from __future__ import annotations

import json
import re
from typing import Any

import gspread
import requests
from gspread.utils import ValueInputOption

from lib.actions import export_data
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.actions.context import ActionContext, current
from lib.errors import ActionFailed, Conflict, SourceUnavailable, ValidationFailed
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.sheet import client_for

MODES = ("create", "replace")
TITLE_MAX = 100  # Google's limit on a worksheet's title
_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")
_URL_KEY = re.compile(
    r"^https://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]{1,128})(?:[/?#]|$)"
)


def engine_of(ctx: ActionContext) -> Any:
    """The read engine exports come from: the context's, else the app's."""
    if ctx.engine is not None:
        return ctx.engine
    from lib.config import runtime

    return runtime.engine()


def target_of(ctx: ActionContext) -> SourceConfig | None:
    """The `sheets` source, whose Google access (service account or Sheets API URL) the
    export writes with; None when none is configured."""
    cfg = ctx.sheet_target
    if cfg is None:
        from lib.config import runtime

        try:
            cfg = runtime.settings().source(export_data.SHEETS)
        except Exception:  # no sheets source: nothing to write to
            return None
    return cfg if google_configured(cfg) else None


def google_configured(cfg: SourceConfig | None) -> bool:
    return cfg is not None and bool(
        cfg.options.get("sheets_api_url") or cfg.secrets.get("service_account_json")
    )


def spreadsheet_key(text: Any) -> str:
    """The key of a spreadsheet from its key or its docs.google.com link."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("spreadsheet is required: its link or its key")
    text = text.strip()
    if _KEY.fullmatch(text):
        return text
    match = _URL_KEY.match(text)
    if match is None:
        raise ValidationFailed(
            "spreadsheet: paste the link (https://docs.google.com/spreadsheets/d/…) or the key"
        )
    return match.group(1)


def worksheet_title(params: dict[str, Any]) -> str:
    title = v.text(params, "worksheet", max_len=TITLE_MAX)
    assert title is not None
    if any(not ch.isprintable() for ch in title):
        raise ValidationFailed("worksheet: the name holds characters that cannot be shown")
    return title


def _validate(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"source", "spreadsheet", "worksheet", "mode"})
    if not isinstance(p.get("source"), str | None):
        raise ValidationFailed("source must be the name of a list or a sheet")
    # Names only; whether this user may export it (its page) is checked with the actor, in
    # `export`, before anything is read (denied and audited).
    source = v.choice(p, "source", export_data.every(engine_of(current())))
    return {
        "source": source,
        "spreadsheet": spreadsheet_key(p.get("spreadsheet")),
        "worksheet": worksheet_title(p),
        "mode": v.choice(p, "mode", MODES),
    }


def export(call: Call, source: str, spreadsheet: str, worksheet: str, mode: str) -> Result:
    ctx = call.ctx
    call.target(f"{spreadsheet}/{worksheet}"[:64])
    item = export_data.allowed(engine_of(ctx), call.actor, source)  # ActionDenied
    cfg = target_of(ctx)
    if cfg is None:
        raise ActionFailed("No Google Sheets access is configured (the sheets source).")
    engine = engine_of(ctx)
    try:
        df = export_data.read(engine, item)
    except SourceUnavailable as exc:
        raise ActionFailed(str(exc)) from None
    if len(df) > export_data.MAX_ROWS:
        raise ActionFailed(f"{item.label} has over {export_data.MAX_ROWS:,} rows; filter it first.")
    df, unmasked = export_data.masked(df, item, export_data.grants(ctx.audit, call.actor))
    cells = export_data.sheet_cells(export_data.typed(df, item))
    created = _write(cfg, spreadsheet, worksheet, cells, mode)
    rows = len(cells) - 1
    call.audit(
        "ok",
        {
            "source": source,
            "spreadsheet": spreadsheet,
            "worksheet": worksheet,
            "mode": mode,
            "created": created,
            "rows": rows,
            "columns": len(df.columns),
            "unmasked_rows": unmasked,
        },
    )
    verb = "Created" if created else "Replaced"
    return call.result(
        "ok",
        f"{verb} worksheet '{worksheet}' with {rows:,} rows of {item.label}.",
        rows=rows,
        created=created,
        spreadsheet=spreadsheet,
        worksheet=worksheet,
    )


def _write(cfg: SourceConfig, key: str, title: str, cells: list[list[Any]], mode: str) -> bool:
    """Write `cells` (header first) to worksheet `title`; True when it was created."""
    client = client_for(cfg, write=True)
    try:
        spreadsheet = client.open_by_key(key)
        try:
            worksheet: gspread.Worksheet | None = spreadsheet.worksheet(title)
        except gspread.exceptions.WorksheetNotFound:
            worksheet = None
        if worksheet is not None and mode == "create":
            raise Conflict(
                f"The spreadsheet already has a worksheet '{title}'; choose Replace to "
                "overwrite it, or another name."
            )
        rows, cols = len(cells), max(len(cells[0]), 1)
        created = worksheet is None
        if worksheet is None:
            worksheet = spreadsheet.add_worksheet(title, rows=rows, cols=cols)
        else:
            worksheet.clear()
            worksheet.resize(rows=rows, cols=cols)
        worksheet.update(cells, "A1", value_input_option=ValueInputOption.user_entered)
        worksheet.freeze(rows=1)
        return created
    except Conflict:
        raise
    except Exception as exc:
        reason = _reason(cfg, exc)
        if reason is None:
            raise
        raise ActionFailed(f"Google Sheets: {reason}") from None
    finally:
        client.http_client.session.close()


def _service_account(cfg: SourceConfig) -> str:
    try:
        email = json.loads(cfg.secrets.get("service_account_json") or "{}").get("client_email")
    except (ValueError, AttributeError):
        email = None
    return f"the service account {email}" if isinstance(email, str) else "the service account"


def _reason(cfg: SourceConfig, exc: Exception) -> str | None:
    """One line for a failure that is the spreadsheet's or the network's; None for a bug."""
    share = f"share it with {_service_account(cfg)} as an editor"
    if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
        return f"spreadsheet not found, or not shared: {share}"
    if isinstance(exc, PermissionError):
        return f"no permission to write to the spreadsheet: {share}"
    if isinstance(exc, gspread.exceptions.APIError):
        if exc.code == 403:
            return f"no permission to write to the spreadsheet: {share}"
        message = " ".join(str(exc.error.get("message", "")).split())[:100]
        return f"API error {exc.code}: {message}".rstrip(": ")
    if isinstance(exc, requests.Timeout):
        return "the API did not answer in time; nothing may have been written, try again"
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the API ({type(exc).__name__})"
    if isinstance(exc, SourceUnavailable):
        return exc.reason
    return None


ACTIONS = (
    Action(
        "sheet.export",
        "worksheet",
        _validate,
        export,
        "Write a list or a sheet, masked, to a Google Sheet worksheet (create or replace)",
    ),
)
