"""Sheets declared from the Spreadsheets page: one TOML file per table, loaded with the settings.

The configuration file says where (all optional):

    [sheets]
    source = "sheets"                  # the `sheet` source the declared tables join
    declarations = "config/sheets.d"   # default: sheets.d beside the configuration file
    uploads = "var/sheets"             # where uploaded CSV/XLSX files are kept
    max_upload_mb = 20
    read_timeout_s = 10

A declaration file `<table>.toml` holds what a `[sources.<source>.tables.<table>]` table
would: `file` (+ `sheet`) or `spreadsheet_key` (+ `worksheet`), and `columns`. The files sit
with the configuration, not in a browser session, so every process and every restart sees
them; the demo keeps them under var/demo (config/backoffice.toml) so clicking in the demo
never changes the repository's config/.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lib.errors import ConfigError, ValidationFailed
from lib.reading.sources.cells import TYPES

if TYPE_CHECKING:
    from lib.config.settings import Settings

log = logging.getLogger(__name__)

SECTION = "sheets"
TABLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_HEADER = 200  # characters of one column name
_ROOT = Path(__file__).resolve().parents[2]
# What a table of each source kind is listed under in its source's options.
_TABLE_KEYS = ("tables", "collections", "endpoints")


@dataclass(frozen=True)
class SheetOptions:
    source: str
    declarations: Path
    uploads: Path
    max_upload_bytes: int
    read_timeout_s: float


def options_from(raw: Mapping[str, Any], config_path: Path) -> SheetOptions:
    """The `[sheets]` settings, paths resolved (relative to the repository root)."""

    def path(key: str, default: Path) -> Path:
        value = raw.get(key)
        if value is None:
            return default
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else _ROOT / p

    try:
        max_mb = float(raw.get("max_upload_mb", 20))
        timeout = float(raw.get("read_timeout_s", 10))
    except (TypeError, ValueError):
        raise ConfigError("[sheets] max_upload_mb and read_timeout_s must be numbers") from None
    if max_mb <= 0 or timeout <= 0:
        raise ConfigError("[sheets] max_upload_mb and read_timeout_s must be positive")
    return SheetOptions(
        source=str(raw.get("source", "sheets")),
        declarations=path("declarations", config_path.resolve().parent / "sheets.d"),
        uploads=path("uploads", _ROOT / "var" / "sheets"),
        max_upload_bytes=int(max_mb * 1_000_000),
        read_timeout_s=timeout,
    )


def options(settings: Settings) -> SheetOptions:
    return options_from(settings.sheets, settings.config_path)


# -- checks --------------------------------------------------------------------------------


def existing_tables(settings: Settings) -> set[str]:
    """Every table name the sources already give DuckDB."""
    names: set[str] = set()
    for src in settings.sources:
        for key in _TABLE_KEYS:
            names.update(src.options.get(key) or {})
    return names


def check_table(settings: Settings, table: Any) -> str:
    """`table` if it can name a new sheet; else ValidationFailed saying why."""
    if not isinstance(table, str) or not TABLE_NAME.fullmatch(table):
        raise ValidationFailed(
            "table: use lowercase letters, digits and _ (starting with a letter, at most 63)"
        )
    if table in existing_tables(settings):
        raise ValidationFailed(f"table: '{table}' already exists; choose another name")
    if (options(settings).declarations / f"{table}.toml").exists():
        raise ValidationFailed(f"table: '{table}' is already declared; choose another name")
    return table


def check_spec(spec: Any, where: str) -> dict[str, Any]:
    """A declaration's table spec, checked: `file` (+ `sheet`) or `spreadsheet_key`
    (+ `worksheet`), and `columns` {name: type}. Raises ValidationFailed naming `where`."""
    if not isinstance(spec, Mapping):
        raise ValidationFailed(f"{where}: not a table declaration")
    allowed = {"file", "sheet", "spreadsheet_key", "worksheet", "columns"}
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ValidationFailed(f"{where}: unexpected key {extra[0]}")
    if bool(spec.get("file")) == bool(spec.get("spreadsheet_key")):
        raise ValidationFailed(f"{where}: needs either file or spreadsheet_key")
    for key in ("file", "sheet", "spreadsheet_key", "worksheet"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 1000):
            raise ValidationFailed(f"{where}: {key} must be text")
    columns = spec.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise ValidationFailed(f"{where}: columns must name at least one column and its type")
    for name, kind in columns.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_HEADER:
            raise ValidationFailed(f"{where}: a column name must be 1 to {MAX_HEADER} characters")
        if kind not in TYPES:
            raise ValidationFailed(
                f"{where}: column '{name}' has type {kind!r}; use one of {', '.join(TYPES)}"
            )
    return {k: v for k, v in spec.items() if v is not None}


# -- writing -------------------------------------------------------------------------------


def upload_path(settings: Settings, table: str, suffix: str) -> Path:
    """Where an uploaded file for `table` is kept: <uploads>/<table><suffix>. The table name
    is checked (TABLE_NAME), so the name cannot leave the directory."""
    if not TABLE_NAME.fullmatch(table) or suffix not in (".csv", ".xlsx"):
        raise ValidationFailed("the file must be .csv or .xlsx, for a valid table name")
    return options(settings).uploads / f"{table}{suffix}"


def shown_path(path: Path) -> str:
    """A path as a declaration writes it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(_ROOT))
    except ValueError:
        return str(path.resolve())


def declare(settings: Settings, table: str, spec: Mapping[str, Any], *, by: str = "") -> Path:
    """Write <declarations>/<table>.toml; never replaces one. Returns its path.

    Raises ValidationFailed for a bad name or spec, or a table that exists already.
    """
    check_table(settings, table)
    clean = check_spec(spec, f"table '{table}'")
    folder = options(settings).declarations
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{table}.toml"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"# Declared on the Spreadsheets page{f' by {by}' if by else ''}, {stamp}.\n"
    text += to_toml(clean)
    tomllib.loads(text)  # what is written must read back
    temp = folder / f".{table}.{os.getpid()}.tmp"
    temp.write_text(text, encoding="utf-8")
    try:
        os.link(temp, target)  # atomic, and fails if another save got there first
    except FileExistsError:
        raise ValidationFailed(
            f"table: '{table}' is already declared; choose another name"
        ) from None
    finally:
        temp.unlink(missing_ok=True)
    return target


def to_toml(spec: Mapping[str, Any]) -> str:
    lines = []
    for key, value in spec.items():
        if isinstance(value, Mapping):
            inner = ", ".join(f"{_string(k)} = {_string(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {_string(value)}")
    return "\n".join(lines) + "\n"


def _string(value: Any) -> str:
    # A TOML basic string: backslash, quote and control characters escaped, the rest as is.
    out = []
    for ch in str(value):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


# -- reading (load_settings) ---------------------------------------------------------------


def merge(
    sources: Mapping[str, Any], sheet_options: SheetOptions
) -> tuple[dict[str, Any], dict[str, str]]:
    """`sources` (raw, from the configuration file) with every declaration file's table added
    to the `sheet` source (created when the file declares none), and each declaration that
    cannot be used -> its one-line reason, by file path. A broken declaration is skipped, so
    the app and its other sources still work (the Spreadsheets page names it). Raises
    ConfigError only when `[sheets] source` names a source that is not a sheet source."""
    folder = sheet_options.declarations
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    if not files:
        return dict(sources), {}
    name = sheet_options.source
    source = dict(sources.get(name) or {"kind": "sheet", "ttl": 600})
    if source.get("kind") != "sheet":
        raise ConfigError(f"[sheets] source = '{name}' is not a sheet source")
    tables = dict(source.get("tables") or {})
    errors: dict[str, str] = {}
    for path in files:
        try:
            table, spec = _declaration(path, tables)
        except ValidationFailed as exc:
            errors[str(path)] = str(exc)
            log.warning("sheet declaration %s skipped: %s", path, exc)
            continue
        tables[table] = spec
    if len(tables) == len(source.get("tables") or {}) and name not in sources:
        return dict(sources), errors  # nothing usable: no empty source made up
    return {**sources, name: {**source, "tables": tables}}, errors


def _declaration(path: Path, tables: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The table a declaration file adds, checked; ValidationFailed saying why it cannot."""
    table = path.stem
    if not TABLE_NAME.fullmatch(table):
        raise ValidationFailed(f"'{table}' is not a valid table name")
    if table in tables:
        raise ValidationFailed(f"table '{table}' is already declared in the configuration")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # The class name, not the message: a parser's message can quote the file's text.
        raise ValidationFailed(f"cannot be read ({type(exc).__name__})") from None
    return table, check_spec(spec, f"table '{table}'")
