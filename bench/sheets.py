"""Reading a 50,000-row × 10-column sheet: Google Sheets through gspread, CSV and XLSX.

`python -m bench.sheets [--rows 50000] [--repeat 3] [--range-rows 5000]`

Google Sheets goes through gspread's real code path (lib.reading.sources.sheet.load) against
the local fake of the Sheets v4 API, served from its own process so that only the reader's
memory is measured: read in ranges of --range-rows rows (what the app does), and, for
comparison, the whole sheet in one values.get (what it did before). CSV: the csv module (what
the app does) against DuckDB's and pandas' readers, each handing text to the same cell checks.
XLSX: python-calamine (what the app does) against openpyxl in read-only mode.

Each variant runs in a fresh process: the time is the best of --repeat runs; memory is the
tracemalloc peak of one run (Python allocations) and the growth of the peak RSS (VmHWM)
over the process's RSS before its first run (Arrow's buffers included).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.report import REPO, BenchFailed, Benchmark, best_of, cli, table

COLUMNS = {
    "month": "date",
    "channel": "text",
    "spend_krw": "int",
    "clicks": "int",
    "ctr": "float",
    "active": "bool",
    "store": "text",
    "orders": "int",
    "revenue_krw": "float",
    "note": "text",
}
KEY = "1BenchSheetKey_fifty_thousand_rows"
# name -> (what it is, whether the app reads this way)
VARIANTS = {
    "google_ranges": ("Google Sheets, gspread, values.get in ranges", True),
    "google_whole": ("Google Sheets, gspread, whole sheet in one values.get", False),
    "csv_module": ("CSV, csv module", True),
    "csv_duckdb": ("CSV, DuckDB read_csv (all_varchar)", False),
    "csv_pandas": ("CSV, pandas read_csv (dtype=str, chunked)", False),
    "xlsx_openpyxl": ("XLSX, openpyxl read-only", False),
    "xlsx_calamine": ("XLSX, python-calamine", True),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.sheets", description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=50_000, help="data rows of the sheet")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per variant (best counts)")
    p.add_argument("--range-rows", type=int, default=5000, help="rows per values.get request")
    return p


# --- the data ------------------------------------------------------------------------------


def text_rows(rows: int) -> list[list[str]]:
    """Header and `rows` data rows as a Google Sheet shows them (formatted text)."""
    out = [list(COLUMNS)]
    start = date(2020, 1, 1)
    for i in range(rows):
        out.append(
            [
                (start + timedelta(days=i % 2000)).isoformat(),
                ("search", "social", "display", "email")[i % 4],
                f"{1_000_000 + i * 37:,}",  # thousands separators, as Sheets formats them
                str(i % 9000),
                f"{(i % 997) / 1000:.3f}",
                "TRUE" if i % 3 else "FALSE",
                f"Store {i % 120}",
                str(i % 500),
                f"{i * 1.25:.2f}",
                f"note {i}" if i % 5 == 0 else "",
            ]
        )
    return out


def typed_rows(rows: int) -> Iterable[list[Any]]:
    """The same rows as an XLSX holds them: real dates, numbers and booleans."""
    for i, row in enumerate(text_rows(rows)):
        if i == 0:
            yield row
            continue
        yield [
            date.fromisoformat(row[0]),
            row[1],
            int(row[2].replace(",", "")),
            int(row[3]),
            float(row[4]),
            row[5] == "TRUE",
            row[6],
            int(row[7]),
            float(row[8]),
            row[9] or None,
        ]


def write_files(rows: int, folder: Path) -> tuple[Path, Path]:
    import openpyxl

    csv_path, xlsx_path = folder / "sheet.csv", folder / "sheet.xlsx"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(text_rows(rows))
    workbook = openpyxl.Workbook(write_only=True)
    worksheet = workbook.create_sheet("Sheet1")
    for row in typed_rows(rows):
        worksheet.append(row)
    workbook.save(xlsx_path)
    return csv_path, xlsx_path


# --- the readers (each returns the table and its problems) -----------------------------


def _config(**options: Any) -> Any:
    from lib.reading.sources.base import SourceConfig

    return SourceConfig(name="sheets", kind="sheet", options=options)


def _load(spec: dict[str, Any], **options: Any) -> Any:
    from lib.reading.sources import sheet

    loaded = sheet.load(_config(tables={"t": {**spec, "columns": COLUMNS}}, **options))
    return loaded["t"], loaded.problems["t"]


def _built(rows: Iterable[Sequence[Any]], chunk: int = 5000) -> Any:
    from lib.reading.sources.cells import TableBuilder

    it = iter(rows)
    builder = TableBuilder(next(it), COLUMNS, "t")
    while part := list(itertools.islice(it, chunk)):
        builder.add(part)
    return builder.table(), builder.problems


def _google_whole(url: str) -> Any:
    from lib.reading.sources import sheet

    client = sheet.client_for(_config(sheets_api_url=url, timeout=120))
    rows = client.open_by_key(KEY).sheet1.get_all_values()
    return _built(rows, chunk=len(rows))


def _csv_duckdb(path: str) -> Any:
    import duckdb

    con = duckdb.connect()
    cur = con.execute(
        "SELECT * FROM read_csv(?, all_varchar = true, header = false)", [path]
    )  # header = false: the header row is checked like the app checks it
    rows = iter(lambda: cur.fetchmany(5000), [])
    out = _built(itertools.chain.from_iterable(rows))
    con.close()
    return out


def _csv_pandas(path: str) -> Any:
    import pandas as pd

    frames = pd.read_csv(path, dtype=str, keep_default_na=False, header=None, chunksize=5000)
    return _built(itertools.chain.from_iterable(f.itertuples(index=False) for f in frames))


def _xlsx_openpyxl(path: str) -> Any:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        worksheet = workbook.worksheets[0]
        worksheet.reset_dimensions()
        return _built(worksheet.iter_rows(values_only=True))
    finally:
        workbook.close()


def reader(variant: str, target: str, range_rows: int) -> Callable[[], Any]:
    return {
        "google_ranges": lambda: _load(
            {"spreadsheet_key": KEY}, sheets_api_url=target, timeout=120, range_rows=range_rows
        ),
        "google_whole": lambda: _google_whole(target),
        "csv_module": lambda: _load({"file": target}),
        "csv_duckdb": lambda: _csv_duckdb(target),
        "csv_pandas": lambda: _csv_pandas(target),
        "xlsx_openpyxl": lambda: _xlsx_openpyxl(target),
        "xlsx_calamine": lambda: _load({"file": target}),
    }[variant]


# --- one variant in its own process ---------------------------------------------------------


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def child(variant: str, target: str, rows: int, repeat: int, range_rows: int) -> dict[str, Any]:
    """Memory of the first run, then the time of `repeat` runs, in this (fresh) process."""
    read = reader(variant, target, range_rows)
    import lib.reading.sources.sheet  # noqa: F401 - imports are not the read's memory

    rss_before = _kib("VmRSS")
    tracemalloc.start()
    result = read()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_peak_delta = _kib("VmHWM") - rss_before
    table_, problems = result
    if table_.num_rows != rows or problems:
        raise BenchFailed(f"{variant}: {table_.num_rows} rows, {len(problems)} problems")
    if [str(t) for t in table_.schema.types] != [
        "date32[day]", "string", "int64", "int64", "double", "bool",
        "string", "int64", "double", "string",
    ]:  # fmt: skip
        raise BenchFailed(f"{variant}: declared types not kept: {table_.schema}")
    del result, table_
    timing = best_of(read, repeat, warmup=0)
    return {
        **timing.as_dict(),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1),
        "rss_peak_delta_mb": round(rss_peak_delta / 1024, 1),
    }


def _run_child(variant: str, target: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = [variant, target, str(args.rows), str(args.repeat), str(args.range_rows)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.sheets", "--child", *argv],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchFailed(f"{variant}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve(rows: int) -> None:
    """The fake Sheets API over the bench sheet, in this process, until stdin closes."""
    from tests.fakes.server import start_app_in_thread
    from tests.fakes.sheets_api import create_app

    url, stop = start_app_in_thread(create_app({KEY: {"Sheet1": text_rows(rows)}}))
    print(url, flush=True)
    sys.stdin.read()
    stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.sheets", "--serve", str(args.rows)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http"):
            raise BenchFailed("the fake Sheets API did not start")
        with tempfile.TemporaryDirectory() as folder:
            print(f"writing {args.rows:,}-row CSV and XLSX ...", flush=True)
            csv_path, xlsx_path = write_files(args.rows, Path(folder))
            targets = {"google": url, "csv": str(csv_path), "xlsx": str(xlsx_path)}
            for variant, (what, adopted) in VARIANTS.items():
                print(f"{what} ...", flush=True)
                figures = _run_child(variant, targets[variant.split("_")[0]], args)
                results[variant] = {"what": what, "adopted": adopted, **figures}
            sizes = {"csv_mb": round(csv_path.stat().st_size / 2**20, 1),
                     "xlsx_mb": round(xlsx_path.stat().st_size / 2**20, 1)}  # fmt: skip
    finally:
        server.communicate(timeout=30)  # closes its stdin: it stops
    return {
        "rows": args.rows,
        "columns": len(COLUMNS),
        "range_rows": args.range_rows,
        "repeat": args.repeat,
        **sizes,
        "variants": results,
    }


def show(r: dict[str, Any]) -> str:
    rows = [
        (("* " if v["adopted"] else "  ") + v["what"], v["best_s"], v["tracemalloc_peak_mb"],
         v["rss_peak_delta_mb"])
        for v in r["variants"].values()
    ]  # fmt: skip
    head = ["read", "seconds", "tracemalloc peak MB", "RSS peak +MB"]
    return (
        table(head, rows)
        + f"\n{r['rows']:,} rows × {r['columns']} columns; ranges of {r['range_rows']:,} rows; "
        + f"CSV {r['csv_mb']} MB, XLSX {r['xlsx_mb']} MB; * = what the app does"
    )


def summary(r: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (f"sheets {r['rows'] // 1000}k×{r['columns']} {name}",
         f"{v['best_s']:.2f} s, peak {v['tracemalloc_peak_mb']} MB (RSS +{v['rss_peak_delta_mb']})")
        for name, v in r["variants"].items()
        if v["adopted"]
    ]  # fmt: skip


BENCHMARK = Benchmark("sheets", parser, run, show, summary)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve"]:
        serve(int(argv[1]))
        return 0
    if argv[:1] == ["--child"]:
        variant, target, rows, repeat, range_rows = argv[1:6]
        started = time.perf_counter()
        out = child(variant, target, int(rows), int(repeat), int(range_rows))
        out["process_s"] = round(time.perf_counter() - started, 2)
        print(json.dumps(out))
        return 0
    return cli(BENCHMARK, argv)[0]


if __name__ == "__main__":
    sys.exit(main())
