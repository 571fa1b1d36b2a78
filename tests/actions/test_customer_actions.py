"""customer.update_contact and customer.unmask: what changes, who may, what the audit log keeps."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from lib.access import unmask
from lib.access.masking import looks_like_raw_pii, mask
from lib.actions import run
from lib.records.schema import customers

ALL_KINDS = ["address", "email", "name", "phone"]
REASON = "customer called about a lost parcel, ticket 4411"


def stored_text(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, default=str)


# --- update_contact -------------------------------------------------------------------------


def test_update_contact_changes_the_row_and_audits_masked_before_and_after(
    ctx, principals, audit_rows, one_row
):
    before = one_row(ctx, "crm", customers, 1)
    result = run(
        "customer.update_contact",
        principals["support"],
        customer_id=1,
        email="new.address@mail.example.org",
        phone="+82 10-2222-3333",
    )
    assert result.outcome == "ok", result.message
    assert result.data["changed"] == ["email", "phone"]
    after = one_row(ctx, "crm", customers, 1)
    assert after["email"] == "new.address@mail.example.org"
    assert after["phone"] == "010-2222-3333"
    assert after["address"] == before["address"]

    [row] = audit_rows(ctx, action="customer.update_contact")
    assert (row["outcome"], row["target_id"], row["actor"]) == ("ok", "1", "support")
    assert row["detail"]["changed"] == ["email", "phone"]
    assert row["detail"]["email"] == {
        "before": mask("email", before["email"]),
        "after": mask("email", "new.address@mail.example.org"),
    }
    assert row["detail"]["phone"] == {
        "before": mask("phone", before["phone"]),
        "after": "010-****-3333",
    }
    text = stored_text(row)
    for raw in (before["email"], before["phone"], "new.address@mail.example.org", "2222-3333"):
        assert raw not in text
    assert not looks_like_raw_pii(text)


@pytest.mark.parametrize(
    "phone", ["010-1234-5678", "01012345678", "+821012345678", "010 1234 5678"]
)
def test_phone_is_stored_in_one_form(sqlite_ctx, principals, one_row, phone):
    result = run("customer.update_contact", principals["support"], customer_id=2, phone=phone)
    assert result.ok, result.message
    assert one_row(sqlite_ctx, "crm", customers, 2)["phone"] == "010-1234-5678"


def test_address_change_is_audited_masked(sqlite_ctx, principals, audit_rows):
    address = "서울특별시 마포구 양화로 45 3층"
    result = run("customer.update_contact", principals["operator"], customer_id=3, address=address)
    assert result.ok, result.message
    [row] = audit_rows(sqlite_ctx, action="customer.update_contact")
    assert row["detail"]["address"]["after"] == "서울특별시 마포구 ***"
    assert "양화로" not in stored_text(row)


def test_unchanged_contact_is_ok_nothing_changed_and_still_audited(
    ctx, principals, audit_rows, one_row
):
    current = one_row(ctx, "crm", customers, 4)
    result = run(
        "customer.update_contact", principals["support"], customer_id=4, email=current["email"]
    )
    assert result.ok
    assert "nothing changed" in result.message
    assert one_row(ctx, "crm", customers, 4) == current  # updated_at untouched too
    [row] = audit_rows(ctx, action="customer.update_contact")
    assert row["outcome"] == "ok"
    assert row["detail"] == {"changed": []}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"email": "jane.doe@@example.com"}, "email"),
        ({"email": "jane.doe@example"}, "email"),
        ({"phone": "02-123-4567"}, "phone"),  # a landline, not a mobile
        ({"phone": "010-1234-567"}, "phone"),
        ({"address": "Seou"}, "address"),
        ({"address": "x" * 201}, "address"),
        ({}, "at least one of"),
        ({"name": "Someone Else"}, "unexpected parameter: name"),
    ],
)
def test_invalid_contact_is_refused_audited_and_not_quoted(
    ctx, principals, audit_rows, one_row, params, names
):
    before = one_row(ctx, "crm", customers, 5)
    result = run("customer.update_contact", principals["support"], customer_id=5, **params)
    assert result.outcome == "invalid"
    assert names in result.message
    assert one_row(ctx, "crm", customers, 5) == before
    [row] = audit_rows(ctx, action="customer.update_contact")
    assert (row["outcome"], row["target_id"]) == ("invalid", "5")
    for value in params.values():
        assert value not in stored_text(row)


def test_missing_customer_is_invalid(ctx, principals):
    result = run(
        "customer.update_contact", principals["support"], customer_id=999_999, phone="010-1111-2222"
    )
    assert (result.outcome, result.message) == ("invalid", "No customer 999999")


def test_email_of_another_customer_conflicts_without_saying_whose(
    ctx, principals, audit_rows, one_row
):
    other = one_row(ctx, "crm", customers, 7)["email"]
    result = run("customer.update_contact", principals["support"], customer_id=6, email=other)
    assert result.outcome == "conflict"
    assert "another customer" in result.message
    assert other not in result.message
    assert one_row(ctx, "crm", customers, 6)["email"] != other
    [row] = audit_rows(ctx, action="customer.update_contact")
    assert other not in stored_text(row)


def test_roles_without_the_action_are_denied(ctx, principals, one_row):
    before = one_row(ctx, "crm", customers, 1)
    for who in ("analyst", "auditor", "seller1"):
        result = run(
            "customer.update_contact", principals[who], customer_id=1, phone="010-9999-8888"
        )
        assert result.outcome == "denied", who
    assert one_row(ctx, "crm", customers, 1) == before


# --- unmask ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        (None, "reason is required"),
        ("   ", "reason is required"),
        ("because", "reason must be at least 10 characters"),
        ("customer kim@example.com asked", "must not contain contact details (e-mail"),
    ],
)
def test_unmask_needs_a_reason(ctx, principals, audit_rows, reason, problem):
    result = run(
        "customer.unmask", principals["support"], customer_id=1, fields=["email"], reason=reason
    )
    assert result.outcome == "invalid"
    assert problem in result.message
    assert unmask.active_fields(ctx, principals["support"], 1) == set()
    [row] = audit_rows(ctx, action="customer.unmask")
    assert row["outcome"] == "invalid"
    assert "kim@example.com" not in stored_text(row)


@pytest.mark.parametrize("fields", [[], ["password"], ["email", "account"], "everything"])
def test_unmask_fields_must_be_customer_kinds(sqlite_ctx, principals, fields):
    result = run(
        "customer.unmask", principals["support"], customer_id=1, fields=fields, reason=REASON
    )
    assert result.outcome == "invalid"
    assert "fields" in result.message


def test_support_may_unmask_every_kind_of_one_customer(ctx, principals, audit_rows):
    support = principals["support"]
    result = run("customer.unmask", support, customer_id=1, fields=ALL_KINDS, reason=REASON)
    assert result.outcome == "ok", result.message
    assert result.data["fields"] == ALL_KINDS
    assert unmask.active_fields(ctx, support, 1) == set(ALL_KINDS)
    # That record only, that person only.
    assert unmask.active_fields(ctx, support, 2) == set()
    assert unmask.active_fields(ctx, principals["admin"], 1) == set()


@pytest.mark.parametrize("who", ["operator", "analyst", "auditor", "seller1"])
def test_roles_without_unmask_are_denied_and_audited(ctx, principals, audit_rows, who):
    result = run("customer.unmask", principals[who], customer_id=1, fields=["phone"], reason=REASON)
    assert result.outcome == "denied"
    assert unmask.active_fields(ctx, principals[who], 1) == set()
    [row] = audit_rows(ctx, action="customer.unmask")
    assert (row["outcome"], row["actor"], row["target_id"]) == ("denied", who, "1")


def test_kinds_outside_the_role_are_denied_by_name(sqlite_ctx, principals, monkeypatch):
    monkeypatch.setattr("lib.access.policy.unmask_kinds", lambda principal: {"email"})
    result = run(
        "customer.unmask",
        principals["support"],
        customer_id=1,
        fields=["email", "phone", "address"],
        reason=REASON,
    )
    assert result.outcome == "denied"
    assert "address, phone" in result.message
    assert unmask.active_fields(sqlite_ctx, "support", 1) == set()


def test_unmask_of_missing_customer_is_invalid(ctx, principals):
    result = run(
        "customer.unmask", principals["admin"], customer_id=999_999, fields=["name"], reason=REASON
    )
    assert (result.outcome, result.message) == ("invalid", "No customer 999999")


def test_unmask_audit_row_has_fields_and_reason_never_values(ctx, principals, audit_rows, one_row):
    customer = one_row(ctx, "crm", customers, 3)
    result = run(
        "customer.unmask", principals["support"], customer_id=3, fields=ALL_KINDS, reason=REASON
    )
    assert result.ok
    [row] = audit_rows(ctx, action="customer.unmask")
    assert (row["outcome"], row["actor"], row["target_type"], row["target_id"]) == (
        "ok",
        "support",
        "customer",
        "3",
    )
    assert row["reason"] == REASON
    assert row["detail"] == {"fields": ALL_KINDS, "expires_at": result.data["expires_at"]}
    text = stored_text(row)
    for column in ("name", "email", "phone", "address"):
        assert customer[column] not in text
    assert ctx.audit.verify().ok


def test_grant_expires(ctx, principals, monkeypatch):
    support = principals["support"]
    assert run("customer.unmask", support, customer_id=1, fields=["email"], reason=REASON).ok
    assert unmask.active_fields(ctx, support, 1) == {"email"}
    granted_at = unmask.utc_now()
    monkeypatch.setattr(unmask, "utc_now", lambda: granted_at + timedelta(minutes=9))
    assert unmask.active_fields(ctx, support, 1) == {"email"}
    monkeypatch.setattr(unmask, "utc_now", lambda: granted_at + timedelta(minutes=11))
    assert unmask.active_fields(ctx, support, 1) == set()


def test_a_zero_minute_grant_shows_nothing(sqlite_ctx, principals):
    sqlite_ctx.unmask_minutes = 0
    result = run(
        "customer.unmask", principals["support"], customer_id=1, fields=["email"], reason=REASON
    )
    assert result.ok
    assert unmask.active_fields(sqlite_ctx, principals["support"], 1) == set()


def test_reveal_shows_only_granted_fields_of_that_record(ctx, principals, one_row):
    support = principals["support"]
    first, second = one_row(ctx, "crm", customers, 1), one_row(ctx, "crm", customers, 2)
    assert run("customer.unmask", support, customer_id=1, fields=["email"], reason=REASON).ok

    shown = unmask.reveal(first, support, ctx)
    assert shown["email"] == first["email"]
    for column in ("name", "phone", "address"):
        assert shown[column] == mask(column, first[column])
    assert shown["segment"] == first["segment"]  # not personal data: as it is

    other = unmask.reveal(second, support, ctx)
    assert all(other[c] == mask(c, second[c]) for c in ("name", "email", "phone", "address"))
    assert unmask.reveal(first, principals["admin"], ctx)["email"] == mask("email", first["email"])


def test_reveal_stops_when_the_role_no_longer_allows_it(ctx, principals, one_row):
    first = one_row(ctx, "crm", customers, 1)
    assert run(
        "customer.unmask", principals["support"], customer_id=1, fields=["phone"], reason=REASON
    ).ok
    demoted = principals["support"].__class__("support", "Sora Support", ("operator",))
    assert unmask.reveal(first, demoted, ctx)["phone"] == mask("phone", first["phone"])


def test_reveal_before_any_grant_masks_everything(sqlite_ctx, principals, one_row):
    first = one_row(sqlite_ctx, "crm", customers, 1)
    shown = unmask.reveal(first, principals["admin"], sqlite_ctx)
    assert shown["email"] == mask("email", first["email"])
    assert unmask.reveal({"email": first["email"]}, "admin", sqlite_ctx)["email"] != first["email"]
