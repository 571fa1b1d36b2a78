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
    s = settings()
    return Engine(s.sources, s.queries_dir)
