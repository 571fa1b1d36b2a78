"""The app's pages: file, url path, title, icon. Home.py registers those a user may open.

The page files live in app_pages/, not pages/: Streamlit treats a pages/ folder beside the
entry script as an old-style multipage app and, on a server's first run (and on every
AppTest), routes a URL straight to that file without running Home.py's sign-in first.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from lib.access import policy
from lib.access.principal import Principal

PRINCIPAL_KEY = "principal"
NOT_PERMITTED = "Not permitted: your role may not open this page."


@dataclass(frozen=True)
class PageSpec:
    file: str
    url_path: str
    title: str
    icon: str


PAGES = (
    PageSpec("app_pages/home.py", "", "Home", ":material/home:"),
    PageSpec("app_pages/customers.py", "customers", "Customers", ":material/group:"),
    PageSpec("app_pages/orders.py", "orders", "Orders & payments", ":material/receipt_long:"),
    PageSpec("app_pages/seller.py", "seller", "Seller portal", ":material/storefront:"),
    PageSpec("app_pages/dashboard.py", "dashboard", "Dashboard", ":material/monitoring:"),
    PageSpec("app_pages/spreadsheets.py", "spreadsheets", "Spreadsheets", ":material/table_chart:"),
    PageSpec("app_pages/integrations.py", "integrations", "Integrations", ":material/hub:"),
    PageSpec("app_pages/audit.py", "audit", "Audit log", ":material/policy:"),
    PageSpec(
        "app_pages/notifications.py", "notifications", "Notifications", ":material/notifications:"
    ),
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


def signed_out_navigation() -> None:
    """Before sign-in every page URL is valid and shows only the login form, so a deep link
    (/orders?status=pending) keeps its path and query and lands on its view after sign-in."""
    st.navigation(
        [
            st.Page(
                _login_stand_in,
                title=p.title,
                url_path=p.url_path or None,
                default=p.url_path == "",
            )
            for p in PAGES
        ],
        position="hidden",
    )


def _login_stand_in() -> None:
    """Nothing: the login form is already on the page."""


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
