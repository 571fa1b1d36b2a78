"""The one way the app talks to Google Sheets: for the sheet source's reads, connecting a sheet
and exporting to one.

- `client_for(cfg, session, write=)`: a gspread client signed in with the service account
  in the source's secrets, or sent to `sheets_api_url` (a self-hosted or fake Sheets v4 API).
- `service_account_email` / `service_account`: whom to share a spreadsheet with.
- `parse_google_url`: a spreadsheet's key (and worksheet gid) from its link or its key.
- `retrying(call, backoff)`: a request tried again while Google answers 429, waiting
  Retry-After when given, else exponentially longer.
- `read_ranges(spreadsheet, worksheet, ...)`: a worksheet's values a range of rows at a time
  (bounded memory), header first.
- `reason(cfg, exc, ...)`: one line for a failure that is Google's or the network's.

Source options used here: sheets_api_url, timeout (s per request), retries (tries of a
request answered 429), retry_base_s (the first wait, doubled each try).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import google.auth.exceptions
import gspread
import requests

from lib.errors import SourceUnavailable
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.cells import column_letter

GOOGLE_SHEETS_API = "https://sheets.googleapis.com"
READ_SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
RETRIES = 5  # tries of a Google Sheets request answered 429 RESOURCE_EXHAUSTED
RETRY_BASE_S = 1.0  # the first wait; doubled each try, unless the answer says Retry-After
RETRY_MAX_WAIT_S = 60.0
RANGE_ROWS = 5000  # rows per values.get request (source option `range_rows`)
_sleep = time.sleep  # tests record the waits instead

_KEY = re.compile(r"[A-Za-z0-9_-]{10,128}")  # Google's keys are 44 characters
# /u/1/: the link as copied while signed in to a second Google account.
_URL_PATH = re.compile(r"/spreadsheets/(?:u/[0-9]{1,3}/)?d/([A-Za-z0-9_-]+)(?:/.*)?")
_GID = re.compile(r"gid=([0-9]{1,12})")
NOT_A_LINK = (
    "Not a Google Sheets link: paste the spreadsheet's address "
    "(https://docs.google.com/spreadsheets/d/…)"
)

T = TypeVar("T")


class LinkInvalid(ValueError):
    """Text that is neither a Google Sheets link nor a spreadsheet key; str() says so."""


class RebasedSession(requests.Session):
    """A session that sends requests meant for Google's Sheets API to `base_url` instead.

    gspread copies its URLs at import, so rewriting them here, where every call passes,
    is the one place a self-hosted or fake Sheets v4 endpoint can be put in.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(GOOGLE_SHEETS_API):
            url = self.base_url + url[len(GOOGLE_SHEETS_API) :]
        return super().request(method, url, *args, **kwargs)


def client_for(
    cfg: SourceConfig, session: requests.Session | None = None, *, write: bool = False
) -> gspread.Client:
    """A gspread client for this source: through `session` if given, else to
    `sheets_api_url` if configured, else signed in with the service account secret.

    Raises SourceUnavailable when no usable credentials are configured.
    """
    if session is None and cfg.options.get("sheets_api_url"):
        session = RebasedSession(str(cfg.options["sheets_api_url"]))
    if session is not None:
        client = gspread.Client(auth=None, session=session)
    else:
        client = _service_account_client(cfg, WRITE_SCOPES if write else READ_SCOPES)
    client.set_timeout(float(cfg.options.get("timeout", 30)))
    return client


def _service_account_client(cfg: SourceConfig, scopes: Sequence[str]) -> gspread.Client:
    raw = cfg.secrets.get("service_account_json")
    if not raw:
        raise SourceUnavailable(
            cfg.name, "no Google service account configured (service_account_json_secret)"
        )
    # `from None` below: the parsers' exceptions can quote the key text, which must not
    # reach a traceback or a log.
    try:
        info = json.loads(raw)
    except ValueError:
        raise SourceUnavailable(
            cfg.name, "the service_account_json secret is not valid JSON"
        ) from None
    try:
        return gspread.service_account_from_dict(info, scopes=list(scopes))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SourceUnavailable(
            cfg.name, "the service_account_json secret is not a service account key"
        ) from None


def service_account_email(cfg: SourceConfig) -> str | None:
    """The client_email of the service account key in the source's secret, if any."""
    try:
        email = json.loads(cfg.secrets.get("service_account_json") or "{}").get("client_email")
    except (ValueError, AttributeError):
        return None
    return email if isinstance(email, str) and "@" in email else None


def service_account(cfg: SourceConfig) -> str:
    """'the service account <its e-mail>', or without it when the secret does not say."""
    email = service_account_email(cfg)
    return f"the service account {email}" if email else "the service account"


def parse_google_url(url: str) -> tuple[str, int | None]:
    """(spreadsheet key, worksheet gid or None) from a Google Sheets link or a bare key.

    Raises LinkInvalid when it is neither.
    """
    text = (url or "").strip() if isinstance(url, str) else ""
    if _KEY.fullmatch(text):
        return text, None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or parts.hostname != "docs.google.com":
        raise LinkInvalid(NOT_A_LINK)
    match = _URL_PATH.fullmatch(parts.path)
    if not match or not _KEY.fullmatch(match.group(1)):
        raise LinkInvalid(NOT_A_LINK)
    gid: int | None = None
    query_gid = parse_qs(parts.query).get("gid")
    if query_gid and re.fullmatch(r"[0-9]{1,12}", query_gid[0]):
        gid = int(query_gid[0])
    elif found := _GID.search(parts.fragment):
        gid = int(found.group(1))
    return match.group(1), gid


@dataclass(frozen=True)
class Backoff:
    """How a request answered 429 is tried again: `tries` in all, the first wait `base_s`."""

    tries: int = RETRIES
    base_s: float = RETRY_BASE_S

    @classmethod
    def of(cls, cfg: SourceConfig) -> Backoff:
        return cls(
            max(1, int(cfg.options.get("retries", RETRIES))),
            float(cfg.options.get("retry_base_s", RETRY_BASE_S)),
        )


def retrying(call: Callable[[], T], backoff: Backoff = Backoff()) -> T:
    """`call()`, tried again after a wait while Google answers 429 (rate limit): the wait
    is Retry-After when the answer has one, else exponential from backoff.base_s.

    Safe for writes too: a 429 is a refusal, so the refused request changed nothing.
    """
    for attempt in range(backoff.tries):
        try:
            return call()
        except gspread.exceptions.APIError as exc:
            if exc.code != 429 or attempt == backoff.tries - 1:
                raise
            wait = _retry_after(exc)
            if wait is None:
                wait = backoff.base_s * 2**attempt
            _sleep(min(wait, RETRY_MAX_WAIT_S))
    raise AssertionError("unreachable")


def _retry_after(exc: gspread.exceptions.APIError) -> float | None:
    """The answer's Retry-After in seconds, if it has one in that form (not an HTTP date)."""
    response = getattr(exc, "response", None)
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def read_ranges(
    spreadsheet: gspread.Spreadsheet,
    worksheet: gspread.Worksheet,
    *,
    range_rows: int = RANGE_ROWS,
    backoff: Backoff = Backoff(),
    max_rows: int | None = None,
) -> Iterator[tuple[int, list[list[Any]]]]:
    """(first row number, rows) of the worksheet: (1, [header] or []) first, then the data
    rows `range_rows` at a time, as wide as the header (cells right of it have no name), at
    most `max_rows` data rows. Google leaves trailing empty rows out of each answer, so a
    range may hold fewer rows than asked for: its start says where they are."""

    def values(range_: str) -> list[list[Any]]:
        return retrying(lambda: spreadsheet.values_get(range_), backoff).get("values", [])

    sheet = "'" + worksheet.title.replace("'", "''") + "'"
    header = values(f"{sheet}!A1:{column_letter(max(worksheet.col_count, 1) - 1)}1")
    yield 1, header
    last = column_letter(max(len(header[0]) if header else 0, 1) - 1)
    end_row = worksheet.row_count if max_rows is None else min(worksheet.row_count, max_rows + 1)
    for start in range(2, end_row + 1, max(1, range_rows)):
        end = min(start + range_rows - 1, end_row)
        yield start, values(f"{sheet}!A{start}:{last}{end}")


def reason(
    cfg: SourceConfig, exc: BaseException, *, worksheet: Any = None, write: bool = False
) -> str | None:
    """One line for a failure that is the spreadsheet's, Google's or the network's; None for
    anything else (a bug). `write`: the service account needs to be an editor."""
    who = service_account(cfg)
    share = f"share it with {who}" + (" as an editor" if write else "")
    if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
        return f"spreadsheet not found, or not shared with {who}" + (
            " (share it as an editor)" if write else ""
        )
    forbidden = isinstance(exc, gspread.exceptions.APIError) and exc.code == 403
    if isinstance(exc, PermissionError) or forbidden:  # open_by_key turns a 403 into this
        return f"no permission to {'write to' if write else 'open'} the spreadsheet; {share}"
    if isinstance(exc, gspread.exceptions.WorksheetNotFound):
        return f"the spreadsheet has no worksheet '{worksheet}'"
    if isinstance(exc, gspread.exceptions.APIError) and exc.code == 429:
        return (
            f"Google Sheets API rate limit still exceeded after {Backoff.of(cfg).tries} tries "
            "(429 RESOURCE_EXHAUSTED); try again in a minute"
        )
    if isinstance(exc, gspread.exceptions.APIError):
        status = exc.error.get("status", "")
        message = " ".join(str(exc.error.get("message", "")).split())[:100]
        return f"Google Sheets API error {exc.code} {status}: {message}".rstrip(": ")
    if isinstance(exc, requests.Timeout):
        return f"Google Sheets API timed out after {cfg.options.get('timeout', 30)} s"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to the Google Sheets API ({_host(cfg)})"
    if isinstance(exc, requests.RequestException):
        return f"Google Sheets API request failed ({type(exc).__name__})"
    if isinstance(exc, google.auth.exceptions.GoogleAuthError):
        # Its message can carry token-endpoint details; the class name is enough to act on.
        return f"Google sign-in with the service account failed ({type(exc).__name__})"
    if isinstance(exc, SourceUnavailable):
        return exc.reason
    return None


def _host(cfg: SourceConfig) -> str:
    url = cfg.options.get("sheets_api_url") or GOOGLE_SHEETS_API
    parts = urlsplit(str(url))
    # hostname/port, not netloc: a URL may carry user:password@.
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
