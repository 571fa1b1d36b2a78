"""The sign-in cookie's token: signed, expiring, naming one browser session."""

from datetime import UTC, datetime, timedelta

import jwt

from lib.access import session_cookie

KEY = "k" * 48
DAY = timedelta(days=1)


def test_a_token_names_its_user_session_and_lifetime():
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    token = session_cookie.decode(session_cookie.issue("operator", KEY, DAY, now=now), KEY, now)
    assert token is not None
    assert token.username == "operator"
    assert token.issued_at == now and token.expires_at == now + DAY
    assert len(token.session_id) >= 16


def test_each_sign_in_is_a_session_of_its_own():
    a = session_cookie.decode(session_cookie.issue("operator", KEY, DAY), KEY)
    b = session_cookie.decode(session_cookie.issue("operator", KEY, DAY), KEY)
    assert a and b and a.session_id != b.session_id


def test_an_expired_token_is_refused():
    then = datetime.now(UTC) - 2 * DAY
    assert session_cookie.decode(session_cookie.issue("operator", KEY, DAY, now=then), KEY) is None


def test_a_token_signed_with_another_key_is_refused():
    raw = session_cookie.issue("admin", "x" * 48, DAY)
    assert session_cookie.decode(raw, KEY) is None


def test_a_tampered_token_is_refused():
    raw = session_cookie.issue("seller1", KEY, DAY)
    header, payload, signature = raw.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"seller1", b"admin00")
    ).decode()
    assert session_cookie.decode(f"{header}.{forged_payload}.{signature}", KEY) is None


def test_a_token_without_a_session_or_lifetime_is_refused():
    # streamlit-authenticator's own cookie (username + exp_date) is not ours.
    legacy = jwt.encode({"username": "admin", "exp_date": 4102444800}, KEY, algorithm="HS256")
    assert session_cookie.decode(legacy, KEY) is None
    assert session_cookie.decode("", KEY) is None
    assert session_cookie.decode("not a token", KEY) is None
    assert session_cookie.decode(None, KEY) is None
