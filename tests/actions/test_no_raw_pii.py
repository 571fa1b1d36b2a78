"""No raw e-mail, phone, name or address in any audit row or log line, whatever the input.

Generated customers (Korean and English names, e-mails, phones in every accepted form,
addresses) are put in the CRM database; generated contact changes, invalid inputs, unmask
requests and denied attempts run through `lib.actions.run`. Afterwards every audit row
(every column, as JSON text) and every captured log line must hold none of the generated
raw values, and nothing `looks_like_raw_pii`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lib.access.masking import looks_like_raw_pii
from lib.actions import run
from lib.actions.customers import normalize_phone
from lib.errors import ValidationFailed
from lib.records.schema import customers, now_text

SURNAMES = "김이박최정윤한오임신"
GIVEN = "민지현준영하은빈예아"  # none of these is in the area names kept by address masking
FIRST = ["Emily", "James", "Olivia", "Noah", "Grace", "Liam", "Chloe", "Ethan", "Mia"]
LAST = ["Clark", "Walker", "Bennett", "Harper", "Foster", "Sullivan", "Moore"]
DOMAINS = ["gmail.com", "naver.com", "daum.net", "example.org", "mail.example.co.kr"]
CITIES = ["서울특별시", "부산광역시", "인천광역시"]
DISTRICTS = ["강남구", "마포구", "해운대구", "남동구"]
ROADS = ["테헤란로", "양화로", "중앙대로", "달맞이길"]
REASONS = [
    "customer called about a lost parcel",
    "verifying identity for ticket 4411",
    "delivery address dispute, case 93",
]
# Audit columns a person or an action writes (not ids, times, hashes: hex can look like digits).
HUMAN_COLUMNS = (
    "actor",
    "actor_roles",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "detail",
)

_unique = itertools.count(1)

korean_names = st.builds(
    lambda s, g: s + g, st.sampled_from(SURNAMES), st.text(GIVEN, min_size=1, max_size=2)
)
english_names = st.builds(
    lambda f, last: f"{f} {last}", st.sampled_from(FIRST), st.sampled_from(LAST)
)
names = korean_names | english_names
local_parts = st.from_regex(r"[a-z][a-z0-9]{1,8}(\.[a-z]{1,5})?", fullmatch=True)
emails = st.builds(
    lambda local, domain: f"{local}{next(_unique)}@{domain}", local_parts, st.sampled_from(DOMAINS)
)
phones = st.builds(
    lambda form, a, b: form.format(a=a, b=b),
    st.sampled_from(
        [
            "010-{a:04d}-{b:04d}",
            "010{a:04d}{b:04d}",
            "+82 10-{a:04d}-{b:04d}",
            "+8210{a:04d}{b:04d}",
        ]
    ),
    st.integers(0, 9999),
    st.integers(0, 9999),
)
korean_addresses = st.builds(
    lambda c, d, r, n: f"{c} {d} {r} {n}",
    st.sampled_from(CITIES),
    st.sampled_from(DISTRICTS),
    st.sampled_from(ROADS),
    st.integers(1, 999),
)
english_addresses = st.builds(
    lambda n, r: f"{n} {r}-ro, Mapo-gu, Seoul",
    st.integers(1, 999),
    st.sampled_from(["Yanghwa", "Wausan", "Dokmak", "Hongik"]),
)
addresses = korean_addresses | english_addresses
bad_emails = st.builds(
    lambda e, how: {
        "@@": e.replace("@", "@@"),
        "tld": e.rsplit(".", 1)[0],
        "sp": e.replace("@", " @"),
    }[how],
    emails,
    st.sampled_from(["@@", "tld", "sp"]),
)
bad_phones = st.builds(lambda p: p[:-1], phones)  # one digit short
customers_ = st.fixed_dictionaries(
    {"name": names, "email": emails, "phone": phones, "address": addresses}
)
contact_changes = st.fixed_dictionaries(
    {}, optional={"email": emails, "phone": phones, "address": addresses}
).filter(bool)
kinds = st.lists(st.sampled_from(["name", "email", "phone", "address"]), min_size=1, unique=True)


def step(people: int) -> st.SearchStrategy:
    actor = st.sampled_from(["support", "admin", "operator", "analyst"])
    who = st.integers(0, people - 1)
    return st.one_of(
        st.tuples(st.just("update"), actor, who, contact_changes),
        st.tuples(st.just("update"), actor, who, st.fixed_dictionaries({"email": bad_emails})),
        st.tuples(st.just("update"), actor, who, st.fixed_dictionaries({"phone": bad_phones})),
        st.tuples(st.just("take_email"), actor, who, st.just({})),
        st.tuples(
            st.just("unmask"),
            actor,
            who,
            st.fixed_dictionaries({"fields": kinds, "reason": st.sampled_from(REASONS)}),
        ),
        st.tuples(st.just("unmask_leaky_reason"), actor, who, kinds.map(lambda k: {"fields": k})),
    )


def phone_forms(raw: str) -> set[str]:
    forms = {raw}
    with contextlib.suppress(ValidationFailed):  # invalid: the raw form is what must not show
        forms.add(normalize_phone(raw))
    return forms


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_raw_personal_data_in_audit_rows_or_logs(sqlite_ctx, principals, caplog, data):
    caplog.set_level(logging.DEBUG)
    people = data.draw(st.lists(customers_, min_size=2, max_size=3), label="customers")
    raw: set[str] = set()
    ids: list[int] = []
    with sqlite_ctx.db("crm").begin() as conn:
        for person in people:
            ids.append(
                conn.execute(
                    sa.insert(customers).values(
                        **person,
                        segment="regular",
                        status="active",
                        signup_date="2026-01-01",
                        updated_at=now_text(),
                    )
                ).inserted_primary_key[0]
            )
            raw |= {
                person["name"],
                person["email"],
                person["address"],
                *phone_forms(person["phone"]),
            }

    for kind, actor, who, params in data.draw(
        st.lists(step(len(people)), min_size=1, max_size=6), "steps"
    ):
        customer_id = ids[who]
        if kind == "update":
            raw |= {v for k, v in params.items() if k != "phone"}
            raw |= (
                {f for v in params.values() for f in phone_forms(v)} if "phone" in params else set()
            )
            run("customer.update_contact", principals[actor], customer_id=customer_id, **params)
        elif kind == "take_email":  # another customer's address: a conflict, quoted nowhere
            run(
                "customer.update_contact",
                principals[actor],
                customer_id=customer_id,
                email=people[(who + 1) % len(people)]["email"],
            )
        elif kind == "unmask":
            run("customer.unmask", principals[actor], customer_id=customer_id, **params)
        else:  # a reason quoting the customer's own contact details is refused, not stored
            person = people[who]
            reason = f"customer {person['email']} / {person['phone']} asked for a callback"
            run(
                "customer.unmask",
                principals[actor],
                customer_id=customer_id,
                reason=reason,
                **params,
            )

    rows = sqlite_ctx.audit.query(limit=None)
    assert rows  # the customers were inserted directly: only the steps write audit rows
    for row in rows:
        whole = json.dumps(row, ensure_ascii=False, default=str)
        leaked = sorted(value for value in raw if value in whole)
        assert not leaked, f"audit row {row['id']} holds raw values {leaked}"
        human = json.dumps({c: row[c] for c in HUMAN_COLUMNS}, ensure_ascii=False)
        assert not looks_like_raw_pii(human), f"audit row {row['id']}: {human}"
    for record in caplog.records:
        line = record.getMessage() + (record.exc_text or "")
        assert not [value for value in raw if value in line], line
        assert not looks_like_raw_pii(line), line
