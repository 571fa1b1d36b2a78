"""sheet.export: a list, a sheet or a combined view, masked, into a Google Sheet worksheet.

Only what the user may export (lib.actions.export_data.allowed: the pages their role may
open) is read; anything else is denied and audited, nothing read or written. A combination
of the user's own (source `combine.custom`) comes as its choices, the Combine URL's, parsed
by lib.reading.combine.combination against the actor's catalogue (a table they may not
combine is denied) and rebuilt here.

The rows are read here, server side, by name (lib.actions.export_data): nothing the browser
sends becomes a cell. They are masked as the pages mask them, except what the user's active
unmask grants reveal on their records. The worksheet gets a header row (frozen) and typed
cells: numbers as numbers, dates and times as dates (USER_ENTERED with ISO text), text as
text behind a quote prefix (so "=HYPERLINK(...)" or "00123" stay the very text).

It writes through gspread's own calls (add_worksheet, clear, resize, update, freeze) with
the `sheets` source's client (lib.reading.sources.google_sheets, write scope), each call
tried again while Google answers 429. The audit rows name the spreadsheet, the worksheet,
the source and the row count, never a value (a worksheet title that looks like personal
data is refused): `requested` before the first write, then what became of it: `ok`,
`failed` (Google refused; what had been written by then is named) or `unknown` (an answer
that never came: the write may have happened).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import gspread
import requests
import urllib3
from gspread.utils import ValueInputOption

from lib.access.masking import looks_like_raw_pii
from lib.actions import export_data
from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.actions.context import ActionContext, current
from lib.errors import ActionFailed, Conflict, SourceUnavailable, ValidationFailed
from lib.reading import combine as cb
from lib.reading.sources import google_sheets
from lib.reading.sources.base import SourceConfig

log = logging.getLogger(__name__)

MODES = ("create", "replace")
TITLE_MAX = 100  # Google's limit on a worksheet's title


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
    try:
        key, _ = google_sheets.parse_google_url(text)
    except google_sheets.LinkInvalid:
        raise ValidationFailed(
            "spreadsheet: paste the link (https://docs.google.com/spreadsheets/d/…) or the key"
        ) from None
    return key


def worksheet_title(params: dict[str, Any]) -> str:
    title = v.text(params, "worksheet", max_len=TITLE_MAX)
    assert title is not None
    if any(not ch.isprintable() for ch in title):
        raise ValidationFailed("worksheet: the name holds characters that cannot be shown")
    if looks_like_raw_pii(title):
        # It would be written to Google and to the audit log (which refuses it) alike.
        raise ValidationFailed(
            "worksheet: the name looks like personal data (an e-mail address or a phone "
            "number); name the worksheet after what it holds"
        )
    return title


def _validate(p: dict[str, Any]) -> dict[str, Any]:
    v.only(p, {"source", "spreadsheet", "worksheet", "mode", "combination"})
    if not isinstance(p.get("source"), str | None):
        raise ValidationFailed("source must be the name of a list or a sheet")
    # Names only; whether this user may export it (its page, or for a combination its
    # tables) is checked with the actor, in `export`, before anything is read (denied and
    # audited).
    source = v.choice(p, "source", [*export_data.every(engine_of(current())), export_data.CUSTOM])
    return {
        "source": source,
        "spreadsheet": spreadsheet_key(p.get("spreadsheet")),
        "worksheet": worksheet_title(p),
        "mode": v.choice(p, "mode", MODES),
        "combination": _choices(source, p.get("combination")),
    }


def _choices(source: str, choices: Any) -> dict[str, Any] | None:
    """A custom combination's choices, shaped as lib.reading.combine.combination takes them
    (which checks them against the actor's catalogue in `export`); None for any other source."""
    if source != export_data.CUSTOM:
        if choices is not None:
            raise ValidationFailed(f"combination is only for source {export_data.CUSTOM}")
        return None
    if not isinstance(choices, Mapping):
        raise ValidationFailed("combination is required: its tables, keys and measures")
    v.only(choices, cb.CHOICES)
    return dict(choices)


def export(
    call: Call,
    source: str,
    spreadsheet: str,
    worksheet: str,
    mode: str,
    combination: dict[str, Any] | None = None,
) -> Result:
    ctx = call.ctx
    call.target(f"{spreadsheet}/{worksheet}"[:64])
    engine = engine_of(ctx)
    if combination is None:
        item = export_data.allowed(engine, call.actor, source)  # ActionDenied
    cfg = target_of(ctx)
    if cfg is None:
        raise ActionFailed("No Google Sheets access is configured (the sheets source).")
    try:
        if combination is None:
            df = export_data.read(engine, item)
        else:  # ActionDenied for a table not the actor's to combine, before any read
            item, df = export_data.combined(engine, call.actor, combination)
    except SourceUnavailable as exc:
        raise ActionFailed(str(exc)) from None
    if len(df) > export_data.MAX_ROWS:
        raise ActionFailed(f"{item.label} has over {export_data.MAX_ROWS:,} rows; filter it first.")
    df, unmasked = export_data.masked(df, item, export_data.grants(ctx.audit, call.actor))
    cells = export_data.sheet_cells(export_data.typed(df, item))
    detail = {
        "source": source,
        "spreadsheet": spreadsheet,
        "worksheet": worksheet,
        "mode": mode,
        "rows": len(cells) - 1,
        "columns": len(df.columns),
        "unmasked_rows": unmasked,
    }
    if combination is not None:  # names from the actor's catalogue, never a value
        detail["combination"] = combination
    return _write(call, cfg, cells, detail, item.label)


def _write(
    call: Call, cfg: SourceConfig, cells: list[list[Any]], detail: dict[str, Any], label: str
) -> Result:
    """Write `cells` (header first) to the worksheet: read what is there, record the export
    as requested, write, and record what became of it."""
    key, title, mode = detail["spreadsheet"], detail["worksheet"], detail["mode"]
    backoff = google_sheets.Backoff.of(cfg)
    try:
        client = google_sheets.client_for(cfg, write=True)
    except SourceUnavailable as exc:
        raise ActionFailed(f"Google Sheets: {exc.reason}. Nothing was written.") from None
    try:
        try:
            spreadsheet = google_sheets.retrying(lambda: client.open_by_key(key), backoff)
            existing = _worksheet(spreadsheet, title, backoff)
        except Exception as exc:  # reads only so far: nothing was written
            reason = google_sheets.reason(cfg, exc, worksheet=title, write=True)
            if reason is None:
                raise
            raise ActionFailed(f"Google Sheets: {reason}. Nothing was written.") from None
        if existing is not None and mode == "create":
            raise Conflict(
                f"The spreadsheet already has a worksheet '{title}'; choose Replace to "
                "overwrite it, or another name."
            )
        detail = {**detail, "created": existing is None}
        # Before anything reaches Google: if this row cannot be written, nothing is.
        call.audit("requested", detail)
        try:
            return _written(call, cfg, spreadsheet, existing, cells, detail, label, backoff)
        except Exception:  # after `requested` the worksheet may have changed: never "nothing"
            return _unexpected(call, detail)
    finally:
        _close(client, call)


def _written(
    call: Call,
    cfg: SourceConfig,
    spreadsheet: gspread.Spreadsheet,
    existing: gspread.Worksheet | None,
    cells: list[list[Any]],
    detail: dict[str, Any],
    label: str,
    backoff: google_sheets.Backoff,
) -> Result:
    """Write, and record and say what became of it."""
    title = detail["worksheet"]
    done: list[str] = []
    try:
        _put(spreadsheet, existing, title, cells, backoff, done)
    except Exception as exc:
        return _not_written(call, cfg, exc, detail, done)
    rows = detail["rows"]
    verb = "Created" if detail["created"] else "Replaced"
    message = f"{verb} worksheet '{title}' with {rows:,} rows of {label}."
    return call.result(
        "ok",
        message + _settle(call, "ok", detail),
        rows=rows,
        created=detail["created"],
        spreadsheet=detail["spreadsheet"],
        worksheet=title,
    )


def _unexpected(call: Call, detail: dict[str, Any]) -> Result:
    """An error of our own after `requested` (not Google's answer): the writes may have run."""
    log.exception("sheet.export: failed after the request (request %s)", call.request_id)
    ref = call.request_id[:8]
    note = _settle(call, "unknown", {**detail, "error": "internal error", "written": "unknown"})
    return call.result(
        "unknown",
        f"sheet.export stopped on an unexpected error (request {ref}) after it began "
        f"writing: the worksheet '{detail['worksheet']}' may have been changed; check it "
        f"and export again with Replace if needed.{note}",
    )


def _close(client: Any, call: Call) -> None:
    """Close the client's connections. The export's outcome is settled by now (or this is
    before any write), so a failure to close is logged, never made the outcome."""
    try:
        client.http_client.session.close()
    except Exception:
        log.exception("sheet.export: closing the Google client failed (request %s)",
                      call.request_id)  # fmt: skip


def _worksheet(
    spreadsheet: gspread.Spreadsheet, title: str, backoff: google_sheets.Backoff
) -> gspread.Worksheet | None:
    try:
        return google_sheets.retrying(lambda: spreadsheet.worksheet(title), backoff)
    except gspread.exceptions.WorksheetNotFound:
        return None


def _put(
    spreadsheet: gspread.Spreadsheet,
    worksheet: gspread.Worksheet | None,
    title: str,
    cells: list[list[Any]],
    backoff: google_sheets.Backoff,
    done: list[str],
) -> None:
    """The writes, each retried on a 429 (a refused request changed nothing); `done` names
    each one Google has applied, so a failure can say what is there."""
    retrying = google_sheets.retrying
    rows, cols = len(cells), max(len(cells[0]), 1)
    if worksheet is None:
        sheet = retrying(lambda: spreadsheet.add_worksheet(title, rows=rows, cols=cols), backoff)
        done.append(f"created worksheet '{title}'")
    else:
        sheet = worksheet
        retrying(sheet.clear, backoff)
        done.append(f"cleared worksheet '{title}'")
        retrying(lambda: sheet.resize(rows=rows, cols=cols), backoff)
        done.append("resized it")
    retrying(
        lambda: sheet.update(cells, "A1", value_input_option=ValueInputOption.user_entered),
        backoff,
    )
    done.append(f"wrote its {rows - 1:,} rows")
    retrying(lambda: sheet.freeze(rows=1), backoff)


def _not_written(
    call: Call, cfg: SourceConfig, exc: Exception, detail: dict[str, Any], done: list[str]
) -> Result:
    """The outcome of a write that failed: `failed` when Google certainly did not apply the
    failing request (saying what it had applied before), else `unknown`."""
    title = detail["worksheet"]
    reason = google_sheets.reason(cfg, exc, worksheet=title, write=True)
    if reason is None:
        log.exception("sheet.export: writing failed (request %s)", call.request_id)
        reason = f"the write stopped on an unexpected error (request {call.request_id[:8]})"
    if _not_applied(exc):
        written = "; ".join(done) if done else "nothing"
        note = _settle(call, "failed", {**detail, "error": reason, "written": written})
        if not done:
            return call.result("failed", f"Google Sheets: {reason}. Nothing was written.{note}")
        return call.result(
            "failed",
            f"Google Sheets: {reason}. The export stopped part way (it {written}); check "
            f"worksheet '{title}' and export again with Replace.{note}",
        )
    written = "; ".join([*done, "then maybe more"]) if done else "unknown"
    note = _settle(call, "unknown", {**detail, "error": reason, "written": written})
    return call.result(
        "unknown",
        f"Google Sheets: {reason}. Google did not say whether the write went through, so "
        f"worksheet '{title}' may be changed or incomplete; open the spreadsheet to check "
        f"and export again with Replace if needed.{note}",
    )


def _not_applied(exc: Exception) -> bool:
    """Whether the failed request certainly changed nothing: Google answered it with a
    refusal (4xx), or it never reached Google (no connection could be made). A timeout,
    a dropped connection or a 5xx may each follow a write that happened."""
    if isinstance(exc, gspread.exceptions.APIError):
        return exc.code < 500
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        cause = exc.args[0]
        return isinstance(getattr(cause, "reason", cause), urllib3.exceptions.NewConnectionError)
    return False


def _settle(call: Call, outcome: str, detail: Mapping[str, Any]) -> str:
    """Record the outcome after the write; '' or, if the audit log refused it, a note for the
    user (the write stands and its `requested` row is there, so this is not a failure)."""
    try:
        call.audit(outcome, detail)
    except Exception:
        log.exception("sheet.export: the %s audit row was not written (request %s)",
                      outcome, call.request_id)  # fmt: skip
        return f" The audit log did not record this outcome (request {call.request_id[:8]})."
    return ""


ACTIONS = (
    Action(
        "sheet.export",
        "worksheet",
        _validate,
        export,
        "Write a list, a sheet or a combination, masked, to a Google Sheet worksheet "
        "(create or replace)",
    ),
)
