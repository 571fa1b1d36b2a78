"""Each role sees only its pages; a page it may not open shows only "not permitted"."""

import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from lib.access import policy
from lib.access.principal import Principal
from lib.config.settings import ROOT
from lib.ui.navigation import NOT_PERMITTED, PAGES, PRINCIPAL_KEY
from tests.pages.helpers import sign_in


def links(at) -> set[str]:
    return {el.proto.label for el in at.sidebar.get("page_link")}


def test_sidebar_lists_only_the_pages_of_the_role(app):
    at = sign_in(app(), "support", "support-demo")
    assert links(at) == {
        p.title for p in PAGES if policy.may_open(at.session_state[PRINCIPAL_KEY], p.url_path)
    }
    assert "Dashboard" not in links(at)
    at = sign_in(app(), "analyst", "analyst-demo")
    assert "Dashboard" in links(at)
    assert "Orders & payments" in links(at)  # read-only: a dashboard bar's orders
    assert "Notifications" not in links(at)
    at = sign_in(app(), "admin", "admin-demo")
    assert "Notifications" in links(at)


SELLER = Principal("seller1", "Seller One", ("seller",), tenant=1)


@pytest.mark.parametrize(
    "page", [p for p in PAGES if not policy.may_open(SELLER, p.url_path)], ids=lambda p: p.url_path
)
def test_a_page_refuses_a_role_that_may_not_open_it(app, page):
    at = AppTest.from_file(str(ROOT / page.file), default_timeout=30)
    at.session_state[PRINCIPAL_KEY] = SELLER
    at.run()
    assert [e.value for e in at.error] == [NOT_PERMITTED]
    assert not at.title and not at.dataframe and not at.metric


def test_a_page_refuses_when_nobody_is_signed_in(app):
    at = AppTest.from_file(str(ROOT / "app_pages/dashboard.py"), default_timeout=30).run()
    assert [e.value for e in at.error] == [NOT_PERMITTED]
    assert not at.metric


def test_every_page_in_the_policy_is_a_page_of_the_app():
    roles = tomllib.loads(policy.POLICY_FILE.read_text(encoding="utf-8"))["roles"]
    granted = {page for spec in roles.values() for page in spec.get("pages", ())}
    assert granted == {p.url_path for p in PAGES}
    assert all((ROOT / p.file).is_file() for p in PAGES)
