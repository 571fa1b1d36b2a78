"""Sign-in rules streamlit-authenticator lacks: lockout across sessions, audited sign-ins,
logout that revokes the cookie."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from lib.access.auth import BAD_CREDENTIALS, record_logout, revoked
from lib.access.session_cookie import SessionToken
from lib.access.username_digest import digest_key, username_digest
from lib.actions import context
from tests.pages.helpers import sign_in
from tests.stack import write_config


def login_rows(username: str) -> list[tuple[str, str]]:
    rows = context.current().audit.query(target_id=username, limit=None, newest_first=False)
    return [(r["action"], r["outcome"]) for r in rows]


def test_five_failures_lock_the_username_even_for_the_right_password(app):
    for _ in range(4):
        at = sign_in(app(), "seller2", "wrong")
        assert [e.value for e in at.error] == [BAD_CREDENTIALS]
    at = sign_in(app(), "seller2", "wrong")
    assert "locked for 15 more minutes" in at.error[0].value
    rows_when_locked = login_rows("seller2")
    assert rows_when_locked[-6:] == [("auth.login", "failed")] * 5 + [("auth.login", "locked")]
    # New browser sessions, right password: still locked (the lock lives in the audit DB),
    # and each refusal is counted, not written as a row of its own.
    for _ in range(3):
        at = sign_in(app(), "seller2", "seller2-demo")
        assert "locked" in at.error[0].value
        assert not at.sidebar.button  # no Log out: no one signed in
    assert login_rows("seller2") == rows_when_locked


def test_success_is_audited(app):
    sign_in(app(), "auditor", "auditor-demo")
    assert login_rows("auditor")[-1] == ("auth.login", "ok")


def test_a_name_that_is_no_user_is_audited_only_as_a_keyed_digest(app, demo_dir):
    typed = "kim.minsu@example.com"
    sign_in(app(), typed, "whatever")
    rows = context.current().audit.query(action="auth.login", limit=5)
    assert all("example.com" not in str(r) for r in rows)
    # Not a plain hash anyone can compute from a list of guesses: an HMAC under the
    # server's key (derived from the demo's cookie key here).
    plain = "unknown:" + hashlib.sha256(typed.encode()).hexdigest()[:16]
    keyed = "unknown:" + username_digest(typed, digest_key(True, demo_dir))
    assert rows[0]["target_id"] == keyed != plain


def test_a_logged_out_session_is_refused_and_the_others_are_not(app):
    app()  # configures the context for this test's demo data
    store = context.current().audit
    issued = datetime.now(UTC) - timedelta(minutes=5)

    def token(session_id: str) -> SessionToken:
        return SessionToken("support", session_id, issued, issued + timedelta(days=1))

    assert not revoked(store, token("laptop"))
    record_logout(store, token("laptop"), ("support",))
    assert revoked(store, token("laptop"))  # every copy of that cookie
    assert not revoked(store, token("phone"))  # another browser stays signed in


@pytest.mark.parametrize(
    ("users_line", "setting_problem"),
    [
        ("", "[app] users_file is not set: with demo = false"),
        ('users_file = "config/users.yaml"', "[app] users_file"),  # the demo users
    ],
)
def test_outside_the_demo_the_demo_users_stop_the_app_with_one_line(
    app, tmp_path, demo_dir, monkeypatch, users_line, setting_problem
):
    text = write_config(tmp_path, demo_dir).read_text(encoding="utf-8")
    text = text.replace("demo = true", "demo = false")
    text = re.sub(r"(?m)^users_file = .*$", users_line, text)
    deployed = tmp_path / "deployed.toml"
    deployed.write_text(text, encoding="utf-8")
    monkeypatch.setenv("BACKOFFICE_CONFIG", str(deployed))
    # Every other secret set as a deployment would: only the users file is wrong.
    monkeypatch.setenv("BACKOFFICE_SECRET_COOKIE_KEY", "k" * 48)
    monkeypatch.setenv("BACKOFFICE_SECRET_GATEWAY_SECRET_KEY", "test_sk_deployed")

    at = app()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [at.error[0].value]
    assert at.error[0].value.startswith(setting_problem)
    assert "\n" not in at.error[0].value
    assert not at.text_input and not at.button  # no sign-in form
    assert "Demo logins" not in "".join(c.value for c in at.caption)
