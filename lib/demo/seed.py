"""Write the demo data files (two SQLite databases, a CSV, an XLSX, a JSON) into a directory,
at any size, and with --servers also into PostgreSQL (customers) and MariaDB (the shop).

`python -m lib.demo.seed [--dir D] [--force] [--orders N] [--customers M] [--servers]
[--pg-url U] [--mariadb-url U] [--config PATH]`
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from lib.demo import bulk, data
from lib.demo.data import people, shop
from lib.demo.data.base import Row
from lib.records import schema

MARKER = ".seeded"
DEFAULT_ORDERS = shop.ORDER_COUNT  # make run's small embedded demo
DEFAULT_CUSTOMERS = people.CUSTOMER_COUNT

# file name -> the tables (keys of data.generate()) it holds, in write order
FILES: dict[str, tuple[str, ...]] = {
    "crm.sqlite": ("customers",),
    "shop.sqlite": ("sellers", "products", "orders", "payments", "refunds"),
    "marketing_spend.csv": ("marketing_spend",),
    "store_sales.xlsx": ("store_sales",),
    "tickets.json": ("tickets",),
}
STORE_SALES_SHEET = "Sales"
# SQLite file -> where its tables are declared (lib.records.schema, the one declaration)
DECLARED: dict[str, sa.MetaData] = {"crm.sqlite": schema.crm, "shop.sqlite": schema.shop}


DERIVED = ("gateway.sqlite", "audit.sqlite")


def seed(
    demo_dir: Path,
    force: bool = False,
    *,
    orders: int = DEFAULT_ORDERS,
    customers: int = DEFAULT_CUSTOMERS,
) -> dict[str, int]:
    """Write every demo file into `demo_dir` (`orders` orders of `customers` customers) and
    return the row count of each table.

    If the files are there and were written by the current data version at these sizes,
    nothing is written, so changes made through the running demo survive a restart; `force`
    rebuilds them. Each file appears whole or not at all (written under a temporary name, then
    renamed).
    """
    demo_dir = Path(demo_dir)
    if not force and is_current(demo_dir, orders=orders, customers=customers):
        return row_counts(demo_dir)
    return write_demo(demo_dir, data.generate(orders, customers), orders, customers)


def write_demo(
    demo_dir: Path, tables: dict[str, list[Row]], orders: int, customers: int
) -> dict[str, int]:
    """Write `tables` (data.generate's, at these sizes) as the demo files in `demo_dir`."""
    demo_dir = Path(demo_dir)
    demo_dir.mkdir(parents=True, exist_ok=True)
    # Without the marker, a rebuild interrupted half-way is redone in full on the next start.
    (demo_dir / MARKER).unlink(missing_ok=True)
    # State kept by the running demo about the old data: the gateway's ledger, the audit log.
    for name in DERIVED:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (demo_dir / f"{name}{suffix}").unlink(missing_ok=True)
    for name, metadata in DECLARED.items():
        _write_sqlite(demo_dir / name, metadata, tables, FILES[name])
    _write_csv(demo_dir / "marketing_spend.csv", tables["marketing_spend"])
    _write_store_sales(demo_dir / "store_sales.xlsx", tables["store_sales"])
    _write_json(demo_dir / "tickets.json", tables["tickets"])
    with _replacing(demo_dir / MARKER) as tmp:
        tmp.write_text(_marker_text(orders, customers), encoding="utf-8")
    return {name: len(rows) for name, rows in tables.items()}


def _marker_text(orders: int, customers: int) -> str:
    return f"{data.DATA_VERSION}\norders {orders}\ncustomers {customers}\n"


def is_current(
    demo_dir: Path, *, orders: int = DEFAULT_ORDERS, customers: int = DEFAULT_CUSTOMERS
) -> bool:
    """True if every demo file exists and the marker names the current data version and these
    sizes (so the default small demo replaces a big one, and the other way round)."""
    marker = Path(demo_dir) / MARKER
    return (
        all((Path(demo_dir) / name).is_file() for name in FILES)
        and marker.is_file()
        and marker.read_text(encoding="utf-8") == _marker_text(orders, customers)
    )


def row_counts(demo_dir: Path) -> dict[str, int]:
    """Rows per table as the files hold them now (after any edits), keyed like seed() returns."""
    demo_dir = Path(demo_dir)
    counts: dict[str, int] = {}
    for db in ("crm.sqlite", "shop.sqlite"):
        con = sqlite3.connect(f"{(demo_dir / db).as_uri()}?mode=ro", uri=True)
        try:
            for table in FILES[db]:
                # Table names come from FILES, never from input.
                counts[table] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    with open(demo_dir / "marketing_spend.csv", newline="", encoding="utf-8") as f:
        counts["marketing_spend"] = sum(1 for _ in csv.DictReader(f))
    wb = load_workbook(demo_dir / "store_sales.xlsx", read_only=True)
    try:
        sheet = wb[STORE_SALES_SHEET]
        counts["store_sales"] = sum(
            1 for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)
        )
    finally:
        wb.close()
    with open(demo_dir / "tickets.json", encoding="utf-8") as f:
        counts["tickets"] = len(json.load(f))
    order = [t for tables in FILES.values() for t in tables]
    return {t: counts[t] for t in order}


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes it owner-only; the demo services may run as others
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_sqlite(
    path: Path, metadata: sa.MetaData, tables: dict[str, list[Row]], names: tuple[str, ...]
) -> None:
    """Create the declared tables `names` (with their constraints and indexes) in a new SQLite
    file at `path`, and load their rows."""
    with _replacing(path) as tmp:
        # Written without a journal (bulk): the file is private until renamed, and a failed
        # build is thrown away.
        bulk.write_tables(f"sqlite:///{tmp}", metadata, names, tables, replace=False)
        # A leftover WAL or hot journal of the old file would be replayed into the new one.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _write_csv(path: Path, rows: list[Row]) -> None:
    with _replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _write_store_sales(path: Path, rows: list[Row]) -> None:
    wb = Workbook()
    sheet = wb.active
    sheet.title = STORE_SALES_SHEET
    columns = list(rows[0])
    sheet.append(columns)
    for row in rows:
        values = dict(row, month=date.fromisoformat(row["month"]))  # a date cell, not text
        sheet.append([values[c] for c in columns])
    for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
        cell.number_format = "yyyy-mm-dd"
    for column, width in zip("ABCD", (12, 16, 16, 10), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    with _replacing(path) as tmp:
        wb.save(tmp)


def _write_json(path: Path, rows: list[Row]) -> None:
    with _replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main(argv: list[str] | None = None) -> int:
    import time

    from lib.config.settings import ROOT  # only the CLI needs the repo location
    from lib.demo import scale_servers as servers

    parser = argparse.ArgumentParser(description="Write the demo data, at any size.")
    parser.add_argument(
        "--dir", type=Path, help="target directory (var/demo; var/scale with --servers)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--orders", type=int, default=DEFAULT_ORDERS, help="orders (%(default)s)")
    parser.add_argument(
        "--customers", type=int, default=DEFAULT_CUSTOMERS, help="customers (%(default)s)"
    )
    parser.add_argument(
        "--servers",
        action="store_true",
        help="also load the customers into PostgreSQL and the shop into MariaDB, and write "
        "<dir>/backoffice.toml pointing the app at them",
    )
    parser.add_argument("--pg-url", default=servers.PG_URL, help="crm database (%(default)s)")
    parser.add_argument(
        "--mariadb-url", default=servers.MARIADB_URL, help="shop database (%(default)s)"
    )
    args = parser.parse_args(argv)
    if args.orders < 1 or args.customers < 1:
        parser.error("--orders and --customers must be at least 1")
    demo_dir = (args.dir or ROOT / "var" / ("scale" if args.servers else "demo")).absolute()
    sizes = {"orders": args.orders, "customers": args.customers}
    started = time.perf_counter()
    fresh = args.force or not is_current(demo_dir, **sizes)
    tables = data.generate(**sizes) if fresh or args.servers else None
    counts = write_demo(demo_dir, tables, **sizes) if fresh and tables else row_counts(demo_dir)
    state = "written" if fresh else "already current (use --force to rebuild)"
    print(f"{servers.shown(demo_dir, ROOT)}: {state} ({time.perf_counter() - started:.1f} s)")
    for file, names in FILES.items():
        print(f"  {file:<20} " + ", ".join(f"{t} {counts[t]:,}" for t in names))
    if args.servers and tables is not None:
        urls = {"crm": args.pg_url, "shop": args.mariadb_url}
        loading = time.perf_counter()
        loaded = servers.load_servers(tables, urls["crm"], urls["shop"])
        print(f"servers loaded ({time.perf_counter() - loading:.1f} s):")
        for db, url in urls.items():
            names = servers.DATABASES[db][1]
            shown_url = sa.make_url(url).render_as_string(hide_password=True)
            print(f"  {shown_url:<58} " + ", ".join(f"{t} {loaded[t]:,}" for t in names))
        config = servers.write_config(
            demo_dir / servers.CONFIG_NAME,
            ROOT / "config" / "backoffice.toml",
            demo_dir,
            ROOT,
            urls,
            sizes,
        )
        print(f"Run the app on it: {servers.run_line(config, ROOT)}")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
