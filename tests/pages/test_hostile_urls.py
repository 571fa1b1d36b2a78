"""Every page opened with hostile URL parameters: no exception, no internal error text, no
markdown from the URL rendered, and the page still draws its title.

One signed-in AppTest per page: for each round, every query parameter a page may read gets
a hostile value (rotating, so over the rounds each parameter sees every value), the test
opens the page, then leaves it (Streamlit drops a page's widget state when another page
runs, so the next round enters it afresh and seeds from the URL again).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from lib.ui.navigation import PAGES, PageSpec
from tests.pages.helpers import sign_in

pytestmark = pytest.mark.pages

# Every query parameter a page reads (lib/url_state.py and the views' P_* names). A page
# gets all of them: the ones it does not read must be ignored just as quietly.
PARAMS = (
    "q",
    "id",
    "page",
    "sort",
    "status",
    "segment",
    "category",
    "from",
    "to",
    "min",
    "max",
    "seller",
    "tenant",
    "actor",
    "action",
    "outcome",
    "target",
    "section",
    "sheet",
    "what",
    "view",
    "left",
    "right",
    "lkey",
    "rkey",
    "lmeasure",
    "rmeasure",
    "bymonth",
    "chart",
    "show",
    "workflow",
    "run",
    "tier",
    "limit",
    "priority",
    "channel",
)
MARKDOWN = "**bold** [x](http://evil) :red[red] `code`"
CODES = ":material/home: :smile:"  # a Material icon and an emoji shortcode
HOSTILE: tuple[str | list[str], ...] = (
    "bogus",
    "1" + "0" * 30,  # 10**30
    "9" * 10_240,  # 10 kB, and more digits than int() accepts
    "x" * 10_240,
    "-5",
    "²",
    "١٢",  # Arabic-Indic digits: int() reads them as 12
    "1_000",
    " 7 ",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    MARKDOWN,
    CODES,
    "",
    ["pending", "bogus", "2"],  # a repeated key
)
# Text a user must never see: a traceback's words, a raw exception, a file path.
INTERNAL = (
    "Traceback",
    "Exception",
    "Error:",
    "invalid literal",
    "out of range",
    "overflow",
    ".py",
    "/tmp/",
    "/work/",
)

ADMIN = ("admin", "admin-demo")
SELLER1 = ("seller1", "seller1-demo")
CASES = [(p, ADMIN) for p in PAGES] + [(p, SELLER1) for p in PAGES if p.url_path == "seller"]


def shown_text(at: AppTest) -> list[str]:
    """The source of every element that Streamlit renders as markdown."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error")
    kinds += ("success", "toast")
    return [str(el.value) for kind in kinds for el in getattr(at, kind)]


def renders_markdown(text: str) -> bool:
    """Whether MARKDOWN or CODES from the URL would render as markdown (bold, a link, colour,
    code, a bare URL made a link, an icon, an emoji) rather than as the characters it is."""
    return bool(
        "**bold**" in text
        or re.search(r"(?<!\\)\]\(", text)
        or ":red[" in text
        or "`code`" in text
        or "http://evil" in text
        or ":material/home:" in text
        or ":smile:" in text
    )


def round_params(round_no: int) -> dict[str, str | list[str]]:
    return {name: HOSTILE[(round_no + i) % len(HOSTILE)] for i, name in enumerate(PARAMS)}


def elsewhere(page: PageSpec, user: str) -> str:
    """A quick page this user may open other than `page`, to leave it between rounds."""
    quick = ("app_pages/audit.py", "app_pages/home.py") if user == "admin" else ()
    return next(f for f in (*quick, "app_pages/home.py") if f != page.file)


@pytest.mark.parametrize(
    ("page", "login"), CASES, ids=[f"{p.url_path or 'home'}-{u}" for p, (u, _) in CASES]
)
def test_a_page_survives_hostile_url_parameters(
    app: Callable[[], AppTest], page: PageSpec, login: tuple[str, str]
) -> None:
    at = sign_in(app(), *login)
    assert not at.exception, at.exception
    leave = elsewhere(page, login[0])
    for round_no in range(len(HOSTILE)):
        params = round_params(round_no)
        at.query_params.clear()
        at.query_params.update(params)
        at.switch_page(page.file).run()
        where = f"{page.url_path or 'home'} as {login[0]}, round {round_no}"
        assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
        assert at.title, f"{where}: the page drew nothing"
        for text in shown_text(at):
            assert not [w for w in INTERNAL if w in text], f"{where}: {text[:300]!r}"
            assert not renders_markdown(text), f"{where}: {text[:300]!r}"
            assert len(text) < 1_000, f"{where}: a long value echoed back: {text[:300]!r}"
        at.query_params.clear()
        at.switch_page(leave).run()


def as_shown(text: str) -> str:
    """Markdown source as a reader sees it: escapes resolved, invisible joiners gone."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")


def test_a_product_name_with_markdown_is_shown_as_written(app: Callable[[], AppTest]) -> None:
    name = f"{MARKDOWN} {uuid.uuid4().hex[:8]}"
    at = app()
    at.query_params["q"] = name[-8:]
    sign_in(at, *SELLER1)
    at.switch_page("app_pages/seller.py").run()
    at.button(key="seller_new").click().run()
    at.text_input(key="seller_new_name").input(name)
    at.selectbox(key="seller_new_category").set_value("home")
    at.number_input(key="seller_new_price").set_value(10_000)
    at.button(key="seller_create").click().run()
    assert not at.exception
    # The result of the create names the product: in a toast and a line that stays.
    (line,) = [s.value for s in at.success]
    assert name in as_shown(line) and not renders_markdown(line)
    assert [name in as_shown(t.value) and not renders_markdown(t.value) for t in at.toast] == [True]
    # The confirmation before taking it off sale lists it by name.
    (product_id,) = at.multiselect(key="seller_deactivate_ids").options
    at.multiselect(key="seller_deactivate_ids").set_value([int(product_id.split()[0][1:])]).run()
    at.button(key="seller_deactivate").click().run()
    listed = [m.value for m in at.markdown if name[-8:] in m.value]
    assert len(listed) == 1 and name in as_shown(listed[0]) and not renders_markdown(listed[0])
