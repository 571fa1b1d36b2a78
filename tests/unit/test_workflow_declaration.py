"""Workflow declarations: what a file may say, the one-line reasons a broken file is skipped
with (the others still load), and run parameters read from a link."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest

from lib.config.settings import ROOT
from lib.reading.sources.base import SourceConfig
from lib.workflows.declaration import (
    DeclarationError,
    load_workflow,
    load_workflows,
    parse_params,
    validate,
)
from tests.workflow_texts import customer_orders

GOOD = customer_orders(
    head="""
title = "Customers and their orders"
description = "Each customer's orders."
concurrency = 8
combine = "wf_combine"
mask = { customer_name = "name" }

[params.tier]
label = "Loyalty tier"
kind = "choice"
options = ["bronze", "silver", "gold", "platinum"]
optional = true

[params.limit]
label = "At most this many customers"
kind = "int"
default = 50
min = 1
max = 2000

[params.since]
label = "Since"
kind = "date"
default = 2026-01-01

[params.note]
label = "Note"
kind = "text"
optional = true
""",
    customers="""
params = { tier = "{tier}" }
pagination = "page"
page_size = 500
max_rows = "{limit}"
""",
    orders="""
params = { customer_id = "{id}", limit = 1000 }
timeout = 3
retries = 2
backoff = 0.2
""",
    last='name = "tickets"\nquery = "wf_tickets"',
)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


def broken(tmp_path: Path, text: str) -> str:
    """The one-line reason a declaration is refused."""
    with pytest.raises(DeclarationError) as err:
        load_workflow(write(tmp_path, "wf", text))
    message = str(err.value)
    assert "\n" not in message and message.startswith("wf.toml: ")
    return message


def test_a_declaration_loads_into_its_steps_and_params(tmp_path):
    wf = load_workflow(write(tmp_path, "customer_orders", GOOD))
    assert (wf.name, wf.title, wf.concurrency, wf.combine) == (
        "customer_orders",
        "Customers and their orders",
        8,
        "wf_combine",
    )
    assert [s.name for s in wf.steps] == ["customers", "orders", "tickets"]
    assert [s.kind for s in wf.steps] == ["call", "for_each", "query"]
    orders = wf.step("orders")
    assert (orders.for_each, orders.key) == ("customers", "id")
    assert (orders.timeout, orders.retries, orders.backoff) == (3, 2, 0.2)
    assert dict(orders.params) == {"customer_id": "{id}", "limit": 1000}
    assert wf.step("customers").max_rows == "{limit}"
    assert wf.param("limit").default == 50 and wf.param("since").default == date(2026, 1, 1)
    assert wf.param("tier").options[0] == "bronze" and wf.param("tier").default is None
    assert dict(wf.mask) == {"customer_name": "name"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("concurrency = 8", "concurrency = 99"), "concurrency: must be a whole number from 1"),
        (("concurrency = 8", "concurency = 8"), "concurency: is not a known key"),
        (('for_each = "customers"', 'for_each = "tickets"'), "'tickets' is not an earlier step"),
        (('for_each = "customers"', 'for_each = "nobody"'), "'nobody' is not an earlier step"),
        (('query = "wf_tickets"', 'query = "wf_tickets"\nsource = "x"'), "either `query`"),
        (('name = "tickets"\nquery = "wf_tickets"', 'name = "tickets"'), "either `query`"),
        (('kind = "int"', 'kind = "number"'), "params.limit.kind: must be one of"),
        (("max = 2000", "max = 0"), "params.limit.min: is above max"),
        (('mask = { customer_name = "name" }', 'mask = { x = "shoe" }'), "mask.x"),
        (('pagination = "page"', 'pagination = "pages"'), "steps.customers.pagination"),
        (('params = { tier = "{tier}" }', 'params = { tier = "{tear}" }'), "'{tear}' is unknown"),
        (('max_rows = "{limit}"', 'max_rows = "{tier}"'), "'tier' is not an int parameter"),
        (("timeout = 3", 'timeout = "3"'), "steps.orders.timeout: must be a number"),
        (("default = 50", "default = 5000"), "params.limit.default: 5000 is not a valid int"),
        (('combine = "wf_combine"', ""), "combine: a query name"),
        (('key = "id"', ""), "steps.orders.key: a for_each step names the field"),
        (("[params.note]", "[params.run]"), "params.run: a parameter name is"),
        (("[params.note]", "[params.embed]"), "params.embed: a parameter name is"),
        (("[params.note]", "[params.embed_options]"), "params.embed_options: a parameter"),
        (("optional = true\n\n[params.limit]", "\n[params.limit]"), "params.tier.default"),
        (
            (
                "optional = true\n\n[params.limit]",
                'optional = true\ndefault = "gold"\n\n[params.limit]',
            ),
            "params.tier.default: an optional parameter has no default",
        ),
        (('name = "orders"', 'name = "customers"'), "'customers' is the name of an earlier"),
    ],
)
def test_a_wrong_key_is_named_in_one_line(tmp_path, change, reason):
    old, new = change
    assert old in GOOD
    assert reason in broken(tmp_path, GOOD.replace(old, new, 1))


def test_a_per_item_step_over_another_per_item_step_is_refused(tmp_path):
    # A retry would get the parent's failed items' rows anew and never call them.
    deeper = GOOD.replace(
        '[[steps]]\nname = "tickets"',
        '[[steps]]\nname = "lines"\nsource = "order_api"\npath = "/orders/{id}"\n'
        'for_each = "orders"\nkey = "id"\n\n[[steps]]\nname = "tickets"',
    )
    assert deeper != GOOD
    assert "steps.lines.for_each: 'orders' is a per-item step itself" in broken(tmp_path, deeper)


def test_not_toml_is_reported_in_one_line(tmp_path):
    assert "not valid TOML" in broken(tmp_path, "title = [unclosed\n")


def test_a_broken_file_is_skipped_and_the_others_load(tmp_path):
    write(tmp_path, "good", GOOD)
    write(tmp_path, "bad", GOOD.replace("concurrency = 8", "concurrency = 0"))
    write(tmp_path, "Bad-Name", GOOD)
    found, errors = load_workflows(tmp_path)
    assert list(found) == ["good"]
    assert set(errors) == {str(tmp_path / "bad.toml"), str(tmp_path / "Bad-Name.toml")}
    assert errors[str(tmp_path / "bad.toml")].startswith("bad.toml: concurrency:")


def test_no_folder_is_no_workflows(tmp_path):
    assert load_workflows(tmp_path / "missing") == ({}, {})


class FakeSettings:
    def __init__(self, queries_dir: Path, sources: tuple[SourceConfig, ...]) -> None:
        self.queries_dir = queries_dir
        self.sources = sources


def settings_for(tmp_path: Path, **queries: str) -> FakeSettings:
    qdir = tmp_path / "queries"
    qdir.mkdir(exist_ok=True)
    for name, sql in queries.items():
        (qdir / f"{name}.sql").write_text(sql, encoding="utf-8")
    sources = (
        SourceConfig("customer_api", "rest"),
        SourceConfig("order_api", "rest"),
        SourceConfig("crm", "sql"),
    )
    return FakeSettings(qdir, sources)


def test_sources_and_queries_are_checked_against_the_settings(tmp_path):
    wf = load_workflow(write(tmp_path / "wf", "wf", GOOD))
    ok = settings_for(
        tmp_path,
        wf_combine="SELECT * FROM customers WHERE $limit > 0",
        wf_tickets="SELECT 1 WHERE $tier IS NULL",
    )
    validate(wf, ok)
    found, errors = load_workflows(tmp_path / "wf", ok)
    assert list(found) == ["wf"] and errors == {}

    def reason(text: str, settings: FakeSettings) -> str:
        with pytest.raises(DeclarationError) as err:
            validate(load_workflow(write(tmp_path / "wf", "wf", text)), settings)
        return str(err.value)

    assert "no source named 'nope'" in reason(GOOD.replace('"order_api"', '"nope"'), ok)
    assert "'crm' is a sql source, not rest" in reason(GOOD.replace('"order_api"', '"crm"'), ok)
    assert "steps[2].query: No query named 'wf_none'" in reason(
        GOOD.replace('"wf_tickets"', '"wf_none"'), ok
    )
    needs = settings_for(tmp_path, wf_combine="SELECT $region")
    assert "combine: 'wf_combine' needs region" in reason(GOOD, needs)


def test_params_from_a_link_are_typed_and_wrong_ones_noted(tmp_path):
    wf = load_workflow(write(tmp_path, "wf", GOOD))
    values, notes = parse_params(
        wf, {"tier": "gold", "limit": "20", "since": "2026-02-03", "note": " hi ", "other": "x"}
    )
    assert values == {"tier": "gold", "limit": 20, "since": date(2026, 2, 3), "note": "hi"}
    assert notes == []
    values, notes = parse_params(wf, {})
    assert values == {"tier": None, "limit": 50, "since": date(2026, 1, 1), "note": None}
    assert notes == []
    values, notes = parse_params(
        wf, {"tier": "diamond", "limit": "5000", "since": "2026-02-30", "note": "x" * 500}
    )
    assert values == {"tier": None, "limit": 50, "since": date(2026, 1, 1), "note": None}
    assert len(notes) == 4
    assert "Ignored Loyalty tier 'diamond' from the link: one of bronze" in notes[0]
    assert notes[1].endswith("a whole number from 1 to 2000.")
    assert "Ignored Since '2026-02-30'" in notes[2]
    assert all("\n" not in n for n in notes) and all(len(n) < 200 for n in notes)
    _, notes = parse_params(wf, {"limit": "1_000"})
    assert notes and "'1_000'" in notes[0]


def test_the_settings_name_the_workflows_folder(tmp_path):
    from lib.config.settings import load_settings
    from tests.stack import write_config

    cfg = write_config(tmp_path, tmp_path)
    assert load_settings(cfg).workflows_dir == ROOT / "workflows"
    cfg.write_text(cfg.read_text() + '\n[workflows]\ndir = "elsewhere/wf"\n')
    assert load_settings(cfg).workflows_dir == ROOT / "elsewhere" / "wf"
