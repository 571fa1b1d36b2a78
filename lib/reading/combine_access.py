"""Which tables a user may combine (Spreadsheets › Combine), and which columns hold personal data.

The rule, enforced on the server by lib.reading.combine.catalogue (a table outside it is "not
in the catalogue", whatever the URL asks):

- Nothing at all without the Spreadsheets page (policy.may_open(principal, "spreadsheets")).
- Every table of a `sheet` source: the Sheets section shows their rows to the same users.
- A table of a `sql` source only when it reads (its `table =` alias resolved: crm.customers_snapshot
  reads customers) one of the tables behind a page the user may open, per PAGE_TABLES, and the
  user reads every tenant (a seller's page is scoped to its own rows; a combination is not).
  The dashboard and the demo views show monthly totals only, so they open no table. A table
  no page lists, or one of another kind of source, is never offered.

Personal data: a table's columns listed in lib.access.masking.PII_COLUMNS under the table it
reads (not its alias), and every column named like personal data (masking.named_columns), on
any kind of source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lib.access import policy
from lib.access.masking import PII_COLUMNS, named_columns
from lib.access.principal import Principal
from lib.reading.engine import Engine

PAGE = "spreadsheets"
PAGE_TABLES: Mapping[str, frozenset[str]] = {
    "customers": frozenset({"customers"}),
    "orders": frozenset({"orders", "payments"}),
    "seller": frozenset({"products", "sellers"}),
}
"""page url path -> the database tables (as the source reads them) whose rows it shows."""


def underlying(engine: Engine, qualified: str) -> str | None:
    """The table `qualified` ("source.table") reads: a sql source's `table =` alias resolved,
    a sheet's own name; None for a table the source does not declare."""
    source, _, table = qualified.partition(".")
    cfg = engine.sources.get(source)
    if cfg is None:
        return None
    spec = (cfg.options.get("tables") or {}).get(table)
    if spec is None:
        return None
    return str(dict(spec).get("table", table)) if cfg.kind == "sql" else table


def page_tables(principal: Principal | None) -> frozenset[str]:
    """The database tables behind the pages `principal` may open."""
    if not policy.sees_all_tenants(principal):
        return frozenset()
    opened = [t for page, t in PAGE_TABLES.items() if policy.may_open(principal, page)]
    return frozenset().union(*opened)


def may_combine(engine: Engine, principal: Principal | None, qualified: str) -> bool:
    if not policy.may_open(principal, PAGE):
        return False
    cfg = engine.sources.get(qualified.partition(".")[0])
    read = underlying(engine, qualified)
    if cfg is None or read is None:
        return False
    if cfg.kind == "sheet":
        return True
    return cfg.kind == "sql" and read in page_tables(principal)


def personal(engine: Engine, qualified: str, columns: Iterable[str]) -> dict[str, str]:
    """{column: kind} of the columns of `qualified` that hold personal data."""
    names = list(columns)
    listed = PII_COLUMNS.get(underlying(engine, qualified) or "", {})
    return named_columns(names) | {c: k for c, k in listed.items() if c in names}
