"""Combine two tables in DuckDB: each side summed by its key columns, then a FULL OUTER JOIN, so
a key on one side only is kept and flagged (`match`), never silently dropped.

Table and column names are identifiers, not values: they are taken only from the engine's
catalogue (DuckDB's information_schema, restricted to the schemas of declared sources), checked
before any SQL is written, and quoted. Nothing a user types reaches the SQL otherwise.

The catalogue is the user's: only the tables lib.reading.combine_access lets that principal
combine (the sheets, and the database tables behind the pages the role may open), so a table
asked for in a URL outside it is refused like an unknown one. Personal data: every key column
that holds it on either side (PII_COLUMNS of the table a source's alias reads, or a column named
like personal data) is masked in the rows and the notes; such a column is never a measure.

The demo views are named queries (queries/spreadsheets_*.sql) whose rows carry the same
`match` column; lib.reading.combine_views turns them into the same `Combined` result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from lib.access.masking import mask, mask_frame
from lib.access.principal import Principal
from lib.errors import BackofficeError, ValidationFailed, one_line
from lib.reading import catalog, combine_access
from lib.reading.catalog import NAME_CHARS, NotInCatalogue, ident
from lib.reading.engine import Engine

KINDS = ("sheet", "sql")  # sources whose tables can be combined (local or scanned, no API)
ROWS = "*"  # the measure "number of rows"
MAX_KEYS = 3
MATCH = "match"
BOTH, LEFT_ONLY, RIGHT_ONLY = "both", "left only", "right only"
_NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL",
)  # fmt: skip


def family(duck_type: str) -> str:
    """numeric | temporal | text | other, from a DuckDB type name ("DECIMAL(18,3)")."""
    base = duck_type.upper().split("(")[0].strip()
    if base in _NUMERIC:
        return "numeric"
    if base.startswith(("DATE", "TIMESTAMP")):
        return "temporal"
    if base in ("VARCHAR", "TEXT", "STRING"):
        return "text"
    return "other"


@dataclass(frozen=True)
class Catalogue:
    """Every table ("source.table") a user may combine, its columns and DuckDB types, and
    which of its columns hold personal data."""

    columns: Mapping[str, Mapping[str, str]]
    unavailable: tuple[str, ...] = ()  # one line per source that could not be read
    personal: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # {col: kind}

    def tables(self) -> list[str]:
        return sorted(self.columns)

    def of(self, table: str, *families: str) -> list[str]:
        """The table's columns (of these type families, if given), in table order."""
        cols = self.columns.get(table, {})
        return [c for c, t in cols.items() if not families or family(t) in families]

    def measures(self, table: str) -> list[str]:
        """The number columns that may be summed: not personal data (a phone kept as a
        number summed over one row is the phone)."""
        return [c for c in self.of(table, "numeric") if c not in self.personal.get(table, {})]

    def type_of(self, table: str, column: str) -> str:
        self.check(table, [column])
        return self.columns[table][column]

    def check(self, table: str, columns: Iterable[str] = ()) -> None:
        if table not in self.columns:
            raise NotInCatalogue(
                f"No table '{one_line(table, NAME_CHARS)}' among the declared sources."
            )
        for column in columns:
            if column not in self.columns[table]:
                raise NotInCatalogue(
                    f"Table {table} has no column '{one_line(column, NAME_CHARS)}'."
                )


def catalogue(
    engine: Engine, principal: Principal | None, kinds: Sequence[str] = KINDS
) -> Catalogue:
    """The tables `principal` may combine (lib.reading.combine_access) of every declared source
    of `kinds` that loads; the others are listed in `unavailable` so the page can say which are
    missing and why."""
    names, unavailable = [], []
    for name, cfg in engine.sources.items():
        if cfg.kind not in kinds or not any(
            combine_access.may_combine(engine, principal, f"{name}.{t}")
            for t in cfg.options.get("tables") or {}
        ):
            continue  # a source none of whose tables are the user's is not even loaded
        try:
            engine.ensure(name)
            names.append(name)
        except BackofficeError as exc:
            unavailable.append(str(exc))
    described = catalog.described(engine, names) if names else {}
    cols = {t: c for t, c in described.items() if combine_access.may_combine(engine, principal, t)}
    personal = {t: combine_access.personal(engine, t, c) for t, c in cols.items()}
    return Catalogue(cols, tuple(unavailable), personal)


@dataclass(frozen=True)
class Side:
    """One table of a combination: its key columns and the measure summed per key."""

    table: str  # "sheets.marketing_spend"
    keys: tuple[str, ...]
    measure: str = ROWS  # a numeric column, or ROWS for the number of rows

    @property
    def name(self) -> str:
        return self.table.split(".", 1)[-1]


@dataclass
class Combined:
    """A combination's rows (keys, measures, `match`) and what did not match."""

    frame: pd.DataFrame
    keys: list[str]
    left_measures: list[str]
    right_measures: list[str]
    left: str  # how each side is named to people ("marketing_spend")
    right: str
    by_month: bool = False
    left_only: list[str] = field(default_factory=list)  # keys as shown ("2025-05 · search")
    right_only: list[str] = field(default_factory=list)
    left_without_key: int = 0  # rows whose key was empty (or not a date, by month)
    right_without_key: int = 0

    def notes(self) -> list[str]:
        """One line per kind of mismatch, naming the keys; one line when everything matched."""
        unit = "month" if self.by_month else "key"
        out = []
        for keys, here, there in (
            (self.left_only, self.left, self.right),
            (self.right_only, self.right, self.left),
        ):
            if keys:
                n = len(keys)
                listed = ", ".join(keys[:12]) + (f" and {n - 12} more" if n > 12 else "")
                have = "has" if n == 1 else "have"
                out.append(f"{n} {unit}{'s' * (n != 1)} in {here} {have} no match in {there}: "
                           f"{listed}")  # fmt: skip
        for rows, side in (
            (self.left_without_key, self.left),
            (self.right_without_key, self.right),
        ):
            if rows:
                what = "an empty key or no date" if self.by_month else "an empty key"
                out.append(f"{rows:,} row{'s' * (rows != 1)} of {side} with {what} left out.")
        if not out and not self.frame.empty:
            out.append(f"Every {unit} matched on both sides.")
        return out


def shown(value: Any, by_month: bool) -> str:
    """A key value as the notes show it: a month as 2025-05, a date as 2025-05-01."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "(empty)"
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.strftime("%Y-%m") if by_month else value.strftime("%Y-%m-%d")
    return str(value)


def from_frame(
    df: pd.DataFrame,
    keys: Sequence[str],
    left_measures: Sequence[str],
    right_measures: Sequence[str],
    left: str,
    right: str,
    *,
    by_month: bool = False,
    without_key: tuple[int, int] = (0, 0),
    pii: Mapping[str, str] | None = None,
) -> Combined:
    """A Combined from rows that carry `match`: the unmatched keys read from it. Key columns
    in `pii` ({column: kind}) are masked, in the rows and in the notes."""
    pii = dict(pii or {})

    def listed(flag: str) -> list[str]:
        rows = df.loc[df[MATCH] == flag, list(keys)].drop_duplicates()  # before masking
        return [
            " · ".join(
                shown(mask(pii[k], v) if k in pii else v, by_month)
                for k, v in zip(keys, row, strict=True)
            )
            for row in rows.itertuples(index=False)
        ]

    return Combined(
        frame=(mask_frame(df, pii) if pii else df).reset_index(drop=True),
        keys=list(keys),
        left_measures=list(left_measures),
        right_measures=list(right_measures),
        left=left,
        right=right,
        by_month=by_month,
        left_only=listed(LEFT_ONLY),
        right_only=listed(RIGHT_ONLY),
        left_without_key=without_key[0],
        right_without_key=without_key[1],
    )


def _table(qualified: str) -> str:
    return catalog.qualified(*qualified.split(".", 1))


def _month(column: str) -> str:
    return f"CAST(date_trunc('month', TRY_CAST({ident(column)} AS TIMESTAMP)) AS DATE)"


def _key_exprs(cat: Catalogue, left: Side, right: Side, by_month: bool) -> tuple[list, list]:
    """The SQL of each key pair, made comparable: the first pair by month when asked (a text
    column read as a date), a pair of different type families compared as text."""
    lx, rx = [], []
    for i, (lk, rk) in enumerate(zip(left.keys, right.keys, strict=True)):
        lf = family(cat.type_of(left.table, lk))
        rf = family(cat.type_of(right.table, rk))
        if by_month and i == 0:
            for col, fam in ((lk, lf), (rk, rf)):
                if fam not in ("temporal", "text"):
                    raise ValidationFailed(f"'{col}' is not a date: it cannot be read by month.")
            lx.append(_month(lk))
            rx.append(_month(rk))
        elif lf != rf:
            lx.append(f"CAST({ident(lk)} AS VARCHAR)")
            rx.append(f"CAST({ident(rk)} AS VARCHAR)")
        else:
            lx.append(ident(lk))
            rx.append(ident(rk))
    return lx, rx


def _measure_sql(cat: Catalogue, side: Side) -> str:
    if side.measure == ROWS:
        return "count(*)"
    if family(cat.type_of(side.table, side.measure)) != "numeric":
        raise ValidationFailed(f"'{side.measure}' of {side.name} is not a number to sum.")
    return f"sum({ident(side.measure)})"


def measure_label(side: Side) -> str:
    return f"{'rows' if side.measure == ROWS else side.measure} ({side.name})"


def validate(cat: Catalogue, left: Side, right: Side) -> None:
    """Refuses a table or column not in the catalogue, and key lists that do not pair up."""
    for side in (left, right):
        cat.check(side.table, side.keys)
        if side.measure != ROWS:
            cat.check(side.table, [side.measure])
            if side.measure in cat.personal.get(side.table, {}):
                raise ValidationFailed(
                    f"'{side.measure}' of {side.name} is personal data: it cannot be summed."
                )
        if len(set(side.keys)) != len(side.keys):
            raise ValidationFailed(f"A key column of {side.name} is chosen twice.")
    if not left.keys or len(left.keys) != len(right.keys):
        raise ValidationFailed("Pick as many key columns on each side (at least one).")
    if len(left.keys) > MAX_KEYS:
        raise ValidationFailed(f"Pick at most {MAX_KEYS} key columns.")


CHOICES = ("left", "right", "lkey", "rkey", "lmeasure", "rmeasure", "bymonth")


@dataclass(frozen=True)
class Combination:
    """Two sides, checked against a catalogue, and whether the first keys pair by month."""

    left: Side
    right: Side
    by_month: bool = False


def combination(cat: Catalogue, choices: Mapping[str, Any]) -> Combination:
    """The combination `choices` names, as the Combine URL holds them (CHOICES: tables and
    measures by name, keys as lists of names, bymonth "1"/"0" or a bool), checked against
    `cat`: NotInCatalogue for a table or column outside it, ValidationFailed for the rest.
    The one parser of a combination: the page and sheet.export both use it."""
    if set(choices) - set(CHOICES):
        raise ValidationFailed(f"A combination names only {', '.join(CHOICES)}.")

    def name(key: str, default: str | None = None) -> str:
        value = choices.get(key) or default
        if not isinstance(value, str):
            raise ValidationFailed(f"{key} must be the name of a table or column.")
        return value

    def names(key: str) -> tuple[str, ...]:
        value = choices.get(key)
        if not isinstance(value, list | tuple) or not all(isinstance(k, str) for k in value):
            raise ValidationFailed(f"{key} must be a list of column names.")
        return tuple(value)

    by_month = choices.get("bymonth") or False
    by_month = by_month == "1" if by_month in ("1", "0") else by_month
    if not isinstance(by_month, bool):
        raise ValidationFailed("bymonth must be 1 or 0.")
    left = Side(name("left"), names("lkey"), name("lmeasure", ROWS))
    right = Side(name("right"), names("rkey"), name("rmeasure", ROWS))
    validate(cat, left, right)
    return Combination(left, right, by_month)


def combine(
    engine: Engine, cat: Catalogue, left: Side, right: Side, *, by_month: bool = False
) -> Combined:
    """Each side summed by its keys, joined FULL OUTER in DuckDB; `match` says which side a
    key row came from. Rows with an empty key are counted, not joined."""
    validate(cat, left, right)
    lx, rx = _key_exprs(cat, left, right, by_month)
    n = len(lx)
    ks = [f"k{i}" for i in range(n)]

    def side_sql(side: Side, exprs: list[str]) -> str:
        keys = ", ".join(f"{e} AS k{i}" for i, e in enumerate(exprs))
        return (f"SELECT {keys}, {_measure_sql(cat, side)} AS m, count(*) AS n "
                f"FROM {_table(side.table)} GROUP BY ALL")  # fmt: skip

    null = " OR ".join(f"{k} IS NULL" for k in ks)
    sql = (
        f"WITH l AS ({side_sql(left, lx)}), r AS ({side_sql(right, rx)}) "
        f"SELECT {', '.join(f'coalesce(l.{k}, r.{k}) AS {k}' for k in ks)}, "
        "l.m AS lm, r.m AS rm, "
        f"CASE WHEN l.n IS NULL THEN '{RIGHT_ONLY}' WHEN r.n IS NULL THEN '{LEFT_ONLY}' "
        f"ELSE '{BOTH}' END AS {MATCH}, "
        f"(SELECT coalesce(sum(n), 0) FROM l WHERE {null}) AS l_nokey, "
        f"(SELECT coalesce(sum(n), 0) FROM r WHERE {null}) AS r_nokey "
        f"FROM (SELECT * FROM l WHERE NOT ({null})) AS l "
        f"FULL OUTER JOIN (SELECT * FROM r WHERE NOT ({null})) AS r "
        f"ON {' AND '.join(f'l.{k} = r.{k}' for k in ks)} "
        f"ORDER BY {', '.join(f'{i + 1} NULLS LAST' for i in range(n))}"
    )
    sources = {left.table.split(".")[0], right.table.split(".")[0]}
    try:
        df = catalog.run(engine, sql, {}, sources)  # SourceUnavailable: a database went away
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationFailed(f"These tables cannot be combined: {one_line(first, 200)}") from exc
    without = (int(df["l_nokey"].iloc[0]), int(df["r_nokey"].iloc[0])) if len(df) else (0, 0)
    lm, rm = measure_label(left), measure_label(right)
    if lm == rm:
        lm, rm = f"{lm} left", f"{rm} right"
    names = dict(zip(ks, left.keys, strict=True)) | {"lm": lm, "rm": rm}
    df = df.drop(columns=["l_nokey", "r_nokey"]).rename(columns=names)
    return from_frame(
        df, list(left.keys), [lm], [rm], left.name, right.name,
        by_month=by_month, without_key=without, pii=_pii_keys(cat, left, right),
    )  # fmt: skip


def _pii_keys(cat: Catalogue, left: Side, right: Side) -> dict[str, str]:
    """Key columns holding personal data on either side: {left key name: kind}."""
    kinds: dict[str, str] = {}
    for lk, rk in zip(left.keys, right.keys, strict=True):
        kind = cat.personal.get(left.table, {}).get(lk) or cat.personal.get(right.table, {}).get(rk)
        if kind:
            kinds[lk] = kind
    return kinds
