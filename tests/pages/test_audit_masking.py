"""The audit page and its CSV show free text with the contact details in it masked.

Reasons are typed by people (and rows written before reasons were checked may hold an
e-mail address or a phone number); detail values can carry free text too.
"""

from __future__ import annotations

import uuid

import pytest

from lib.actions import context
from lib.audit import AuditEntry
from tests.pages.helpers import rows_of, sign_in

pytestmark = pytest.mark.pages

REASON = "customer called from 010 2345 6789, then wrote from sora.park@example.com"
SHOWN_REASON = "customer called from 010 **** 6789, then wrote from s***@example.com"
DETAIL = {"note": "call back on +82 10-2345-6789", "amount": 12000, "due": "2026-11-30"}
SHOWN_DETAIL = "amount=12000, due=2026-11-30, note=call back on +82 **-****-6789"


def test_contact_details_in_reasons_and_details_are_masked_on_screen_and_in_the_csv(
    app,
    downloads,
):
    actor = f"tester-{uuid.uuid4().hex[:8]}"
    at = app()
    at.query_params["actor"] = actor
    sign_in(at, "auditor", "auditor-demo")
    context.current().audit.append(
        AuditEntry(
            actor, ("operator",), "order.reject", "order", "7", "ok", reason=REASON, detail=DETAIL
        )
    )
    at.switch_page("app_pages/audit.py").run()
    assert not at.exception
    grid = at.dataframe[0].value
    assert (grid.reason.tolist(), grid.detail.tolist()) == ([SHOWN_REASON], [SHOWN_DETAIL])
    header, *rows = rows_of(downloads["audit_log.csv"])
    assert [(r[header.index("reason")], r[header.index("detail")]) for r in rows] == [
        (SHOWN_REASON, SHOWN_DETAIL)
    ]
