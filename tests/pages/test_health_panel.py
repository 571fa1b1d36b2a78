"""The back-end health panel through AppTest: Home's line of badges for staff (nothing for a
seller), and the full panel on /integrations with a demo API that is not running shown down
with its error while the rest are up."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.demo.services.serve import ServiceThread, create_service
from tests.pages.helpers import apps_for, fragment_reruns, log_out_elsewhere, open_page, sign_in
from tests.stack import health_every, write_config

App = Callable[[], AppTest]
WAIT_S = 30  # how long a test waits for the background checker's first round (not a speed bound)
STOPPED = "order_api"
INTEGRATIONS = "app_pages/integrations.py"


@pytest.fixture
def app_one_down(
    tmp_path: Path, demo_dir: Path, demo_services: dict[str, str], monkeypatch
) -> Iterator[App]:
    """Home.py with every demo back end up but the order API (its URL a closed port)."""
    running = {name: url for name, url in demo_services.items() if name != STOPPED}
    config = write_config(tmp_path, demo_dir, running)
    config.write_text(health_every(config.read_text(encoding="utf-8"), 0.5), encoding="utf-8")
    with apps_for(config, monkeypatch) as make:
        yield make


def badges(at: AppTest) -> dict[str, str]:
    """Home's health badges: back end name -> its label ("crm up 3 ms", "order_api down")."""
    out = {}
    for m in at.markdown:
        found = re.fullmatch(r":(\w+)-badge\[(?::material/\w+: )?(.*)\]", str(m.value))
        if found:
            out[found.group(2).split(" ")[0]] = found.group(2)
    return out


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader, *at.error])


def waiting(at: AppTest) -> bool:
    """Whether some back end shows as not checked yet (table, summary or badge)."""
    unchecked = re.search(r"not checked yet|Checking \d+ back ends", texts(at))
    return bool(unchecked) or any(label.endswith("…") for label in badges(at).values())


def until_checked(at: AppTest, page: str | None = None) -> AppTest:
    """Runs the page again until the background checker has checked every back end."""
    deadline = time.monotonic() + WAIT_S
    while waiting(at):
        assert time.monotonic() < deadline, texts(at)
        time.sleep(0.2)
        if page:
            at.switch_page(page)
        at.run()
    return at


def health_grid(at: AppTest) -> pd.DataFrame:
    """The panel's table, one row per back end by name."""
    return next(d.value for d in at.dataframe if "back end" in d.value.columns).set_index(
        "back end"
    )


def test_staff_see_a_line_of_back_end_badges_on_home(app):
    for user in ("operator", "admin"):
        at = until_checked(sign_in(app(), user, f"{user}-demo"))
        assert not at.exception
        assert "Back ends" in [s.value for s in at.subheader]
        shown = badges(at)
        # Every source of the demo config and the payment gateway, up or down.
        for name in ("crm", "shop", "support", "customer_api", "order_api", "gateway"):
            assert name in shown, shown
        assert shown["crm"].startswith("crm up") and shown["crm"].endswith(" ms")
        # This test's config points the REST APIs and the gateway at a closed port.
        assert shown["customer_api"] == "customer_api down", shown
        assert re.search(r"\d+ of \d+ back ends up", texts(at))
    # The sources overview is still there beside it.
    assert at.dataframe[0].value.groupby("source").first().loc["crm", "status"] == "reachable"


def test_the_health_link_goes_to_integrations_for_those_who_may_open_it(app):
    at = sign_in(app(), "operator", "operator-demo")
    links = {el.proto.label: el.proto.page for el in at.main.get("page_link")}
    assert "Back-end health" in links, links
    # An analyst is staff (sees the badges) but may not open /integrations: no link to it.
    at = sign_in(app(), "analyst", "analyst-demo")
    assert "Back ends" in [s.value for s in at.subheader]
    assert "Back-end health" not in {el.proto.label for el in at.main.get("page_link")}


def test_a_seller_sees_nothing_of_the_back_ends(app):
    at = sign_in(app(), "seller1", "seller1-demo")
    assert not at.exception
    assert not badges(at)
    shown = texts(at)
    for word in ("Back ends", "back ends up", "crm", "order_api", "gateway", "127.0.0.1"):
        assert word not in shown, word


def test_home_names_the_api_that_is_down_with_its_error_and_the_rest_up(app_one_down):
    at = until_checked(sign_in(app_one_down(), "operator", "operator-demo"))
    shown = badges(at)
    down = {name for name, label in shown.items() if " down" in label}
    assert down == {STOPPED}, shown
    assert all(" up " in label for name, label in shown.items() if name not in down), shown
    # The error, one line, under the badges; and on the badge's tooltip.
    error_lines = [c.value for c in at.caption if str(c.value).startswith(STOPPED)]
    assert len(error_lines) == 1 and "down since" in error_lines[0], texts(at)
    assert f"{len(shown) - 1} of {len(shown)} back ends up" in texts(at)


def test_the_full_panel_shows_the_down_api_with_its_error_and_the_rest_up(app_one_down):
    at = sign_in(app_one_down(), "admin", "admin-demo")
    at = until_checked(
        at.switch_page("app_pages/integrations.py").run(), "app_pages/integrations.py"
    )
    assert not at.exception, at.exception
    rows = health_grid(at)
    assert rows.loc[STOPPED, "status"] == "● down"
    assert rows.loc[STOPPED, "last error"]  # why, in one line
    assert "\n" not in rows.loc[STOPPED, "last error"]
    assert re.fullmatch(r"just now|\d+ min ago", rows.loc[STOPPED, "down since"])
    up = rows.drop(index=STOPPED)
    assert set(up["status"]) == {"● up"}, up["status"]
    assert up["last ms"].notna().all()
    # The servers that say their version say it: the demo APIs' /health, SQLite's.
    assert rows.loc["customer_api", "version"]
    assert rows.loc["crm", "version"]
    assert f"{len(rows) - 1} of {len(rows)} back ends up" in texts(at)
    alerts = [e.value for e in at.error]
    assert len(alerts) == 1 and alerts[0].startswith(f"{STOPPED}:"), alerts


def test_check_now_checks_again_at_once(
    tmp_path: Path, demo_dir: Path, demo_services: dict[str, str], monkeypatch
) -> None:
    # The background checks once an hour here: only Check now can see what changed since the
    # first round, an order API of this test's own that is stopped after it.
    order_api = ServiceThread(create_service(STOPPED, demo_dir, env={})).start()
    try:
        config = write_config(tmp_path, demo_dir, {**demo_services, STOPPED: order_api.url})
        config.write_text(health_every(config.read_text(encoding="utf-8"), 3600), "utf-8")
        with apps_for(config, monkeypatch) as app:
            at = sign_in(app(), "operator", "operator-demo").switch_page(INTEGRATIONS).run()
            at = until_checked(at, INTEGRATIONS)
            assert set(health_grid(at)["status"]) == {"● up"}
            order_api.stop()
            at.run()  # the page again, without a check: what the first round saw
            assert health_grid(at).loc[STOPPED, "status"] == "● up"
            at.button(key="health_check_now").click().run()
    finally:
        order_api.stop()
    assert not at.exception
    rows = health_grid(at)
    assert rows.loc[STOPPED, "status"] == "● down"
    assert rows.loc[STOPPED, "last error"] == "cannot connect (connection refused)"
    assert set(rows.drop(index=STOPPED)["status"]) == {"● up"}
    assert (rows["checked"] == "just now").all()


@pytest.mark.parametrize(
    ("page", "fragment"), [(None, "health_compact"), (INTEGRATIONS, "health_panel")]
)
def test_a_tab_logged_out_elsewhere_goes_to_sign_in_when_its_panel_redraws(
    app, page: str | None, fragment: str
):
    at = open_page(app, page, "operator") if page else sign_in(app(), "operator", "operator-demo")
    assert "back ends" in texts(at)  # "Checking 8 back ends…", "7 of 8 back ends up", …
    log_out_elsewhere(app, at)
    with fragment_reruns(at, fragment):
        at.run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]  # the whole app ran
    assert "back ends" not in texts(at) and not at.dataframe
