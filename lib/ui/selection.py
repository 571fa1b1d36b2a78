"""A table to act on one row at a time, and the actions run from its buttons, with their
results kept for lib.ui.widgets.results_panel (the Notifications page's tabs).

    results_panel(RESULTS)
    row = selected_row(frame, KEY, order=ORDER, config=CONFIG, hint="Select a ...")
    st.button("Retry", on_click=run_action,
              args=(RESULTS, "Retry", "notification.retry", principal),
              kwargs={"forget": KEY, "message_id": row["id"]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from lib import actions
from lib.access.principal import Principal
from lib.ui import session_guard
from lib.ui.widgets import keep_results


def selected_row(
    frame: pd.DataFrame,
    key: str,
    *,
    order: Sequence[str],
    config: Mapping[str, Any],
    hint: str,
) -> dict[str, Any] | None:
    """`frame` as a table whose rows are selected one at a time (nothing shown when it is
    empty); the selected row as a dict, or None with `hint` below the table."""
    if frame.empty:
        return None
    event = st.dataframe(
        frame,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_order=list(order),
        column_config=dict(config),
    )
    rows = event.selection.rows if event else []
    if not rows or rows[0] >= len(frame):
        st.caption(hint)
        return None
    return frame.iloc[rows[0]].to_dict()


def run_action(
    results_key: str,
    title: str,
    name: str,
    principal: Principal,
    *,
    forget: str | None = None,
    **params: Any,
) -> None:
    """A button's callback: run action `name` as the session's user and keep its result
    under `results_key`; `forget` (a table's key): its selection is dropped, the row having
    changed or moved."""
    result = actions.run(name, session_guard.actor(principal), **params)
    keep_results(results_key, title, [result])
    if forget is not None:
        st.session_state.pop(forget, None)
