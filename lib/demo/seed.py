"""Write the demo data files (two SQLite databases, a CSV, an XLSX, a JSON) into a directory.

`python -m lib.demo.seed [--dir var/demo] [--force]`
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

from lib.demo import data
from lib.demo.data.base import Row
from lib.records import schema

MARKER = ".seeded"

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


def seed(demo_dir: Path, force: bool = False) -> dict[str, int]:
    """Write every demo file into `demo_dir` and return the row count of each table.

    If the files are there and were written by the current data version, nothing is written,
    so changes made through the running demo survive a restart; `force` rebuilds them.
    Each file appears whole or not at all (written under a temporary name, then renamed).
    """
    demo_dir = Path(demo_dir)
    if not force and is_current(demo_dir):
        return row_counts(demo_dir)
    demo_dir.mkdir(parents=True, exist_ok=True)
    # Without the marker, a rebuild interrupted half-way is redone in full on the next start.
    (demo_dir / MARKER).unlink(missing_ok=True)
    # State kept by the running demo about the old data: the gateway's ledger, the audit log.
    for name in DERIVED:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (demo_dir / f"{name}{suffix}").unlink(missing_ok=True)
    tables = data.generate()
    for name, metadata in DECLARED.items():
        _write_sqlite(demo_dir / name, metadata, tables, FILES[name])
    _write_csv(demo_dir / "marketing_spend.csv", tables["marketing_spend"])
    _write_store_sales(demo_dir / "store_sales.xlsx", tables["store_sales"])
    _write_json(demo_dir / "tickets.json", tables["tickets"])
    with _replacing(demo_dir / MARKER) as tmp:
        tmp.write_text(data.DATA_VERSION + "\n", encoding="utf-8")
    return {name: len(rows) for name, rows in tables.items()}


def is_current(demo_dir: Path) -> bool:
    """True if every demo file exists and the marker names the current data version."""
    marker = Path(demo_dir) / MARKER
    return (
        all((Path(demo_dir) / name).is_file() for name in FILES)
        and marker.is_file()
        and marker.read_text(encoding="utf-8").strip() == data.DATA_VERSION
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
    file at `path`, then insert their rows."""
    declared = [metadata.tables[name] for name in names]
    with _replacing(path) as tmp:
        engine = sa.create_engine(f"sqlite:///{tmp}", poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                # No journal: the file is private until renamed, and a failed build is thrown
                # away.
                conn.exec_driver_sql("PRAGMA journal_mode=OFF")
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
                metadata.create_all(conn, tables=declared)
                for table in declared:
                    # A generated column the table lacks fails here (unconsumed column name).
                    conn.execute(table.insert(), tables[table.name])
        finally:
            engine.dispose()
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
    from lib.config.settings import ROOT  # only the CLI needs the repo location

    parser = argparse.ArgumentParser(description="Write the demo data files.")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "demo", help="target directory")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    fresh = args.force or not is_current(args.dir)
    counts = seed(args.dir, force=args.force)
    print(f"{args.dir}: {'written' if fresh else 'already current (use --force to rebuild)'}")
    for file, tables in FILES.items():
        print(f"  {file:<20} " + ", ".join(f"{t} {counts[t]:,}" for t in tables))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
