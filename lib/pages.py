"""The app's pages: file, url path, title, icon. Home.py registers those a user may open."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from lib import policy
from lib.principal import Principal

PRINCIPAL_KEY = "principal"


@dataclass(frozen=True)
class PageSpec:
    file: str
    url_path: str
    title: str
    icon: str


PAGES = (
    PageSpec("pages/home.py", "", "Home", ":material/home:"),
    PageSpec("pages/dashboard.py", "dashboard", "Dashboard", ":material/monitoring:"),
)


def allowed_pages(principal: Principal) -> list[PageSpec]:
    return [p for p in PAGES if policy.may_open(principal, p.url_path)]


def require(url_path: str) -> Principal:
    """Each page's own check: who is signed in, and may they open this page.

    Shows a plain "not permitted" and stops the script otherwise, so nothing of the page
    renders even when the URL was typed by hand.
    """
    principal = st.session_state.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal) or not policy.may_open(principal, url_path):
        st.error("Not permitted: your role may not open this page.", icon=":material/block:")
        st.stop()
    return principal
