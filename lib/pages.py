"""The app's pages: file, url path, title, icon. Home.py registers those a user may open."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from lib import policy
from lib.principal import Principal

PRINCIPAL_KEY = "principal"
NOT_PERMITTED = "Not permitted: your role may not open this page."


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


def not_permitted() -> None:
    st.error(NOT_PERMITTED, icon=":material/block:")


def navigation(principal: Principal) -> st.navigation:
    """Pages this user may open, plus a stand-in at each other page's URL that only says
    "not permitted": a typed or shared URL must not fall back to some other page."""
    allowed = allowed_pages(principal)
    pages = [
        st.Page(
            p.file,
            title=p.title,
            icon=p.icon,
            url_path=p.url_path or None,
            default=p.url_path == "",
        )
        for p in allowed
    ]
    pages += [
        st.Page(not_permitted, title=p.title, url_path=p.url_path)
        for p in PAGES
        if p not in allowed
    ]
    nav = st.navigation(pages, position="hidden")
    with st.sidebar:  # page_link needs the pages registered first
        for p in allowed:
            st.page_link(p.file, label=p.title, icon=p.icon)
    return nav


def require(url_path: str) -> Principal:
    """Each page's own check: who is signed in, and may they open this page.

    Shows a plain "not permitted" and stops the script otherwise, so nothing of the page
    renders even when the URL was typed by hand.
    """
    principal = st.session_state.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal) or not policy.may_open(principal, url_path):
        not_permitted()
        st.stop()
    return principal
