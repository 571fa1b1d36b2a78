"""Read paths over TPC-H in PostgreSQL: pandas, the Engine's scanner (live), its snapshots.

`python -m bench.join_paths [--sf 0.1]`

Generates TPC-H with DuckDB's tpch extension, loads customer / orders / lineitem into a fresh
PostgreSQL database (with the keys and indexes a real one would have), then times, best of
`--repeat` after one warm-up:

  join    a three-table join + aggregate (queries/tpch_revenue_by_segment_year.sql)
          (a) pandas read_sql through SQLAlchemy, merge, groupby
          (b) lib.reading.engine.Engine, tables declared `live` (DuckDB's postgres scanner)
          (c) the same Engine, tables declared `snapshot` (local DuckDB copies); the copy
              is timed on its own and left out of the query time
  search  the newest 50 open orders with a customer-name search
          (queries/tpch_newest_open_orders.sql) in PostgreSQL itself vs through the scanner

The project's issue measured, on SF1: 12.1 s pandas, 3.0 s connectorx/ADBC, 0.47 s scanner,
0.06 s local DuckDB; search 0.22 s in PostgreSQL, 0.66 s through the scanner.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa
from duckdb_extensions import import_extension

from bench.databases import PG_SERVER, fresh_postgres
from bench.report import BenchFailed, Benchmark, best_of, cli, table
from lib.reading.engine import Engine
from lib.reading.queries import load_query
from lib.reading.sources.base import SourceConfig
from lib.reading.sources.sql import attachment
from lib.records.database import make_engine

QUERIES = Path(__file__).resolve().parent / "queries"
TABLES = ("customer", "orders", "lineitem")
JOIN_QUERY = "tpch_revenue_by_segment_year"
SEARCH_QUERY = "tpch_newest_open_orders"
# The whole TPC-H order date range, so every path joins every row.
DATE_FROM, DATE_TO = "1992-01-01", "1999-01-01"

# What an operational database has: primary keys, foreign keys and their indexes, and an
# index on the date lists are sorted by. Nothing tailored to the benchmark's queries.
KEYS_AND_INDEXES = (
    "ALTER TABLE customer ADD PRIMARY KEY (c_custkey)",
    "ALTER TABLE orders ADD PRIMARY KEY (o_orderkey)",
    "ALTER TABLE lineitem ADD PRIMARY KEY (l_orderkey, l_linenumber)",
    "ALTER TABLE orders ADD FOREIGN KEY (o_custkey) REFERENCES customer (c_custkey)",
    "ALTER TABLE lineitem ADD FOREIGN KEY (l_orderkey) REFERENCES orders (o_orderkey)",
    "CREATE INDEX orders_o_custkey ON orders (o_custkey)",
    "CREATE INDEX orders_o_orderdate ON orders (o_orderdate)",
)

# The issue's figures (SF1), printed beside ours for comparison.
ISSUE_SF1 = {
    "pandas_s": 12.1,
    "connectorx_adbc_s": 3.0,
    "scanner_s": 0.47,
    "local_duckdb_s": 0.06,
    "search_postgres_s": 0.22,
    "search_scanner_s": 0.66,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.join_paths", description=__doc__.split("\n")[0]
    )
    p.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor (default 0.1)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per path (best counts)")
    p.add_argument("--search", default="000012", help="the customer-name search term")
    p.add_argument("--pg", default=PG_SERVER, help="PostgreSQL server (SQLAlchemy URL, no db)")
    return p


# --- setup ----------------------------------------------------------------------------------


def _source(url: str, mode: str) -> SourceConfig:
    # A TTL far beyond the run, so a snapshot is copied once and never refreshed mid-timing.
    tables = {t: {"mode": mode, "ttl": 86_400} for t in TABLES}
    return SourceConfig("tpch", "sql", ttl=86_400, options={"url": url, "tables": tables})


def load_tpch(url: str, sf: float) -> dict[str, Any]:
    """Generate TPC-H at `sf` in DuckDB and copy customer/orders/lineitem into `url`."""
    con = duckdb.connect(":memory:")
    try:
        for ext in ("tpch", "postgres"):
            import_extension(ext, con=con)
            con.execute(f"LOAD {ext}")
        start = time.perf_counter()
        con.execute("CALL dbgen(sf = ?)", [sf])
        generated = time.perf_counter() - start
        target = attachment(_source(url, "live")).target.replace("'", "''")
        con.execute(f"ATTACH '{target}' AS pg (TYPE postgres)")
        start = time.perf_counter()
        rows = {}
        for name in TABLES:
            con.execute(f"CREATE TABLE pg.public.{name} AS SELECT * FROM main.{name}")
            rows[name] = con.execute(f"SELECT count(*) FROM main.{name}").fetchone()[0]
        con.execute("DETACH pg")
        copied = time.perf_counter() - start
    finally:
        con.close()
    start = time.perf_counter()
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")  # VACUUM needs no transaction
    try:
        with admin.connect() as conn:
            for stmt in KEYS_AND_INDEXES:
                conn.execute(sa.text(stmt))
            conn.execute(sa.text("VACUUM ANALYZE"))
    finally:
        admin.dispose()
    indexed = time.perf_counter() - start
    return {
        "rows": rows,
        "generate_s": round(generated, 2),
        "copy_to_postgres_s": round(copied, 2),
        "keys_indexes_analyze_s": round(indexed, 2),
    }


# --- the paths ------------------------------------------------------------------------------


def pandas_join(db: sa.Engine) -> pd.DataFrame:
    """(a) What a page would do without the engine: read each table, merge, group."""
    dates = {"date_from": DATE_FROM, "date_to": DATE_TO}
    with db.connect() as conn:
        customer = pd.read_sql(sa.text("SELECT c_custkey, c_mktsegment FROM customer"), conn)
        orders = pd.read_sql(
            sa.text(
                "SELECT o_orderkey, o_custkey, o_orderdate FROM orders "
                "WHERE o_orderdate >= CAST(:date_from AS DATE) "
                "AND o_orderdate < CAST(:date_to AS DATE)"
            ),
            conn,
            params=dates,
        )
        lineitem = pd.read_sql(
            sa.text("SELECT l_orderkey, l_extendedprice, l_discount FROM lineitem"), conn
        )
    merged = lineitem.merge(orders, left_on="l_orderkey", right_on="o_orderkey").merge(
        customer, left_on="o_custkey", right_on="c_custkey"
    )
    merged["revenue"] = merged["l_extendedprice"] * (1 - merged["l_discount"])
    merged["order_year"] = pd.to_datetime(merged["o_orderdate"]).dt.year
    out = (
        merged.groupby(["c_mktsegment", "order_year"], as_index=False)
        .agg(lines=("revenue", "size"), revenue=("revenue", "sum"))
        .rename(columns={"c_mktsegment": "segment"})
    )
    return out.sort_values(["segment", "order_year"], ignore_index=True)


def postgres_search_sql() -> sa.TextClause:
    """The search query's own text, run in PostgreSQL: the same SQL, not a paraphrase."""
    sql = load_query(QUERIES, SEARCH_QUERY).sql
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    sql = sql.replace("tpch.", "")
    return sa.text(re.sub(r"\$([A-Za-z_]\w*)", r":\1", sql))


def _check_join(reference: pd.DataFrame, other: pd.DataFrame, label: str) -> None:
    ref = reference.sort_values(["segment", "order_year"], ignore_index=True)
    got = other.sort_values(["segment", "order_year"], ignore_index=True)
    keys_ref = list(
        zip(ref["segment"], ref["order_year"].astype(int), ref["lines"].astype(int), strict=True)
    )
    keys_got = list(
        zip(got["segment"], got["order_year"].astype(int), got["lines"].astype(int), strict=True)
    )
    if keys_ref != keys_got:
        raise BenchFailed(f"{label}: groups or line counts differ from the pandas result")
    for a, b in zip(ref["revenue"], got["revenue"], strict=True):
        if not math.isclose(float(a), float(b), rel_tol=1e-9):
            raise BenchFailed(f"{label}: revenue {b} differs from pandas' {a}")


def _check_search(reference: list[int], other: pd.DataFrame, label: str) -> None:
    got = [int(k) for k in other["o_orderkey"]]
    if got != reference:
        raise BenchFailed(f"{label}: the search returned other orders than PostgreSQL")


def run(args: argparse.Namespace) -> dict[str, Any]:
    repeat = args.repeat
    join_params = {"date_from": DATE_FROM, "date_to": DATE_TO}
    search_params = {"status": "O", "name_pattern": f"%{args.search}%"}
    with fresh_postgres(args.pg) as url:
        print(f"loading TPC-H sf={args.sf:g} into {sa.make_url(url).database} ...", flush=True)
        setup = load_tpch(url, args.sf)
        db = make_engine(url)
        live = Engine([_source(url, "live")], QUERIES, loaders={})
        snap = Engine([_source(url, "snapshot")], QUERIES, loaders={})
        try:
            print("(a) pandas read_sql + merge ...", flush=True)
            pandas_t = best_of(lambda: pandas_join(db), repeat)
            print("(b) engine, live (postgres scanner) ...", flush=True)
            live_t = best_of(lambda: live.query(JOIN_QUERY, **join_params), repeat)
            print("(c) engine, snapshot (local DuckDB) ...", flush=True)
            start = time.perf_counter()
            snap.ensure("tpch")  # attach and copy the three tables: timed on its own
            snapshot_load = time.perf_counter() - start
            snap_t = best_of(lambda: snap.query(JOIN_QUERY, **join_params), repeat)
            _check_join(pandas_t.result, live_t.result, "engine live")
            _check_join(pandas_t.result, snap_t.result, "engine snapshot")

            print("(d) search: PostgreSQL vs scanner ...", flush=True)
            pg_sql = postgres_search_sql()

            def in_postgres() -> list[int]:
                with db.connect() as conn:
                    return [r.o_orderkey for r in conn.execute(pg_sql, search_params)]

            pg_t = best_of(in_postgres, repeat)
            scan_t = best_of(lambda: live.query(SEARCH_QUERY, **search_params), repeat)
            snap_search_t = best_of(lambda: snap.query(SEARCH_QUERY, **search_params), repeat)
            _check_search(pg_t.result, scan_t.result, "search through the scanner")
            _check_search(pg_t.result, snap_search_t.result, "search over the snapshot")
            matched = len(pg_t.result)
        finally:
            live.close()
            snap.close()
            db.dispose()

    base = pandas_t.best
    return {
        "scale_factor": args.sf,
        "repeat": repeat,
        "setup": setup,
        "keys_and_indexes": list(KEYS_AND_INDEXES),
        "join": {
            "query": JOIN_QUERY,
            "params": join_params,
            "groups": len(pandas_t.result),
            "pandas": {**pandas_t.as_dict(), "speedup_vs_pandas": 1.0},
            "engine_live": {**live_t.as_dict(), "speedup_vs_pandas": round(base / live_t.best, 2)},
            "engine_snapshot": {
                **snap_t.as_dict(),
                "speedup_vs_pandas": round(base / snap_t.best, 2),
                "snapshot_load_s": round(snapshot_load, 4),
            },
        },
        "search": {
            "query": SEARCH_QUERY,
            "params": search_params,
            "rows": matched,
            "postgres": {**pg_t.as_dict(), "vs_postgres": 1.0},
            "engine_live": {
                **scan_t.as_dict(),
                "vs_postgres": round(scan_t.best / pg_t.best, 2),
            },
            "engine_snapshot": {
                **snap_search_t.as_dict(),
                "vs_postgres": round(snap_search_t.best / pg_t.best, 2),
            },
        },
        "issue_sf1": ISSUE_SF1,
    }


def _ratio(x: float) -> str:
    return f"{x:,.1f}x" if x >= 10 else f"{x:,.2f}x"


def show(r: dict[str, Any]) -> str:
    j, s, issue = r["join"], r["search"], r["issue_sf1"]
    rows = r["setup"]["rows"]
    head = (
        f"TPC-H sf={r['scale_factor']:g}: "
        + ", ".join(f"{n} {c:,}" for n, c in rows.items())
        + f"; best of {r['repeat']} after a warm-up"
    )
    base = j["pandas"]["best_s"]
    join_rows = [
        ("(a) pandas read_sql + merge", base, _ratio(1.0), issue["pandas_s"]),
        (
            "(b) Engine live (postgres scanner)",
            j["engine_live"]["best_s"],
            _ratio(j["engine_live"]["speedup_vs_pandas"]),
            issue["scanner_s"],
        ),
        (
            "(c) Engine snapshot (local DuckDB)",
            j["engine_snapshot"]["best_s"],
            _ratio(j["engine_snapshot"]["speedup_vs_pandas"]),
            issue["local_duckdb_s"],
        ),
        ("    snapshot load (once per TTL)", j["engine_snapshot"]["snapshot_load_s"], "", None),
    ]
    search_rows = [
        (
            "PostgreSQL via SQLAlchemy",
            s["postgres"]["best_s"],
            _ratio(1.0),
            issue["search_postgres_s"],
        ),
        (
            "Engine live (postgres scanner)",
            s["engine_live"]["best_s"],
            _ratio(s["engine_live"]["vs_postgres"]),
            issue["search_scanner_s"],
        ),
        (
            "Engine snapshot (local DuckDB)",
            s["engine_snapshot"]["best_s"],
            _ratio(s["engine_snapshot"]["vs_postgres"]),
            None,
        ),
    ]
    return "\n".join(
        [
            head,
            "",
            table(
                [f"join + aggregate ({j['groups']} groups)", "seconds", "speedup", "issue SF1 s"],
                join_rows,
            ),
            "",
            table(
                [
                    f"newest 50 open orders, name ILIKE ({s['rows']} rows)",
                    "seconds",
                    "time vs PG",
                    "issue SF1 s",
                ],
                search_rows,
            ),
        ]
    )


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    j, s = r["join"], r["search"]
    sf = f"sf={r['scale_factor']:g}"
    return [
        (f"join {sf}: pandas read_sql + merge", f"{j['pandas']['best_s']:.3f} s"),
        (
            f"join {sf}: Engine live (scanner)",
            f"{j['engine_live']['best_s']:.3f} s "
            f"({_ratio(j['engine_live']['speedup_vs_pandas'])} faster)",
        ),
        (
            f"join {sf}: Engine snapshot",
            f"{j['engine_snapshot']['best_s']:.3f} s "
            f"({_ratio(j['engine_snapshot']['speedup_vs_pandas'])} faster; "
            f"load {j['engine_snapshot']['snapshot_load_s']:.2f} s)",
        ),
        (f"search {sf}: PostgreSQL", f"{s['postgres']['best_s']:.3f} s"),
        (
            f"search {sf}: Engine live (scanner)",
            f"{s['engine_live']['best_s']:.3f} s "
            f"({_ratio(s['engine_live']['vs_postgres'])} PostgreSQL's time)",
        ),
    ]


BENCHMARK = Benchmark("join_paths", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
