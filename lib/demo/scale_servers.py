"""`python -m lib.demo.seed --servers`: the demo's systems of record on this machine's servers.

Customers (crm) go to PostgreSQL and the shop (sellers, products, orders, payments, refunds) to
MariaDB, the seeds' "MySQL with PostgreSQL", created from lib.records.schema (real types, the
search keys, the indexes) and loaded in bulk (lib.demo.bulk). A copy of config/backoffice.toml
pointing the crm and shop sources at them, and everything else at the seeded directory, lets
the app run on that data: `BACKOFFICE_CONFIG=var/scale/backoffice.toml make run`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.demo import bulk
from lib.demo.data.base import Row
from lib.records import schema

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/backoffice_crm"
MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/backoffice_shop"
CONFIG_NAME = "backoffice.toml"
# Where each system of record's tables are declared, and which tables it holds.
DATABASES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "crm": (schema.crm, ("customers",)),
    "shop": (schema.shop, ("sellers", "products", "orders", "payments", "refunds")),
}
# The [app] keys naming the demo's sizes, so starting the app on this config (make run) keeps
# the seeded directory at these sizes instead of rebuilding the small default.
SIZE_KEYS = {"orders": "demo_orders", "customers": "demo_customers"}


def load_servers(tables: Mapping[str, list[Row]], crm_url: str, shop_url: str) -> dict[str, int]:
    """Create (if missing) the crm and shop databases and replace their tables with `tables`'
    rows; returns the rows written per table."""
    counts: dict[str, int] = {}
    for db, url in (("crm", crm_url), ("shop", shop_url)):
        metadata, names = DATABASES[db]
        bulk.ensure_database(url)
        counts |= bulk.write_tables(url, metadata, names, tables, replace=True)
    return counts


def configured_sizes(app: Mapping[str, Any]) -> dict[str, int]:
    """The demo sizes a config's [app] table names (written by write_config), as keyword
    arguments for lib.demo.seed.seed; empty for the default demo."""
    return {size: int(app[key]) for size, key in SIZE_KEYS.items() if key in app}


def write_config(
    path: Path,
    base_config: Path,
    demo_dir: Path,
    root: Path,
    urls: Mapping[str, str],
    sizes: Mapping[str, int],
) -> Path:
    """Write `base_config` to `path` with the crm and shop sources at `urls` and every demo
    file (audit log, sheets, tickets, uploads) under `demo_dir`; returns `path`."""
    text = base_config.read_text(encoding="utf-8")
    for db, url in urls.items():
        text, found = re.subn(
            rf'^url = "sqlite:///var/demo/{db}\.sqlite"',
            f'url = "{url}"',
            text,
            count=1,
            flags=re.MULTILINE,
        )
        if not found:
            raise ValueError(f"{base_config} has no [sources.{db}] url on the demo's SQLite file")
    where = shown(demo_dir, root)
    # Only quoted values: comments may mention var/demo too.
    text = re.sub(r'"(sqlite:///)?var/demo(?=[/"])', lambda m: f'"{m[1] or ""}{where}', text)
    keys = "".join(f"{SIZE_KEYS[k]} = {int(v)}\n" for k, v in sizes.items())
    text, found = re.subn(r"^(demo_dir = .*\n)", rf"\g<1>{keys}", text, count=1, flags=re.M)
    if not found:
        raise ValueError(f"{base_config} has no demo_dir in [app]")
    header = (
        "# Written by `python -m lib.demo.seed --servers`: the demo at "
        + ", ".join(f"{v:,} {k}" for k, v in sizes.items())
        + ",\n# crm and shop on this machine's servers."
        + f" Run: {run_line(path, root)}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + text, encoding="utf-8")
    return path


def shown(path: Path, root: Path) -> str:
    """`path` relative to the repository when inside it (as the config's paths are written)."""
    path = path.absolute()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def run_line(config: Path, root: Path) -> str:
    return f"BACKOFFICE_CONFIG={shown(config, root)} make run"
