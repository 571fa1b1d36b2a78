"""A browser session's sign-in, as the app sees it: one token per sign-in, ended by logout."""

from lib.access.auth import _SESSION, SESSION_ENDED
from lib.ui.navigation import PRINCIPAL_KEY
from tests.pages.helpers import sign_in


def test_sign_in_starts_a_session_whose_cookie_is_written_on_every_run(app):
    at = sign_in(app(), "support", "support-demo")
    assert at.session_state[PRINCIPAL_KEY].username == "support"
    assert at.session_state[_SESSION].username == "support"
    scripts = [h.proto.body for h in at.sidebar.get("html")]
    assert any("backoffice_session" in body and "Max-Age=86400" in body for body in scripts)
    at.run()  # a later run draws the writer again: a rerun cannot lose the write
    assert any("backoffice_session" in h.proto.body for h in at.sidebar.get("html"))


def test_logout_in_one_tab_signs_the_other_out_on_its_next_run(app):
    first = sign_in(app(), "support", "support-demo")
    second = app()  # another tab of the same browser: same cookie, so same session
    second.session_state[_SESSION] = first.session_state[_SESSION]
    second.run()
    assert second.session_state[PRINCIPAL_KEY].username == "support"

    first.button(key="sign_out").click().run()
    assert [t.label for t in first.text_input] == ["Username", "Password"]
    deleting = [h.proto.body for h in first.get("html")]
    assert any("backoffice_session" in b and "Max-Age=0" in b for b in deleting)

    second.run()
    assert [t.label for t in second.text_input] == ["Username", "Password"]
    assert SESSION_ENDED in [i.value for i in second.info]
    assert PRINCIPAL_KEY not in second.session_state
