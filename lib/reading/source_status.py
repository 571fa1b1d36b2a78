"""What the Home and Integrations pages show for each source (Engine.status): reachable or
not, its tables' row counts (a snapshot whose first copy is still running is left out), and
when it was refreshed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from lib.errors import BackofficeError
from lib.reading.source_state import SourceStatus

if TYPE_CHECKING:
    from lib.reading.engine import Engine


def statuses(engine: Engine) -> list[SourceStatus]:
    """Every source: reachable or not, its tables' row counts, when it was refreshed."""
    out = []
    for name, cfg in engine.sources.items():
        try:
            engine.ensure(name)
        except BackofficeError as exc:
            out.append(SourceStatus(name, cfg.kind, False, error=str(exc)))
            continue
        state = engine._state[name]
        counts: dict[str, int] = {}
        try:
            cur = engine.cursor()
            for table in state.tables:
                if table in engine.snapshots.tables(name) and not engine.snapshots.built(
                    name, table
                ):
                    continue  # its first copy is still being made
                counts[table] = cur.execute(f'SELECT count(*) FROM {name}."{table}"').fetchone()[0]
        except duckdb.Error as exc:
            out.append(SourceStatus(name, cfg.kind, False, error=engine._scrub(cfg, exc)))
            continue
        out.append(
            SourceStatus(
                name,
                cfg.kind,
                True,
                tables=counts,
                modes=dict(state.tables),
                refreshed_at=state.refreshed_at,
            )
        )
    return out
