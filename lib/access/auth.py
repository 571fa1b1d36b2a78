"""Sign-in for the Streamlit app: the form, the password check, and a session that lasts.

Passwords are bcrypt hashes (lib/users). Around the check
we keep a lockout in the audit log (so it holds across app processes) and an audit row for
every success, failure, lockout and logout. The session outlives the tab through a signed
cookie (lib/session_cookie): read from the request when a browser session starts, checked
against the audit log's logouts on every run, so logging out in one tab signs the others
out on their next run and makes any copy of the cookie worthless.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from lib.access import lockout, session_cookie
from lib.access.cookie_key import cookie_key
from lib.access.principal import Principal
from lib.access.session_cookie import SessionToken
from lib.access.username_digest import digest_key, username_digest
from lib.access.users import load_users, password_matches, principal_for
from lib.audit import AuditEntry, AuditStore
from lib.config.settings import Settings

COOKIE_DAYS = 1.0  # default session lifetime; `[app] session_days` sets another
BAD_CREDENTIALS = "Username or password is incorrect."
SESSION_ENDED = "You were signed out (logged out in another tab, or the session expired)."
_SESSION = "_session_token"  # session_state: this browser session's SessionToken
_LOCKED = "_login_locked_until"
_ENDED = "_session_ended"
_CLOCK_SKEW = timedelta(hours=1)
# A bcrypt hash of no one's password: an unknown username costs the same time as a known one.
_NO_SUCH_USER = "$2b$10$VXL7QbyHUB8WdFwxCcWkWuvrKKHm08qvYkWXIZ.ii/V7.jsFEKRZG"


def audit_target(username: str, users: dict[str, Any]) -> str:
    """The name a sign-in attempt is recorded under: a typed name that is no user (maybe
    someone's e-mail address) is recorded only as a digest."""
    if username in users:
        return username
    from lib.config import runtime  # the digest key comes from the settings' secrets

    settings = runtime.settings()
    key = digest_key(settings.demo, settings.demo_dir)
    return "unknown:" + username_digest(username, key)


def check_password(store: AuditStore, users: dict[str, Any], username: str, password: str) -> bool:
    """Whether `password` is `username`'s. While the name is locked the password is not
    checked; lockout.attempt audits each attempt, or counts it while locked."""
    user = users.get(username)

    def right() -> bool:  # not called while the name is locked
        return password_matches(password, user["password"] if user else _NO_SUCH_USER) and bool(
            user
        )

    roles = tuple(user["roles"]) if user else ()
    result = lockout.attempt(store, audit_target(username, users), right, roles)
    if result.locked_until is not None:
        st.session_state[_LOCKED] = result.locked_until
    return result.ok


def audit_store() -> AuditStore:
    from lib.actions.context import current

    return current().audit


def lifetime(settings: Settings) -> timedelta:
    return timedelta(days=float(settings.app.get("session_days", COOKIE_DAYS)))


# --- sessions ----------------------------------------------------------------------------


def record_logout(store: AuditStore, token: SessionToken, roles: tuple[str, ...]) -> None:
    """Audit the logout of one browser session; its cookie is refused from now on."""
    store.append(
        AuditEntry(
            actor=token.username,
            actor_roles=roles or ("unknown",),
            action=lockout.LOGOUT,
            target_type="user",
            target_id=token.username,
            outcome="ok",
            detail={"session": token.session_id},
        )
    )


def revoked(store: AuditStore, token: SessionToken) -> bool:
    """Whether this browser session was logged out. Logouts are looked up from a while
    before the token's time, so app processes whose clocks differ cannot hide one."""
    rows = store.query(
        action=lockout.LOGOUT,
        target_id=token.username,
        since=token.issued_at - _CLOCK_SKEW,
        limit=None,
    )
    return any(row["detail"].get("session") == token.session_id for row in rows)


def _end_session() -> None:
    for key in (_SESSION, "authentication_status", "username", "name"):
        st.session_state.pop(key, None)


def _start_session(token: SessionToken) -> None:
    st.session_state[_SESSION] = token
    st.session_state["authentication_status"] = True
    st.session_state["username"] = token.username


def _current(settings: Settings, store: AuditStore, users: dict[str, Any]) -> SessionToken | None:
    """This browser session's token if it still holds: from this session, else the cookie."""
    token = st.session_state.get(_SESSION)
    if isinstance(token, SessionToken):
        if token.username in users and not _expired(token) and not revoked(store, token):
            return token
        _end_session()
        session_cookie.leave_as_is()
        st.session_state[_ENDED] = True
        return None
    key = cookie_key(settings.demo, settings.demo_dir)
    token = session_cookie.decode(session_cookie.from_request(), key)
    if token is None or token.username not in users or revoked(store, token):
        return None
    _start_session(token)
    return token


def _expired(token: SessionToken) -> bool:
    return token.expires_at <= datetime.now(UTC)


def current(settings: Settings) -> Principal | None:
    """Who this browser session belongs to, from the session or the browser's cookie; None
    if no one (or the session ended: logged out elsewhere, expired). Draws nothing."""
    users = load_users(settings.users_file)
    token = _current(settings, audit_store(), users)
    return principal_for(users, token.username) if token is not None else None


def sign_in_form(settings: Settings) -> Principal | None:
    """The sign-in form; who signed in with it in this run, or None."""
    return _sign_in_form(settings, audit_store(), load_users(settings.users_file))


def _sign_in_form(settings: Settings, store: AuditStore, users: dict[str, Any]) -> Principal | None:
    if st.session_state.pop(_ENDED, False):
        st.info(SESSION_ENDED)
    with st.form("sign_in"):
        st.subheader("Sign in to Backoffice")
        typed = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Login")
    if not submitted:
        return None
    username = typed.strip().lower()
    if not username or not password:
        st.error(BAD_CREDENTIALS)
        return None
    if not check_password(store, users, username, password):
        until = st.session_state.pop(_LOCKED, None)
        if until is not None:
            minutes = max(1, int((until - datetime.now(UTC)).total_seconds() // 60) + 1)
            st.error(
                f"Too many failed sign-ins: this account is locked for {minutes} more minutes."
            )
        else:
            st.error(BAD_CREDENTIALS)
        return None
    key = cookie_key(settings.demo, settings.demo_dir)
    raw = session_cookie.issue(username, key, lifetime(settings))
    token = session_cookie.decode(raw, key)
    assert token is not None  # just issued with this key
    _start_session(token)
    session_cookie.remember(raw, lifetime(settings))
    return principal_for(users, username)


def logout_button(principal: Principal) -> None:
    """The sidebar's Log out: ends this session, its cookie, and every tab sharing it."""

    def log_out() -> None:
        token = st.session_state.get(_SESSION)
        if isinstance(token, SessionToken):
            record_logout(audit_store(), token, principal.roles)
        _end_session()
        session_cookie.forget()

    st.sidebar.button("Log out", key="sign_out", on_click=log_out)
