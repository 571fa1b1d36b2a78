"""Seller portal through AppTest: tenant isolation, filters from the URL, create, edit, deactivate.

The demo data is shared by every test of the session (and by the browser tests): each test
works on products it creates itself, with a unique name, and finds them by searching.
"""

from __future__ import annotations

import uuid

import pytest
from streamlit.testing.v1 import AppTest

from lib import actions
from lib.access.principal import Principal
from lib.ui import seller
from lib.ui.navigation import NOT_PERMITTED, PRINCIPAL_KEY
from tests.pages.helpers import apps_for, config_without, open_page, run_page_file, sign_in
from tests.stack import shop

pytestmark = pytest.mark.pages

PAGE = "app_pages/seller.py"
EDITOR, EMPTY, PAGE_SIZE = seller.PAGE.key("editor"), seller.PAGE.empty, seller.PAGE.page_size
SELLER1 = Principal("seller1", "Seller One (tenant 1)", ("seller",), tenant=1)
ADMIN = Principal("admin", "Admin", ("admin",))


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def open_seller(app, user: str = "seller1", password: str = "seller1-demo", **params) -> AppTest:
    return open_page(app, PAGE, user, password, **params)


def table(at: AppTest):
    return at.data_editor(key=EDITOR).value


def alerts(at: AppTest) -> list[str]:
    return [e.value for e in (*at.success, *at.warning, *at.error, *at.info)]


def new_product(actor: Principal, name: str, price: int = 10_000, stock: int = 5) -> int:
    result = actions.run(
        "product.create", actor, name=name, price=price, stock=stock, category="home"
    )
    assert result.ok, result.message
    return int(result.data["product_id"])


# --- whose catalogue -------------------------------------------------------------------------


def test_a_seller_sees_only_its_own_products_whatever_tenant_the_url_names(app, demo_dir):
    at = open_seller(app, tenant="2")
    assert [s.value for s in at.subheader] == ["Seoul Style Co."]
    df = table(at)
    assert len(df) > 0 and set(df["seller_id"]) == {1}
    (own,) = shop(demo_dir, "SELECT count(*) FROM products WHERE seller_id = 1")[0]
    assert any(c.value.endswith(f"of {own} · page 1 of {-(-own // PAGE_SIZE)}") for c in at.caption)
    # The ignored tenant is dropped from the URL, and every other page shows tenant 1 too.
    assert "tenant" not in at.query_params
    at.button(key="seller_page_next").click().run()
    assert set(table(at)["seller_id"]) == {1}
    assert at.query_params["page"] == "2"


def test_admin_with_a_tenant_in_the_url_sees_that_sellers_products(app):
    at = open_seller(app, "admin", "admin-demo", tenant="2")
    assert at.selectbox(key="seller_tenant").value == 2
    assert [s.value for s in at.subheader] == ["Hangang Electronics"]
    assert set(table(at)["seller_id"]) == {2}
    at.selectbox(key="seller_tenant").set_value(3).run()
    assert set(table(at)["seller_id"]) == {3}
    assert at.query_params["tenant"] == "3"


def test_filters_come_from_the_url_and_an_empty_result_says_so(app):
    at = open_seller(app, category="sports", status="active", sort="-price")
    assert at.selectbox(key="seller_category").value == "sports"
    assert at.selectbox(key="seller_status").value == "active"
    df = table(at)
    assert set(df["category"]) == {"sports"} and df["active"].all()
    assert list(df["price"]) == sorted(df["price"], reverse=True)
    at.text_input(key="seller_q").input(unique("Nothing like this")).run()
    assert [i.value for i in at.info] == [EMPTY]
    assert not at.data_editor


def test_a_new_filter_goes_back_to_the_first_page(app):
    at = open_seller(app, page="2")
    assert at.query_params["page"] == "2"
    second = list(table(at)["id"])
    at.selectbox(key="seller_status").set_value("active").run()
    assert "page" not in at.query_params and at.query_params["status"] == "active"
    assert any(c.value.startswith("Rows 1–") and " · page 1 of " in c.value for c in at.caption)
    assert list(table(at)["id"]) != second and table(at)["active"].all()


def test_an_operator_may_not_open_the_seller_page(app):
    at = sign_in(app(), "operator", "operator-demo")
    operator = at.session_state[PRINCIPAL_KEY]
    assert "Seller portal" not in {el.proto.label for el in at.sidebar.get("page_link")}
    # Typed by hand, /seller runs the page file for this principal: it refuses.
    page = run_page_file(operator, PAGE)
    assert [e.value for e in page.error] == [NOT_PERMITTED]
    assert not page.data_editor and not page.title and not page.button


# --- create ----------------------------------------------------------------------------------


def fill_new_product(at: AppTest, name: str, price: int, stock: int = 3) -> AppTest:
    at.button(key="seller_new").click().run()
    at.text_input(key="seller_new_name").input(name)
    at.selectbox(key="seller_new_category").set_value("home")
    at.number_input(key="seller_new_price").set_value(price)
    at.number_input(key="seller_new_stock").set_value(stock)
    return at.button(key="seller_create").click().run()


def test_creating_a_product_priced_zero_shows_why_and_creates_nothing(app, demo_dir):
    name = unique("Zero Price Mug")
    at = fill_new_product(open_seller(app), name, price=0)
    assert "Not created: Price must be at least 1." in [e.value for e in at.error]
    assert shop(demo_dir, "SELECT count(*) FROM products WHERE name = ?", name) == [(0,)]
    # The dialog stays open with what was typed, to be corrected.
    assert at.text_input(key="seller_new_name").value == name


def test_a_created_product_appears_in_the_sellers_list(app, demo_dir):
    name = unique("Walnut Tray")
    at = fill_new_product(open_seller(app), name, price=25_000, stock=7)
    assert not at.exception
    ((product_id, seller_id, price, stock, active),) = shop(
        demo_dir, "SELECT id, seller_id, price, stock, active FROM products WHERE name = ?", name
    )
    assert (seller_id, price, stock, active) == (1, 25_000, 7, 1)
    assert f"Product {product_id} created. “{name}” is on sale." in alerts(at)
    assert "seller_new_name" not in [t.key for t in at.text_input]  # the dialog closed
    assert table(at)["id"].iloc[0] == product_id  # newest first
    at.text_input(key="seller_q").input(name).run()
    df = table(at)
    assert list(df["id"]) == [product_id] and list(df["name"]) == [name]
    assert at.query_params["q"] == name


def test_admin_creates_a_product_for_the_seller_it_picked(app, demo_dir):
    name = unique("Desk Fan")
    at = fill_new_product(open_seller(app, "admin", "admin-demo", tenant="3"), name, 39_000)
    assert not at.exception
    assert shop(demo_dir, "SELECT seller_id FROM products WHERE name = ?", name) == [(3,)]


# --- edit ------------------------------------------------------------------------------------


def edit(at: AppTest, rows: dict[int, dict[str, int]]) -> AppTest:
    at.session_state[EDITOR] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    return at.run()


def test_editing_two_prices_saves_one_update_per_row(app, demo_dir):
    tag = uuid.uuid4().hex[:8]
    first = new_product(SELLER1, f"Bulk Edit A {tag}", price=11_000)
    second = new_product(SELLER1, f"Bulk Edit B {tag}", price=12_000)
    at = open_seller(app, q=tag, sort="id")
    assert list(table(at)["id"]) == [first, second]
    edit(at, {0: {"price": 11_500}, 1: {"price": 12_900, "stock": 40}})
    save = at.button(key="seller_save")
    assert save.label == "Save changes (2)" and not save.disabled
    save.click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        f"Product {first}: price updated.",
        f"Product {second}: price, stock updated.",
    ]
    assert shop(
        demo_dir, "SELECT id, price, stock FROM products WHERE id IN (?, ?)", first, second
    ) == [
        (first, 11_500, 5),
        (second, 12_900, 40),
    ]
    assert list(table(at)["price"]) == [11_500, 12_900]  # re-read after saving
    assert at.button(key="seller_save").disabled  # nothing left to save


def test_a_row_changed_meanwhile_conflicts_and_is_not_overwritten(app, demo_dir):
    tag = uuid.uuid4().hex[:8]
    product_id = new_product(SELLER1, f"Conflict Lamp {tag}", price=30_000)
    at = open_seller(app, q=tag)
    edit(at, {0: {"price": 31_000}})
    # Someone else changes the product after this screen showed it.
    assert actions.run("product.update", SELLER1, product_id=product_id, price=35_000).ok
    at.button(key="seller_save").click().run()
    assert [w.value for w in at.warning] == [
        f"Product {product_id} was changed by someone else since you opened it; "
        "reload it and try again."
    ]
    assert shop(demo_dir, "SELECT price FROM products WHERE id = ?", product_id) == [(35_000,)]
    assert list(table(at)["price"]) == [35_000]


def test_unsaved_edits_are_dropped_when_the_rows_shown_change(app, demo_dir):
    tag = uuid.uuid4().hex[:8]
    first = new_product(SELLER1, f"Stale Edit A {tag}", price=15_000)
    second = new_product(SELLER1, f"Stale Edit B {tag}", price=16_000)
    at = open_seller(app, q=tag, sort="id")
    edit(at, {0: {"price": 99_000}})
    assert at.button(key="seller_save").label == "Save changes (1)"
    # Another order: the edit of row 0 must not move to the product now shown there.
    at.selectbox(key="seller_sort_dir").set_value("desc").run()
    assert list(table(at)["id"]) == [second, first]
    assert "Unsaved edits were dropped: the list changed under them." in [
        c.value for c in at.caption
    ]
    assert at.button(key="seller_save").disabled
    assert shop(
        demo_dir, "SELECT price FROM products WHERE id IN (?, ?) ORDER BY id", first, second
    ) == [(15_000,), (16_000,)]


def test_deactivating_takes_the_chosen_product_off_sale(app, demo_dir):
    tag = uuid.uuid4().hex[:8]
    keep = new_product(SELLER1, f"Keep Basket {tag}")
    retire = new_product(SELLER1, f"Retire Basket {tag}")
    at = open_seller(app, q=tag)
    at.multiselect(key="seller_deactivate_ids").set_value([retire]).run()
    at.button(key="seller_deactivate").click().run()
    at.button(key="seller_deactivate_submit").click().run()
    assert not at.exception
    assert f"Product {retire} deactivated." in [s.value for s in at.success]
    assert shop(
        demo_dir, "SELECT id, active FROM products WHERE id IN (?, ?) ORDER BY id", keep, retire
    ) == [(keep, 1), (retire, 0)]
    df = table(at).set_index("id")
    assert bool(df.loc[keep, "active"]) and not bool(df.loc[retire, "active"])
    assert at.multiselect(key="seller_deactivate_ids").options == [f"#{keep} Keep Basket {tag}"]


# --- a source that is down -------------------------------------------------------------------


def test_a_shop_that_is_down_is_named_and_the_page_still_renders(tmp_path, demo_dir, monkeypatch):
    with apps_for(config_without(tmp_path, demo_dir, "shop"), monkeypatch) as make:
        at = open_seller(make)
        errors = [e.value for e in at.error]
        assert any(e.startswith("Source 'shop' is unavailable") for e in errors), errors
        assert not at.data_editor
        assert at.text_input(key="seller_q") is not None  # the filters still render
