"""The Audit log page: who did what, filtered in the URL, paged, exported, and the hash
chain checked. A table page (lib.ui.table_page) over the audit store rather than DuckDB:
the audit log never leaves its own database. However long the log, a page is one range
read of an index and its count stops at 10,000 ("10,000+")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from lib.access.masking import mask_table
from lib.access.principal import Principal
from lib.actions.context import current
from lib.audit.chain import HASHED_COLUMNS
from lib.audit.store import COUNT_CAP, AuditStore
from lib.errors import SourceUnavailable
from lib.reading.source_query import Count, Page
from lib.ui import export, table_page
from lib.ui.table_filters import Choice, DateRange, Search, Sort
from lib.ui.table_page import TablePage

OUTCOMES = ("ok", "denied", "conflict", "invalid", "failed", "unknown", "requested", "locked")
EXPORT_LIMIT = 10_000  # rows in one download: a bigger audit goes through `make audit-export`
SHOWN = [c for c in HASHED_COLUMNS if c != "prev_hash"]  # every audited column
EXPORTED = [*SHOWN, "prev_hash", "row_hash"]


def _day_start(d: date | None) -> datetime | None:
    return datetime.combine(d, time.min, UTC) if d else None


def store_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The audit store's filters for the page's bound parameters (dates as UTC days,
    the 'to' day inclusive)."""
    day_to = date.fromisoformat(params["date_to"]) if params["date_to"] else None
    day_from = date.fromisoformat(params["date_from"]) if params["date_from"] else None
    return {
        "actor": params["actor"],
        "action": params["action"],
        "outcome": params["outcome"],
        "target_id": params["target_id"],
        "since": _day_start(day_from),
        "until": _day_start(day_to + timedelta(days=1)) if day_to else None,
    }


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as people read them: roles and detail as text, contacts in free text masked."""
    df = pd.DataFrame(rows, columns=[*HASHED_COLUMNS, "row_hash"])
    df["actor_roles"] = df.actor_roles.map(", ".join)
    df["detail"] = df.detail.map(lambda d: ", ".join(f"{k}={v}" for k, v in d.items()))
    # Free text: shown and exported with contacts masked.
    return mask_table(df, {}, contacts_in=("reason", "detail"))


@dataclass(frozen=True)
class AuditListing:
    """The audit store's rows, newest (or oldest) first: a page is one range read of an
    index (lib.audit.schema), Next/Previous by keyset after/before the time and id of the
    row shown (lib.ui.table_paging), the count exact up to 10,000 and "10,000+" past it."""

    def fetch_page(
        self,
        params: Mapping[str, Any],
        sort: tuple[str, str],
        limit: int,
        offset: int,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
    ) -> Page:
        filters = store_filters(params)
        rows, more = read(
            "page",
            limit=limit,
            offset=offset if after is None and before is None else 0,
            newest_first=sort[1] == "desc",
            after=tuple(after) if after is not None else None,
            before=tuple(before) if before is not None else None,
            **filters,
        )
        n = read("count", cap=COUNT_CAP, **filters)
        keys = [AuditStore.page_key(r) for r in rows]
        return Page(
            rows=frame(rows),
            count=Count(COUNT_CAP, exact=False) if n > COUNT_CAP else Count(n),
            has_next=True if before is not None else more,
            has_previous=more if before is not None else bool(offset) or after is not None,
            first_key=keys[0] if keys else None,
            last_key=keys[-1] if keys else None,
        )

    def fetch(
        self, params: Mapping[str, Any], sort: tuple[str, str], limit: int, offset: int
    ) -> tuple[pd.DataFrame, Count]:
        """table_page.Listing: one page by offset and the capped count."""
        page = self.fetch_page(params, sort, limit, offset)
        return page.rows, page.count or Count(0)


def read(method: str, **kwargs: Any) -> Any:
    """AuditStore.page or .count, its database's failure said in one line like any other
    source's."""
    try:
        return getattr(current().audit, method)(**kwargs)
    except SQLAlchemyError as exc:
        raise SourceUnavailable("audit", type(exc).__name__) from exc


def _text(query: str) -> Any:
    return lambda value: {query: value}


def download(principal: Principal, selected: list[dict[str, Any]]) -> None:
    """The filtered rows as CSV (the newest EXPORT_LIMIT), hashes included, read when the
    button is clicked rather than on every page turn; and the chain check."""
    view = table_page.current_view(PAGE)
    if view is not None:
        filters = store_filters(view.params(PAGE))
        st.download_button(
            "Download CSV",
            lambda: export.to_csv(frame(read("page", limit=EXPORT_LIMIT, **filters)[0])[EXPORTED]),
            file_name="audit_log.csv",
            mime=export.CSV_MIME,
            icon=":material/download:",
            help=f"The rows these filters match, newest first, up to {EXPORT_LIMIT:,}.",
        )
    if st.button("Verify the hash chain", icon=":material/verified:"):
        with st.spinner("Checking every row…"):
            report = current().audit.verify()
        if report.ok:
            st.success(
                f"Chain intact: {report.rows_checked:,} rows. Last hash {report.last_hash[:16]}…"
            )
        else:
            st.error(f"Chain broken at row {report.first_broken_id}: {report.problem}")


PAGE = TablePage(
    name="audit",
    title="Audit log",
    listing=AuditListing(),
    filters=(
        Search("actor", "Actor", "username", bind=_text("actor")),
        Search("action", "Action", "e.g. order.refund", bind=_text("action")),
        Choice("outcome", "Outcome", {o: o for o in OUTCOMES}, "outcome", any_label="Any"),
        Search("target", "Target id", "e.g. 1234", bind=_text("target_id")),
        DateRange(default=lambda: (date.today() - timedelta(days=30), None)),
    ),
    sort=Sort({"id": "Time"}, ("id", "desc")),
    columns={
        **{c: st.column_config.TextColumn(c.replace("_", " ")) for c in SHOWN},
        "id": st.column_config.NumberColumn("id", format="%d"),
        "occurred_at": st.column_config.DatetimeColumn(
            "occurred at (UTC)", format="YYYY-MM-DD HH:mm:ss"
        ),
    },
    records=lambda df: [{"id": int(i)} for i in df["id"]],
    selection=None,
    empty="No audit rows match these filters.",
    page_size=50,
    panel=download,
)


def render(principal: Principal) -> None:
    table_page.render(PAGE, principal)
