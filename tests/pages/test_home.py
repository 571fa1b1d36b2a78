"""Home through AppTest: sign-in, refusal, and the sources overview."""

from tests.pages.helpers import sign_in


def texts(at) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.title])


def test_sign_in_shows_the_sources_overview(app):
    at = sign_in(app(), "operator", "operator-demo")
    assert not at.exception
    assert "Signed in as **Oscar Operator** (operator)" in texts(at)
    grid = at.dataframe[0].value
    sources = grid.groupby("source").first()
    assert sources.loc["crm", "status"] == "reachable"
    tables = grid.set_index(["source", "table"])
    assert tables.loc[("crm", "customers"), "rows"] == 2000
    assert tables.loc[("crm", "customers"), "read as"] == "live"
    assert tables.loc[("crm", "customers_snapshot"), "read as"] == "snapshot"
    assert tables.loc[("shop", "orders"), "rows"] == 20000
    assert sources.loc["shop", "status"] == "reachable"
    assert sources.loc["sheets", "status"] == "reachable"
    assert sources.loc["support", "status"] == "reachable"


def test_an_unreachable_back_end_is_named_and_the_rest_still_show(app):
    at = sign_in(app(), "admin", "admin-demo")
    sources = at.dataframe[0].value.groupby("source").first()
    # This test's config points the REST sources at a closed port.
    assert sources.loc["customer_api", "status"] == "unavailable"
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


def test_a_seller_sees_a_welcome_and_its_portal_not_the_sources(app):
    at = sign_in(app(), "seller1", "seller1-demo")
    assert not at.exception
    shown = texts(at) + "\n".join(str(m.value) for m in [*at.subheader, *at.warning, *at.info])
    assert "Seller One" in shown
    # Nothing about the back ends: no overview, no counts, no errors naming files or hosts.
    assert not at.dataframe and not at.warning and not at.error
    for word in ("Sources", "sources reachable", "crm", "customer_api", "sqlite", "127.0.0.1"):
        assert word not in shown, word
    assert "Refresh all sources" not in [b.label for b in at.button]
    links = {el.proto.label for el in at.main.get("page_link")}
    assert links == {"Seller portal", "Dashboard"}  # its own tenant's dashboard


def test_staff_may_refresh_every_source(app):
    at = sign_in(app(), "analyst", "analyst-demo")
    assert "Refresh all sources" in [b.label for b in at.button]
