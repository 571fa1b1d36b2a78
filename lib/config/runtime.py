"""The per-process objects the pages share: the settings and the engine, made once."""

from __future__ import annotations

import threading

import streamlit as st

from lib.config.settings import Settings, load_settings
from lib.reading.engine import Engine
from lib.reading.source_query import SourceQueries


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return load_settings()


RETIRED_ENGINE_GRACE_S = 60.0  # a run still reading the replaced engine finishes first


def _retire(old: Engine) -> None:
    """A replaced engine (a sheet connected: runtime.engine.clear()) stops its snapshot thread
    and frees its DuckDB memory once the runs that still hold it are done."""
    timer = threading.Timer(RETIRED_ENGINE_GRACE_S, old.close)
    timer.daemon = True
    timer.start()


@st.cache_resource(show_spinner=False, on_release=_retire)
def engine() -> Engine:
    from lib.actions.context import ensure_records

    s = settings()
    # The app's own tables in the shop (refunds) before anything reads them: a shop no
    # action has written to yet still has every table the configuration declares.
    ensure_records(s)
    return Engine(s.sources, s.queries_dir)


@st.cache_resource(show_spinner=False)
def source_queries() -> SourceQueries:
    """Queries that run on their source's own database (lib.reading.source_query): one
    small connection pool per SQL source, for the process."""
    s = settings()
    return SourceQueries(s.sources, s.queries_dir)
