"""Sign-in for the Streamlit app, through streamlit-authenticator.

The authenticator is built once per browser session: rebuilding its credentials dict on
every rerun would reset its own failed-attempt bookkeeping.
"""

from __future__ import annotations

import streamlit as st
import streamlit_authenticator as stauth

from lib.cookie_key import cookie_key
from lib.principal import Principal
from lib.settings import Settings
from lib.users import load_users, principal_for

COOKIE_NAME = "backoffice_session"
COOKIE_DAYS = 1.0
_KEY = "_authenticator"


def _authenticator(settings: Settings) -> stauth.Authenticate:
    if _KEY not in st.session_state:
        users = load_users(settings.users_file)
        credentials = {
            "usernames": {
                name: {
                    "name": u.get("name", name),
                    "email": u.get("email", ""),
                    "password": u["password"],
                    "roles": list(u["roles"]),
                    "failed_login_attempts": 0,
                    "logged_in": False,
                }
                for name, u in users.items()
            }
        }
        st.session_state[_KEY] = stauth.Authenticate(
            credentials,
            COOKIE_NAME,
            cookie_key(settings.demo, settings.demo_dir),
            COOKIE_DAYS,
            auto_hash=False,
        )
    return st.session_state[_KEY]


def signed_in(settings: Settings) -> Principal | None:
    """Show the login form until someone signs in; then return who they are."""
    authenticator = _authenticator(settings)
    authenticator.login(location="main", fields={"Form name": "Sign in to Backoffice"})
    status = st.session_state.get("authentication_status")
    if status:
        users = load_users(settings.users_file)
        username = st.session_state.get("username")
        if username in users:
            return principal_for(users, username)
    elif status is False:
        st.error("Username or password is incorrect.")
    return None


def logout_button(settings: Settings) -> None:
    _authenticator(settings).logout("Log out", location="sidebar", key="logout")
