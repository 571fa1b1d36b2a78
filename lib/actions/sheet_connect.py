"""Connecting a sheet: an uploaded CSV/XLSX or a Google Sheet declared as a new table.

Writing a declaration changes the configuration every user reads, so it is an action like
any other write: granted in config/policy.toml (admins), its input checked here on the
server (the uploaded file read again, with the same limits the page applied), audited.
The declaration goes to a file beside the configuration (lib.config.sheet_declarations);
the upload is kept under the configured uploads directory as <table>.<request id><suffix>:
a name no other save uses, so when two admins connect the same name at once the one whose
declaration loses (declare is atomic) removes only its own file, never the winner's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.actions import validation as v
from lib.actions.base import Action, Call, Result
from lib.config import sheet_declarations as declarations
from lib.config.settings import load_settings
from lib.errors import SheetInvalid, ValidationFailed
from lib.reading.sources.cells import check_rows
from lib.reading.sources.sheet_upload import parse_google_url, read_sheet, suffix_of

KINDS = {"csv": ".csv", "xlsx": ".xlsx", "google": None}
MAX_WORKSHEET = 100  # characters of a worksheet's title (Google allows 100)


def _text(p: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = p.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(f"{name} must be text of at most {limit} characters")
    return value


def _validate(p: dict[str, Any]) -> dict[str, Any]:
    v.only(
        p, {"table", "kind", "columns", "filename", "data", "sheet", "spreadsheet_key", "worksheet"}
    )
    settings = load_settings()  # fresh: another admin may have declared this name a moment ago
    table = declarations.check_table(settings, p.get("table"))
    kind = str(v.choice(p, "kind", KINDS))
    columns = p.get("columns")
    declarations.check_spec({"file": "-", "columns": columns}, "columns")
    clean: dict[str, Any] = {"table": table, "kind": kind, "columns": dict(columns)}
    if kind == "google":
        if p.get("data") is not None or p.get("filename") is not None:
            raise ValidationFailed("a Google Sheet is connected by its key, not a file")
        try:
            key, _ = parse_google_url(str(p.get("spreadsheet_key") or ""))
        except SheetInvalid:
            raise ValidationFailed("spreadsheet_key is not a Google Sheets key") from None
        clean.update(spreadsheet_key=key, worksheet=_text(p, "worksheet", MAX_WORKSHEET))
        return {**clean, "settings": settings}
    filename, data = p.get("filename"), p.get("data")
    if not isinstance(filename, str) or not isinstance(data, bytes):
        raise ValidationFailed("an upload needs its file name and contents")
    if suffix_of(filename) != KINDS[kind]:
        raise ValidationFailed(f"kind {kind} needs a {KINDS[kind]} file")
    limits = declarations.options(settings)
    try:
        upload = read_sheet(
            filename,
            data,
            max_bytes=limits.max_upload_bytes,
            timeout_s=limits.read_timeout_s,
            sheet=_text(p, "sheet", MAX_WORKSHEET),
        )
        check_rows(upload.rows, clean["columns"])  # header problems raise; bad cells load NULL
    except SheetInvalid as exc:
        raise ValidationFailed(str(exc)) from None
    clean.update(data=data, sheet=upload.sheet)
    return {**clean, "settings": settings}


def connect(
    call: Call,
    table: str,
    kind: str,
    columns: dict[str, str],
    settings: Any,
    data: bytes | None = None,
    sheet: str | None = None,
    spreadsheet_key: str | None = None,
    worksheet: str | None = None,
) -> Result:
    """Keep the upload (if any) and write the declaration; undo both if either fails."""
    call.target(table)
    stored = None
    if data is not None:
        suffix = KINDS[kind] or ""
        named = declarations.upload_path(settings, table, suffix)  # checks name and suffix
        stored = named.with_name(f"{table}.{call.request_id}{suffix}")  # this save's own
        stored.parent.mkdir(parents=True, exist_ok=True)
        temp = stored.with_name(f".{stored.name}.tmp")
        temp.write_bytes(data)
        temp.replace(stored)
        spec = {"file": declarations.shown_path(stored), "sheet": sheet, "columns": columns}
    else:
        spec = {"spreadsheet_key": spreadsheet_key, "worksheet": worksheet, "columns": columns}
    declared = None
    try:
        declared = declarations.declare(settings, table, spec, by=call.actor.username)
        call.audit(
            "ok",
            {"table": table, "kind": kind, "columns": len(columns), "file": declared.name},
        )
    except BaseException:
        if declared is not None:
            declared.unlink(missing_ok=True)
        if stored is not None:
            stored.unlink(missing_ok=True)
        raise
    return call.result(
        "ok",
        f"Connected {table} ({len(columns)} columns); it is in the Sheets list now.",
        declaration=str(declared),
    )


ACTIONS = (
    Action(
        "sheet.connect",
        "table",
        _validate,
        connect,
        "Declare an uploaded CSV/XLSX or a Google Sheet as a new table (a configuration write)",
    ),
)
