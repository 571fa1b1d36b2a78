"""Home through AppTest: sign-in, refusal, and the sources overview."""

from tests.pages.conftest import sign_in


def texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.title])


def test_sign_in_shows_the_sources_overview(app):
    at = sign_in(app(), "operator", "operator-demo")
    assert not at.exception
    assert "Signed in as **Oscar Operator** (operator)" in texts(at)
    sources = at.dataframe[0].value.set_index("source")
    assert sources.loc["crm", "status"] == "reachable"
    assert sources.loc["crm", "rows"] >= 2000  # customers (live) + its snapshot
    assert sources.loc["shop", "status"] == "reachable"
    assert sources.loc["sheets", "status"] == "reachable"
    assert sources.loc["support", "status"] == "reachable"


def test_an_unreachable_back_end_is_named_and_the_rest_still_show(app):
    at = sign_in(app(), "admin", "admin-demo")
    sources = at.dataframe[0].value.set_index("source")
    # This test's config points the REST sources at a closed port.
    assert sources.loc["customer_api", "status"] == "unavailable"
    assert "customer_api" in sources.loc["customer_api", "error"]
    assert sources.loc["shop", "status"] == "reachable"
    assert any("customer_api" in w.value for w in at.warning)


def test_wrong_password_is_refused(app):
    at = sign_in(app(), "operator", "not-the-password")
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
    assert "Signed in as" not in texts(at)
    assert not at.dataframe


def test_unknown_user_is_refused_the_same_way(app):
    at = sign_in(app(), "nobody", "operator-demo")
    assert [e.value for e in at.error] == ["Username or password is incorrect."]
