"""The audit log page: filters in the URL, the chain check, and who may open it."""

from tests.pages.conftest import sign_in


def test_auditor_filters_by_actor_and_checks_the_chain(app):
    sign_in(app(), "analyst", "analyst-demo")  # leaves an auth.login row by analyst
    at = app()
    at.query_params["actor"] = "analyst"
    sign_in(at, "auditor", "auditor-demo")
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception
    grid = at.dataframe[0].value
    assert len(grid) >= 1 and set(grid.actor) == {"analyst"}
    assert "auth.login" in set(grid.action)
    next(b for b in at.button if b.label == "Verify the hash chain").click().run()
    assert at.success and at.success[0].value.startswith("Chain intact")


def test_no_match_says_so(app):
    at = app()
    at.query_params["actor"] = "nobody-at-all"
    sign_in(at, "admin", "admin-demo")
    at.switch_page("app_pages/audit.py").run()
    assert [i.value for i in at.info] == ["No audit rows match these filters."]


def test_support_does_not_see_the_audit_log(app):
    at = sign_in(app(), "support", "support-demo")
    assert "Audit log" not in {el.proto.label for el in at.sidebar.get("page_link")}
