"""The one way to read a secret: Streamlit's secrets file, then the environment."""

from __future__ import annotations

import os


def get_secret(name: str) -> str | None:
    """The secret `name` from .streamlit/secrets.toml, else env BACKOFFICE_SECRET_<NAME>.

    st.secrets raises when no secrets file exists at all (even for .get), so that case
    falls through to the environment instead of failing the page.
    """
    try:
        import streamlit as st

        value = st.secrets.get(name)
    except Exception:  # no secrets file, or not running under Streamlit
        value = None
    if value is None:
        value = os.environ.get(f"BACKOFFICE_SECRET_{name.upper()}")
    return None if value is None else str(value)
