"""The scale benchmark's data: built once per size into SQLite, PostgreSQL and MariaDB, and
the app config pointing both crm and shop at one of them.

    urls = ensure_data("postgresql", Size(1_500_000, 150_000), bench_dir)   # quick when there
    config = app_config("postgresql", urls, bench_dir)

Each database holds a marker table (bench_scale_marker: orders, customers, data version);
when it names the asked size, nothing is rebuilt, so a rerun starts measuring at once.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.databases import PG_START, ServerUnavailable
from bench.demo_app import demo_config
from bench.report import REPO

BACKENDS = ("sqlite", "postgresql", "mariadb")
DEFAULT_DIR = REPO / "var" / "bench-scale"
PG_SERVER = os.environ.get("BENCH_SCALE_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
MARIADB_SERVER = os.environ.get("BENCH_SCALE_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")
MARIADB_START = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd"
MARKER = "bench_scale_marker"
DATABASES = {
    "crm": ("customers",),
    "shop": ("sellers", "products", "orders", "payments", "refunds"),
}


@dataclass(frozen=True)
class Size:
    orders: int
    customers: int

    @property
    def label(self) -> str:
        return f"{self.orders}-{self.customers}"


def urls_for(backend: str, size: Size, bench_dir: Path) -> dict[str, str]:
    """Where crm and shop live for `backend`: SQLite files per size; one database pair per
    server (bench_scale_crm / bench_scale_shop), rebuilt when the size changes."""
    if backend == "sqlite":
        d = bench_dir / f"sqlite-{size.label}"
        return {db: f"sqlite:///{d / f'{db}.sqlite'}" for db in DATABASES}
    if backend == "postgresql":
        return {db: f"{PG_SERVER}/bench_scale_{db}" for db in DATABASES}
    if backend == "mariadb":
        return {db: f"{MARIADB_SERVER}/bench_scale_{db}" for db in DATABASES}
    raise ValueError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")


def _data_version() -> str:
    from lib.demo import data

    return str(data.DATA_VERSION)


def is_built(url: str, size: Size) -> bool:
    """True if the database at `url` holds the marker of this size and data version."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table(MARKER):
                return False
            row = conn.execute(sa.text(f"SELECT orders, customers, version FROM {MARKER}")).first()
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return row is not None and tuple(row) == (size.orders, size.customers, _data_version())


def _write_marker(url: str, size: Size) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    meta = sa.MetaData()
    marker = sa.Table(
        MARKER,
        meta,
        sa.Column("orders", sa.BigInteger),
        sa.Column("customers", sa.BigInteger),
        sa.Column("version", sa.String(32)),
    )
    try:
        with engine.begin() as conn:
            meta.drop_all(conn)
            meta.create_all(conn)
            row = {"orders": size.orders, "customers": size.customers}
            conn.execute(marker.insert(), [{**row, "version": _data_version()}])
    finally:
        engine.dispose()


def _create_database(backend: str, url: str) -> None:
    """An empty database at `url` (dropped first); SQLite: the file removed."""
    parsed = sa.make_url(url)
    if backend == "sqlite":
        path = Path(parsed.database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = parsed.database
    admin_db = "postgres" if backend == "postgresql" else ""
    admin = sa.create_engine(
        parsed.set(database=admin_db), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    finally:
        admin.dispose()


def check_server(backend: str) -> None:
    """ServerUnavailable (the backend is skipped, except under CI=true) if it is not up."""
    if backend == "sqlite":
        return
    server, start = (
        (PG_SERVER, PG_START) if backend == "postgresql" else (MARIADB_SERVER, MARIADB_START)
    )
    url = sa.make_url(server).set(database="postgres" if backend == "postgresql" else "")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise ServerUnavailable(f"{backend} not reachable; start it with: {start}") from exc
    finally:
        engine.dispose()


_TABLES: dict[Size, dict[str, list[Any]]] = {}


def generated(size: Size) -> dict[str, list[Any]]:
    """The demo data of `size`, generated once per process (every backend gets the same rows)."""
    if size not in _TABLES:
        from lib.demo import data

        if "orders" not in inspect.signature(data.generate).parameters:
            raise RuntimeError("lib.demo.data.generate takes no sizes yet (helper H1's change)")
        _TABLES.clear()  # one size at a time: 1.5M orders are a few GB of dicts
        _TABLES[size] = data.generate(orders=size.orders, customers=size.customers)
    return _TABLES[size]


def _write(tables: dict[str, list[Any]], url: str, db: str) -> None:
    """Database `db`'s tables written at `url` by lib.demo.bulk.write_tables (helper H1's fast
    loader: COPY, multi-row inserts, indexes built after); plain inserts if it is missing."""
    from lib.records import schema

    try:
        from lib.demo import bulk
    except ImportError:
        _insert_tables(tables, url, DATABASES[db])
        return
    bulk.write_tables(url, schema.crm if db == "crm" else schema.shop, DATABASES[db], tables)


def _insert_tables(tables: dict[str, list[Any]], url: str, names: tuple[str, ...]) -> None:
    """The declared tables (lib.records.schema) created at `url` and filled by inserts;
    text timestamps become datetimes where the server's column is a real timestamp."""
    from datetime import date, datetime

    from lib.records import schema

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    dialect = engine.dialect.name
    try:
        with engine.begin() as conn:
            for name in names:
                table = (schema.crm if name == "customers" else schema.shop).tables[name]
                table.create(conn, checkfirst=True)
                convert = {}
                for col in table.columns:
                    real = getattr(col.type, "_variant_mapping", {}).get(dialect)
                    if isinstance(real, sa.DateTime):
                        convert[col.name] = lambda v: datetime.fromisoformat(v.replace("Z", ""))
                    elif isinstance(real, sa.Date):
                        convert[col.name] = lambda v: date.fromisoformat(v[:10])
                rows = tables[name]
                for i in range(0, len(rows), 5000):
                    chunk = [
                        {
                            k: (convert[k](v) if k in convert and isinstance(v, str) else v)
                            for k, v in row.items()
                        }
                        for row in rows[i : i + 5000]
                    ]
                    conn.execute(table.insert(), chunk)
    finally:
        engine.dispose()


def ensure_data(
    backend: str, size: Size, bench_dir: Path, log: Callable[[str], None] = print
) -> dict[str, str]:
    """crm and shop of `size` on `backend`, built unless already there; db -> SQLAlchemy URL."""
    check_server(backend)
    urls = urls_for(backend, size, bench_dir)
    for db, url in urls.items():
        if is_built(url, size):
            log(f"  {backend} {db}: {size.orders:,} orders / {size.customers:,} customers: there")
            continue
        import time

        start = time.perf_counter()
        tables = generated(size)
        _create_database(backend, url)
        _write(tables, url, db)
        _write_marker(url, size)
        log(f"  {backend} {db}: built in {time.perf_counter() - start:.0f} s")
    return urls


def small_demo(bench_dir: Path) -> Path:
    """The default small demo (its CSV, XLSX, tickets, audit file): the app's other sources."""
    from lib.demo.seed import seed

    demo_dir = bench_dir / "demo"
    seed(demo_dir)
    return demo_dir


def app_config(backend: str, urls: dict[str, str], bench_dir: Path) -> Path:
    """The shipped config with crm and shop on `backend` (its other sources from the small
    demo, back-end services and mail at a closed port): its path, one per backend."""
    demo_dir = small_demo(bench_dir)
    dest = bench_dir / f"config-{backend}"
    dest.mkdir(parents=True, exist_ok=True)
    path = demo_config(dest, demo_dir, {})
    text = path.read_text(encoding="utf-8")
    for db, url in urls.items():
        shipped = f'url = "sqlite:///{demo_dir}/{db}.sqlite"'
        if shipped not in text:
            raise RuntimeError(f"the config has no {db} url line to point at {backend}")
        text = text.replace(shipped, f'url = "{url}"')
    path.write_text(text, encoding="utf-8")
    return path
