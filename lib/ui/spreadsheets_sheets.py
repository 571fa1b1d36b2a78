"""The Sheets section (stub)."""

from __future__ import annotations

import streamlit as st

from lib.access.principal import Principal


def render(principal: Principal) -> None:
    st.subheader("Sheets")
