"""`lib.access.masking.mask_frame` over the demo customers repeated to 100k and 1M rows.

`python -m bench.masking [--rows 100000 1000000] [--repeat 2]`

Masks name, e-mail, phone and address (lib.access.masking.PII_COLUMNS["customers"]), the columns a
customer table shows, and reports rows per second.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.report import BenchFailed, Benchmark, best_of, cli, table
from lib.access.masking import PII_COLUMNS, looks_like_raw_pii, mask_frame
from lib.demo.data import people

COLUMNS = PII_COLUMNS["customers"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.masking", description=__doc__.split("\n")[0])
    p.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="frame sizes to mask"
    )
    p.add_argument("--repeat", type=int, default=2, help="timed runs per size (best counts)")
    return p


def customers(rows: int) -> pd.DataFrame:
    """The demo customers, repeated (and cut) to `rows` rows."""
    base = pd.DataFrame(people.customers())
    copies = -(-rows // len(base))
    return pd.concat([base] * copies, ignore_index=True).iloc[:rows]


def _check(masked: pd.DataFrame) -> None:
    # Every distinct demo value once: a raw e-mail or phone left over means masking failed.
    sample = masked.head(len(people.customers()))
    for column in ("email", "phone"):
        leaked = [v for v in sample[column] if looks_like_raw_pii(str(v))]
        if leaked:
            raise BenchFailed(f"{len(leaked)} {column} values left unmasked")


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes: dict[str, Any] = {}
    warm = customers(len(people.customers()))
    mask_frame(warm, COLUMNS)  # compile the rules' regular expressions
    for rows in args.rows:
        frame = customers(rows)
        print(f"{rows:,} rows ...", flush=True)
        t = best_of(lambda frame=frame: mask_frame(frame, COLUMNS), args.repeat, warmup=0)
        _check(t.result)
        sizes[str(rows)] = {
            **t.as_dict(),
            "rows": rows,
            "rows_per_s": round(rows / t.best),
            "cells_per_s": round(rows * len(COLUMNS) / t.best),
        }
    return {"columns": COLUMNS, "repeat": args.repeat, "sizes": sizes}


def show(r: dict[str, Any]) -> str:
    rows = [
        (f"{s['rows']:,} customers", s["best_s"], s["rows_per_s"], s["cells_per_s"])
        for s in r["sizes"].values()
    ]
    cols = ", ".join(r["columns"])
    return table(["mask_frame", "seconds", "rows/s", "cells/s"], rows) + f"\ncolumns: {cols}"


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"mask_frame {s['rows']:,} rows", f"{s['best_s']:.2f} s, {s['rows_per_s']:,} rows/s")
        for s in r["sizes"].values()
    ]


BENCHMARK = Benchmark("masking", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
