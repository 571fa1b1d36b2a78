"""Sign-in for the Streamlit app, through streamlit-authenticator, plus what it lacks.

The authenticator is built once per browser session: rebuilding its credentials dict on
every rerun would reset its bookkeeping. Around its credential check we add our own
lockout (kept in the audit log, so it holds across processes) and an audit row for every
success, failure, lockout and logout; around its cookie re-login we refuse a cookie issued
before that user's last logout, so logging out revokes copies of the cookie too.
"""

from __future__ import annotations

import hashlib
import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st
import streamlit_authenticator as stauth

from lib import lockout
from lib.audit import AuditStore
from lib.cookie_key import cookie_key
from lib.principal import Principal
from lib.settings import Settings
from lib.users import load_users, principal_for

COOKIE_NAME = "backoffice_session"
COOKIE_DAYS = 1.0
_KEY = "_authenticator"
_LOCKED = "_login_locked_until"
BAD_CREDENTIALS = "Username or password is incorrect."


def audit_target(username: str, users: dict[str, Any]) -> str:
    """The name a sign-in attempt is recorded under: a typed name that is no user (maybe
    someone's e-mail address) is recorded only as a digest."""
    if username in users:
        return username
    return "unknown:" + hashlib.sha256(username.encode()).hexdigest()[:16]


def _guard(authenticator: stauth.Authenticate, store: AuditStore, users: dict[str, Any]) -> None:
    model = authenticator.authentication_controller.authentication_model
    check, login = model.check_credentials, model.login

    def checked(username: str, password: str) -> bool:
        who = audit_target(username, users)
        until = lockout.locked_until(store, who)
        if until is not None:
            lockout.record_refused_while_locked(store, who)
            st.session_state[_LOCKED] = until
            return False
        ok = bool(check(username, password))
        if ok:
            lockout.record_success(store, who, tuple(users[username]["roles"]))
        elif lockout.record_failure(store, who):
            st.session_state[_LOCKED] = datetime.now(UTC) + lockout.LOCK_FOR
        return ok

    signature = inspect.signature(login)

    def login_once(*args: Any, **kwargs: Any) -> Any:
        token = signature.bind(*args, **kwargs).arguments.get("token")
        if token and _revoked(store, token):
            return None
        return login(*args, **kwargs)

    model.check_credentials = checked
    model.login = login_once


def _revoked(store: AuditStore, token: dict[str, Any]) -> bool:
    """A cookie issued before the user's last logout no longer signs anyone in."""
    try:
        issued = datetime.fromtimestamp(float(token["exp_date"]), UTC) - timedelta(days=COOKIE_DAYS)
    except (KeyError, TypeError, ValueError):
        return True
    out = lockout.last_logout(
        store, str(token.get("username")), since=issued - timedelta(seconds=1)
    )
    return out is not None and out >= issued


def audit_store() -> AuditStore:
    from lib.actions.context import current

    return current().audit


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
        authenticator = stauth.Authenticate(
            credentials,
            COOKIE_NAME,
            cookie_key(settings.demo, settings.demo_dir),
            COOKIE_DAYS,
            auto_hash=False,
        )
        _guard(authenticator, audit_store(), users)
        st.session_state[_KEY] = authenticator
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
        until = st.session_state.pop(_LOCKED, None)
        if until is not None:
            minutes = max(1, int((until - datetime.now(UTC)).total_seconds() // 60) + 1)
            st.error(
                f"Too many failed sign-ins: this account is locked for {minutes} more minutes."
            )
        else:
            st.error(BAD_CREDENTIALS)
    return None


def logout_button(settings: Settings, principal: Principal) -> None:
    def on_logout(_: Any = None) -> None:
        lockout.record_logout(audit_store(), principal.username, principal.roles)

    _authenticator(settings).logout(
        "Log out", location="sidebar", key="sign_out", callback=on_logout
    )
