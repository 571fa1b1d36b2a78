"""The sign-in cookie: a signed token that keeps a browser signed in across reloads and tabs.

Issued at sign-in, written into the browser by a script on the page, read back from the
request (`st.context.cookies`) when a new browser session starts, and revoked at logout.

Why not streamlit-authenticator's login widget: it writes its cookie through a component
that the browser renders only if the script's run completes; a run that reruns right after
sign-in (ours must, to register the role's pages) discards it, so a reload asked to sign in
again. Here the token to write is kept in the session and the writer is drawn on every run
until the session ends, so whichever run completes writes it.

The token is a JWT (HS256, the configured cookie key) naming the user, a random session id
and its lifetime. Logging out records that session id in the audit log; a token whose
session was logged out is refused everywhere, so a copy of the cookie is worthless after.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
import streamlit as st

COOKIE_NAME = "backoffice_session"
_ALGORITHM = "HS256"
_TO_WRITE = "_session_cookie_to_write"  # session_state: (value, max_age seconds) to set


@dataclass(frozen=True)
class SessionToken:
    username: str
    session_id: str
    issued_at: datetime
    expires_at: datetime


def issue(username: str, key: str, lifetime: timedelta, now: datetime | None = None) -> str:
    """A new signed token for `username`, valid for `lifetime` from now."""
    now = now or datetime.now(UTC)
    claims = {
        "sub": username,
        "sid": secrets.token_urlsafe(16),
        "iat": now.timestamp(),  # to the microsecond: a logout a moment before must not match
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, key, algorithm=_ALGORITHM)


def decode(raw: str | None, key: str, now: datetime | None = None) -> SessionToken | None:
    """The token's claims if its signature holds and it has not expired; else None."""
    if not raw:
        return None
    try:
        claims = jwt.decode(
            raw,
            key,
            algorithms=[_ALGORITHM],
            options={
                "require": ["sub", "sid", "iat", "exp"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
        token = SessionToken(
            username=str(claims["sub"]),
            session_id=str(claims["sid"]),
            issued_at=datetime.fromtimestamp(float(claims["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (jwt.PyJWTError, TypeError, ValueError, OverflowError):
        return None
    if token.expires_at <= (now or datetime.now(UTC)):
        return None
    return token


def from_request() -> str | None:
    """The cookie this browser sent when the session started (None outside a browser)."""
    try:
        return st.context.cookies.get(COOKIE_NAME)
    except Exception:  # AppTest and bare scripts have no request
        return None


def remember(raw: str, lifetime: timedelta) -> None:
    """Write `raw` into this browser's cookie on this and every later run of the session."""
    st.session_state[_TO_WRITE] = (raw, int(lifetime.total_seconds()))


def forget() -> None:
    """Delete the cookie from this browser (on this and every later run of the session)."""
    st.session_state[_TO_WRITE] = ("", 0)


def leave_as_is() -> None:
    """Write nothing more from this session: its sign-in ended elsewhere, and the browser's
    cookie may by now be a newer session's, which a late write would overwrite."""
    st.session_state.pop(_TO_WRITE, None)


def draw_writer() -> None:
    """Draw the script that sets (or deletes) the cookie, if this session has one to write.

    Drawn at the same place on every run, so the browser keeps one element and runs its
    script once per page load; a run cut short by a rerun cannot lose the write.
    """
    pending = st.session_state.get(_TO_WRITE)
    if pending is None:
        return
    value, max_age = pending
    # The token is base64url text; json.dumps quotes it for the script all the same.
    script = (
        "<script>(function(){"
        "var secure = window.location.protocol === 'https:' ? '; Secure' : '';"
        f"document.cookie = {json.dumps(COOKIE_NAME)} + '=' + {json.dumps(value)}"
        f" + '; Path=/; Max-Age={max_age}; SameSite=Strict' + secure;"
        "})();</script>"
    )
    st.html(script, unsafe_allow_javascript=True)
