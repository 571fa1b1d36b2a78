"""Integrations › Recent runs: every recorded run (lib.workflows.runs), newest first; picking
one opens it above (the page's `run=`). Parameters are shown as the store keeps them: masked
before they were stored (lib.workflows.runs.mask_params)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from lib.ui import url_state
from lib.workflows.runs import RunRecord

K = "integrations_recent"
GEN = f"{K}_gen"  # bumped after a pick opens a run, so the table starts with no row picked
LIMIT = 50
COLUMNS = ["when", "who", "workflow", "params", "outcome", "rows", "failed", "seconds", "run"]


def table_key() -> str:
    return f"{K}_{st.session_state.get(GEN, 0)}"


def when_text(moment: datetime | str | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def params_text(params: Mapping[str, Any] | None) -> str:
    return ", ".join(
        f"{k}={url_state.encode(v)}" for k, v in (params or {}).items() if v is not None
    )


def frame(records: Sequence[RunRecord], titles: Mapping[str, str]) -> pd.DataFrame:
    rows = [
        {
            "when": when_text(r.started_at),
            "who": r.actor,
            "workflow": titles.get(r.workflow, r.workflow),
            "params": params_text(r.params),
            "outcome": r.outcome,
            "rows": r.rows,
            "failed": len(r.failed or []),
            "seconds": None if r.seconds is None else round(r.seconds, 1),
            "run": r.id,
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def picked(records: Sequence[RunRecord], titles: Mapping[str, str]) -> RunRecord | None:
    """The recent runs as a table; the record of a row picked in this run, if any."""
    if not records:
        st.caption("No run yet.")
        return None
    event = st.dataframe(
        frame(records, titles),
        hide_index=True,
        width="stretch",
        key=table_key(),
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "rows": st.column_config.NumberColumn("rows", format="localized"),
            "seconds": st.column_config.NumberColumn("seconds", format="%.1f"),
            "run": st.column_config.TextColumn("run", help="Open a run by picking its row"),
        },
    )
    rows = event.selection.rows if event is not None else []
    if not rows or rows[0] >= len(records):
        return None
    st.session_state[GEN] = st.session_state.get(GEN, 0) + 1
    return records[rows[0]]
