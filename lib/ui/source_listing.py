"""A table page's rows from a source query (lib.reading.source_query): the list runs on its
source's own database, one page at a time, counted up to a cap, paged by keyset.

    SourceQuery(
        "orders_page",
        prepare=orders_params,        # the filters' parameters -> the query's (may look up ids)
        lookups=(Lookup("customers_names", on="customer_id", columns={"name": "customer"}),),
    )

A column from another source (the customer's name on an order) is a `Lookup`: a second
source query for the ids on the page (`IN :ids`), merged here, never a cross-database join.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lib.config import runtime
from lib.errors import BackofficeError
from lib.reading.source_query import COUNT_CAP, Count, Page


class TooManyMatches(BackofficeError):
    """A search names more records than a list may be filtered by (say: type more)."""


@dataclass(frozen=True)
class Lookup:
    """Columns from another source query by id: `query` runs with `param` = the distinct
    values of the page's column `on`, and its `columns` (its name -> the page's name) are
    merged by its `key` column. Rows with no match get None."""

    query: str
    on: str
    columns: Mapping[str, str]
    key: str = "id"
    param: str = "ids"

    def merge(self, df: pd.DataFrame) -> pd.DataFrame:
        ids = sorted({int(v) for v in df[self.on].dropna()}) if len(df) else []
        found = runtime.source_queries().run(self.query, **{self.param: ids}) if ids else None
        out = df.copy()
        for src, dest in self.columns.items():
            if found is None or found.empty:
                out[dest] = None
                continue
            values = dict(zip(found[self.key].astype("int64"), found[src], strict=True))
            out[dest] = [values.get(int(v)) if pd.notna(v) else None for v in df[self.on]]
        return out


@dataclass(frozen=True)
class SourceQuery:
    """A table page's listing over queries/<name>.sql run on its source's database."""

    name: str
    # The filters' bound parameters -> the query's; raises a BackofficeError (shown as one
    # line, no rows) when the filters cannot be run (TooManyMatches).
    prepare: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    lookups: tuple[Lookup, ...] = field(default=())
    count_cap: int = COUNT_CAP

    def _params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self.prepare(params) if self.prepare else dict(params)

    def fetch_page(
        self,
        params: Mapping[str, Any],
        sort: tuple[str, str],
        limit: int,
        offset: int,
        after: Sequence[Any] | None = None,
        before: Sequence[Any] | None = None,
    ) -> Page:
        """One page (by offset, or by keyset after/before a row's key), counted up to the cap,
        its lookups merged."""
        page = runtime.source_queries().page(
            self.name,
            sort=sort,
            limit=limit,
            offset=offset,
            after=after,
            before=before,
            count_cap=self.count_cap,
            **self._params(params),
        )
        rows = page.rows
        for lookup in self.lookups:
            rows = lookup.merge(rows)
        return Page(rows, page.count, page.has_next, page.has_previous,
                    page.first_key, page.last_key)  # fmt: skip

    def fetch(
        self, params: Mapping[str, Any], sort: tuple[str, str], limit: int, offset: int
    ) -> tuple[pd.DataFrame, Count]:
        """table_page.Listing: one page by offset and the capped count."""
        page = self.fetch_page(params, sort, limit, offset)
        assert page.count is not None
        return page.rows, page.count
