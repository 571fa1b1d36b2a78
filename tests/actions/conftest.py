"""Action fixtures: an ActionContext over this test's own copy of the demo data, installed.

`ctx` runs each test twice: on SQLite (copies of the demo files, audit store in tmp_path)
and on PostgreSQL (fresh databases; the audit log shares the shop database there, so shop
actions write their change and audit row in one transaction, and the crm database is
separate). `sqlite_ctx` is the SQLite one alone.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lib.access.principal import Principal
from lib.actions import ActionContext, use_context
from lib.audit import AuditStore
from lib.demo.load_sql import copy_tables
from lib.records.database import make_engine
from lib.records.schema import products, sellers


def sqlite_context(tmp_path: Path, demo_dir: Path) -> ActionContext:
    for name in ("crm.sqlite", "shop.sqlite"):
        shutil.copy(demo_dir / name, tmp_path / name)
    audit = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    audit.create_schema()
    dbs = {n: make_engine(f"sqlite:///{tmp_path / f'{n}.sqlite'}") for n in ("shop", "crm")}
    return ActionContext(audit=audit, databases=dbs)


def _sqlite_rows(path: Path, table: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(path)) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY rowid")]


def postgresql_context(pg_server: Any, demo_dir: Path) -> ActionContext:
    shop_url, crm_url = pg_server.new(), pg_server.new()
    copy_tables(demo_dir / "crm.sqlite", crm_url, ["customers"])
    shop = make_engine(shop_url)
    # Products with a generated id, as a deployed shop has them (the copied demo ids kept).
    with shop.begin() as conn:
        products.metadata.create_all(conn, tables=[sellers, products])
        conn.execute(sa.insert(sellers), _sqlite_rows(demo_dir / "shop.sqlite", "sellers"))
        conn.execute(sa.insert(products), _sqlite_rows(demo_dir / "shop.sqlite", "products"))
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('products', 'id'), max(id)) FROM products"
            )
        )
    audit = AuditStore(shop_url)
    audit.create_schema()
    return ActionContext(audit=audit, databases={"shop": shop, "crm": make_engine(crm_url)})


def _dispose(ctx: ActionContext) -> None:
    ctx.audit.dispose()
    for engine in ctx.databases.values():
        engine.dispose()  # so the session can drop the PostgreSQL databases


@pytest.fixture
def sqlite_ctx(tmp_path: Path, demo_dir: Path) -> Iterator[ActionContext]:
    """An ActionContext over copies of the demo SQLite files, installed for `run`."""
    ctx = sqlite_context(tmp_path, demo_dir)
    with use_context(ctx):
        yield ctx
    _dispose(ctx)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def ctx(request: pytest.FixtureRequest, tmp_path: Path, demo_dir: Path) -> Iterator[ActionContext]:
    """An ActionContext on SQLite, then on PostgreSQL, installed for `run`."""
    if request.param == "sqlite":
        built = sqlite_context(tmp_path, demo_dir)
    else:
        built = postgresql_context(request.getfixturevalue("pg_server"), demo_dir)
    with use_context(built):
        yield built
    _dispose(built)


# The demo users (config/users.yaml) as the actions see them.
PRINCIPALS = {
    "admin": Principal("admin", "Ada Admin", ("admin",)),
    "operator": Principal("operator", "Oscar Operator", ("operator",)),
    "support": Principal("support", "Sora Support", ("support",)),
    "analyst": Principal("analyst", "Ana Analyst", ("analyst",)),
    "auditor": Principal("auditor", "Audrey Auditor", ("auditor",)),
    "seller1": Principal("seller1", "Seller One (tenant 1)", ("seller",), tenant=1),
    "seller2": Principal("seller2", "Seller Two (tenant 2)", ("seller",), tenant=2),
}


@pytest.fixture(scope="session")
def principals() -> dict[str, Principal]:
    return PRINCIPALS


def _audit_rows(ctx: ActionContext, **filters: Any) -> list[dict[str, Any]]:
    return ctx.audit.query(limit=None, newest_first=False, **filters)


def _one_row(ctx: ActionContext, db: str, table: sa.Table, row_id: int) -> dict[str, Any] | None:
    with ctx.db(db).connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == row_id)).first()
    return None if row is None else dict(row._mapping)


@pytest.fixture
def audit_rows() -> Any:
    """audit_rows(ctx, **filters): every audit row matching the filters, oldest first."""
    return _audit_rows


@pytest.fixture
def one_row() -> Any:
    """one_row(ctx, db, table, id): that row of a system of record as a dict, or None."""
    return _one_row
