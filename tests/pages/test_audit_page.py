"""The audit log page: filters in the URL, the chain check, and who may open it."""

import uuid

from lib.actions import context
from lib.audit import AuditEntry
from lib.ui import audit
from tests.pages.helpers import rows_of, sign_in


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


def test_the_log_is_paged_from_the_url_and_the_csv_holds_every_filtered_row(
    app,
    downloads,
):
    """60 rows by one actor: 50 on page 1, 10 on page 2 (opened from a link), the total from
    the same statement; the CSV has all 60 whichever page is shown."""
    actor = f"pager-{uuid.uuid4().hex[:8]}"
    at = app()
    at.query_params.update({"actor": actor, "page": "2"})
    sign_in(at, "auditor", "auditor-demo")
    for n in range(60):
        context.current().audit.append(
            AuditEntry(actor, ("operator",), "order.approve", "order", str(n), "ok")
        )
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception
    grid = at.dataframe[0].value
    assert sorted(int(t) for t in grid.target_id) == list(range(10))  # the oldest ten
    assert "Rows 51–60 of 60 · page 2 of 2" in [c.value for c in at.caption]
    header, *rows = rows_of(downloads["audit_log.csv"])
    assert len(rows) == 60 and {r[header.index("actor")] for r in rows} == {actor}
    next(b for b in at.button if b.label == "Previous").click().run()
    assert len(at.dataframe[0].value) == 50 and "page" not in at.query_params
    at.text_input(key="audit_actor").input("nobody-at-all").run()
    assert [i.value for i in at.info] == ["No audit rows match these filters."]


def test_a_count_past_its_cap_says_so_and_next_reads_after_the_last_row_shown(app, monkeypatch):
    """The count stops at a cap (10,000; 50 here): "50+", no last page; Next reads the rows
    older than the last one shown, and stops when none follow."""
    monkeypatch.setattr(audit, "COUNT_CAP", 50)
    actor = f"capped-{uuid.uuid4().hex[:8]}"
    at = app()
    at.query_params["actor"] = actor
    sign_in(at, "auditor", "auditor-demo")
    for n in range(60):
        context.current().audit.append(
            AuditEntry(actor, ("operator",), "order.approve", "order", str(n), "ok")
        )
    at.switch_page("app_pages/audit.py").run()
    assert "Rows 1–50 of 50+ · page 1" in [c.value for c in at.caption]
    assert [int(t) for t in at.dataframe[0].value.target_id] == list(range(59, 9, -1))
    next(b for b in at.button if b.label == "Next").click().run()
    assert "Rows 51–60 of 50+ · page 2" in [c.value for c in at.caption]
    assert [int(t) for t in at.dataframe[0].value.target_id] == list(range(9, -1, -1))
    assert next(b for b in at.button if b.label == "Next").disabled
    next(b for b in at.button if b.label == "Previous").click().run()
    assert [int(t) for t in at.dataframe[0].value.target_id] == list(range(59, 9, -1))
