"""The per-process objects the pages share: the settings and the engine, made once."""

from __future__ import annotations

import streamlit as st

from lib.config.settings import Settings, load_settings
from lib.reading.engine import Engine


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner=False)
def engine() -> Engine:
    from lib.actions.context import ensure_records

    s = settings()
    # The app's own tables in the shop (refunds) before anything reads them: a shop no
    # action has written to yet still has every table the configuration declares.
    ensure_records(s)
    return Engine(s.sources, s.queries_dir)
