"""Audit log: who did what, filterable, exportable, with a check of the hash chain."""

from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from lib.access.masking import mask_contacts
from lib.actions.context import current
from lib.audit.chain import HASHED_COLUMNS
from lib.ui import export, url_state
from lib.ui.navigation import require

require("audit")
store = current().audit
LIMIT = 500
OUTCOMES = ["ok", "denied", "conflict", "invalid", "failed", "unknown", "requested", "locked"]

st.title("Audit log")
url_state.seed_text("actor")
url_state.seed_text("action")
url_state.seed_choice("outcome", ["", *OUTCOMES], "")
url_state.seed_text("target")
url_state.seed_date("from", date.today() - timedelta(days=30))
url_state.seed_date("to", None)

c1, c2, c3, c4 = st.columns(4)
c1.text_input("Actor", key="actor", placeholder="username")
c2.text_input("Action", key="action", placeholder="e.g. order.refund")
c3.selectbox("Outcome", ["", *OUTCOMES], key="outcome", format_func=lambda o: o or "any")
c4.text_input("Target id", key="target", placeholder="e.g. 1234")
d1, d2 = st.columns(2)
d1.date_input("From", key="from")
d2.date_input("To (inclusive)", key="to", value=None)
state = st.session_state
url_state.write({k: state[k] for k in ("actor", "action", "outcome", "target", "from", "to")})


def day_start(d: date | None) -> datetime | None:
    return datetime.combine(d, time.min, UTC) if d else None


rows = store.query(
    actor=state.actor.strip() or None,
    action=state.action.strip() or None,
    outcome=state.outcome or None,
    target_id=state.target.strip() or None,
    since=day_start(state["from"]),
    until=day_start(state.to + timedelta(days=1)) if state.to else None,
    limit=LIMIT,
)
if not rows:
    st.info("No audit rows match these filters.")
else:
    df = pd.DataFrame(rows)
    df["actor_roles"] = df.actor_roles.map(", ".join)
    df["detail"] = df.detail.map(lambda d: ", ".join(f"{k}={v}" for k, v in d.items()))
    for column in ("reason", "detail"):  # free text: shown and exported with contacts masked
        df[column] = df[column].map(mask_contacts)
    shown = [c for c in HASHED_COLUMNS if c != "prev_hash"]  # every audited column
    count = f"{len(df):,} row" + ("s" if len(df) != 1 else "")
    st.caption(f"Newest {count}" + (f" (at most {LIMIT} shown)" if len(df) == LIMIT else ""))
    st.dataframe(
        df[shown],
        hide_index=True,
        width="stretch",
        column_config={
            "occurred_at": st.column_config.DatetimeColumn(
                "occurred at (UTC)", format="YYYY-MM-DD HH:mm:ss"
            )
        },
    )
    st.download_button(
        "Download CSV",
        export.to_csv(df[shown + ["prev_hash", "row_hash"]]),
        file_name="audit_log.csv",
        mime=export.CSV_MIME,
        icon=":material/download:",
    )

if st.button("Verify the hash chain", icon=":material/verified:"):
    with st.spinner("Checking every row…"):
        report = store.verify()
    if report.ok:
        st.success(
            f"Chain intact: {report.rows_checked:,} rows. Last hash {report.last_hash[:16]}…"
        )
    else:
        st.error(f"Chain broken at row {report.first_broken_id}: {report.problem}")
