"""The project's own errors: each carries a one-line message a user can act on."""

from __future__ import annotations


def one_line(text: object, limit: int | None = None) -> str:
    """`text` on one line (every run of whitespace one space), cut to `limit` characters with
    "…" when longer; "" for None. The one way errors and names are flattened for display."""
    if text is None:
        return ""
    flat = " ".join(str(text).split())
    if limit is None or len(flat) <= limit:
        return flat
    return flat[: limit - 1] + "…"


class BackofficeError(Exception):
    """An error whose str() is safe to show to a user: no secrets, no raw personal data."""


class ConfigError(BackofficeError):
    """The sources or users configuration is missing or wrong."""


class SourceUnavailable(BackofficeError):
    """A data source could not be read; names the source and says why in one line."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = one_line(reason)  # whatever the driver said
        super().__init__(f"Source '{source}' is unavailable: {self.reason}")


class SheetInvalid(BackofficeError):
    """A spreadsheet does not match its declared columns; names the row and column at fault.

    `row` counts like the spreadsheet does: the header is row 1, the first data row is row 2.
    """

    def __init__(self, sheet: str, row: int, column: str, problem: str) -> None:
        self.sheet, self.row, self.column, self.problem = sheet, row, column, problem
        super().__init__(f"Spreadsheet '{sheet}', row {row}, column '{column}': {problem}")


class QueryNotFound(BackofficeError):
    """No file queries/<name>.sql."""


class ActionDenied(BackofficeError):
    """The actor may not do this (role, tenant)."""


class ValidationFailed(BackofficeError):
    """The input is wrong; the message says which field and why."""


class Conflict(BackofficeError):
    """The record is no longer in the state the action expects (someone got there first)."""


class ActionFailed(BackofficeError):
    """The effect could not be carried out; nothing was changed."""


class OutcomeUnknown(BackofficeError):
    """A remote effect may or may not have happened; it must be reconciled, not repeated."""
