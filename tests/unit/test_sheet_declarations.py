"""Declared sheets: written beside the configuration, loaded with the settings into the
`sheet` source, and loaded by the DuckDB engine like the sheets in the configuration file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lib.config import sheet_declarations as declarations
from lib.config.settings import ROOT, load_settings
from lib.errors import ConfigError, ValidationFailed
from lib.reading.engine import Engine

CONFIG = """
[app]
demo = true

[sheets]
declarations = "{root}/decl"
uploads = "{root}/uploads"
max_upload_mb = 2
read_timeout_s = 3

[sources.sheets]
kind = "sheet"
ttl = 600
tables.spend = {{ file = "{root}/spend.csv", columns = {{ month = "date" }} }}

[sources.shop]
kind = "sql"
url = "sqlite:///{root}/shop.sqlite"
tables.orders = {{ mode = "live" }}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "spend.csv").write_text("month\n2026-01\n", encoding="utf-8")
    path = tmp_path / "bo.toml"
    path.write_text(CONFIG.format(root=tmp_path), encoding="utf-8")
    return path


def test_options_from_the_sheets_section(config, tmp_path):
    opts = declarations.options(load_settings(config))
    assert opts == declarations.SheetOptions(
        "sheets", tmp_path / "decl", tmp_path / "uploads", 2_000_000, 3.0
    )


def test_defaults_sheets_d_beside_the_configuration(tmp_path):
    opts = declarations.options_from({}, tmp_path / "conf" / "bo.toml")
    assert opts.declarations == tmp_path / "conf" / "sheets.d"
    assert opts.uploads == ROOT / "var" / "sheets"
    assert (opts.max_upload_bytes, opts.read_timeout_s) == (20_000_000, 10.0)


def test_declare_then_load_settings_sees_it_and_the_engine_loads_it(config, tmp_path):
    csv = tmp_path / "budget.csv"
    csv.write_text('month,team,"amount, KRW"\n2026-01,a,100\n2026-02,b,oops\n', encoding="utf-8")
    columns = {"month": "date", "team": "text", "amount, KRW": "int"}
    path = declarations.declare(
        load_settings(config), "budget", {"file": str(csv), "columns": columns}, by="admin"
    )

    assert path == tmp_path / "decl" / "budget.toml"
    assert path.read_text(encoding="utf-8").startswith("# Declared on the Spreadsheets page")
    settings = load_settings(config)
    tables = settings.source("sheets").options["tables"]
    assert tables["budget"] == {"file": str(csv), "columns": columns}
    assert set(tables) == {"spend", "budget"}  # the file's own sheet is kept

    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "budget_all.sql").write_text(
        "-- sources: sheets\nSELECT * FROM sheets.budget ORDER BY month\n", encoding="utf-8"
    )
    engine = Engine(settings.sources, queries)
    try:
        frame = engine.query("budget_all")
        assert list(frame.columns) == ["month", "team", "amount, KRW"]
        assert frame["amount, KRW"].tolist()[0] == 100
        assert [str(p) for p in engine.problems("sheets")["budget"]] == [
            "C3 (amount, KRW): expected a whole number, found 'oops'"
        ]
    finally:
        engine.close()


def test_a_google_sheet_declaration_round_trips(config):
    spec = {
        "spreadsheet_key": "1AbC" * 8,
        "worksheet": 'Q1 "draft" \\ 2026',
        "columns": {"a": "int"},
    }
    declarations.declare(load_settings(config), "budget_q1", spec)
    assert load_settings(config).source("sheets").options["tables"]["budget_q1"] == spec


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ("spend", "'spend' already exists"),  # a sheet of the configuration file
        ("orders", "'orders' already exists"),  # another source's table
        ("../../etc/passwd", "use lowercase letters"),
        ("Budget", "use lowercase letters"),
        ("1budget", "use lowercase letters"),
        ("", "use lowercase letters"),
        ("a" * 64, "use lowercase letters"),
        (None, "use lowercase letters"),
    ],
)
def test_table_names_are_identifiers_not_taken(config, tmp_path, table, reason):
    spec = {"file": "x.csv", "columns": {"a": "int"}}
    with pytest.raises(ValidationFailed, match=reason.replace("(", r"\(")):
        declarations.declare(load_settings(config), table, spec)
    assert not (tmp_path / "decl").exists() or not list((tmp_path / "decl").iterdir())


def test_a_declared_table_is_never_replaced(config):
    spec = {"file": "x.csv", "columns": {"a": "int"}}
    declarations.declare(load_settings(config), "budget", spec)
    with pytest.raises(ValidationFailed, match="'budget' already exists"):
        declarations.declare(load_settings(config), "budget", spec)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"columns": {"a": "int"}}, "needs either file or spreadsheet_key"),
        ({"file": "x.csv", "spreadsheet_key": "k", "columns": {"a": "int"}}, "needs either"),
        ({"file": "x.csv", "columns": {}}, "columns must name at least one"),
        ({"file": "x.csv", "columns": {"a": "money"}}, "has type 'money'"),
        ({"file": "x.csv", "columns": {"a": "int"}, "kind": "sql"}, "unexpected key kind"),
    ],
)
def test_bad_specs_are_refused(config, spec, reason):
    with pytest.raises(ValidationFailed, match=reason):
        declarations.declare(load_settings(config), "budget", spec)


def test_a_broken_declaration_file_is_skipped_with_its_reason_and_the_app_loads(config, tmp_path):
    (tmp_path / "decl").mkdir()
    (tmp_path / "decl" / "budget.toml").write_text("columns = [", encoding="utf-8")
    write_spec(tmp_path / "decl" / "goals.toml", {"file": "goals.csv", "columns": {"a": "int"}})

    settings = load_settings(config)  # no ConfigError: the app still starts

    assert settings.declaration_errors == {
        str(tmp_path / "decl" / "budget.toml"): "cannot be read (TOMLDecodeError)"
    }
    assert list(settings.source("sheets").options["tables"]) == ["spend", "goals"]
    assert settings.source("shop").kind == "sql"  # the other sources are there


def test_a_declaration_clashing_with_the_configuration_is_skipped_with_its_reason(config, tmp_path):
    (tmp_path / "decl").mkdir()
    (tmp_path / "decl" / "spend.toml").write_text(
        'file = "x.csv"\ncolumns = { a = "int" }\n', encoding="utf-8"
    )
    settings = load_settings(config)
    assert settings.declaration_errors == {
        str(tmp_path / "decl" / "spend.toml"): (
            "table 'spend' is already declared in the configuration"
        )
    }
    # The configuration's own table wins, unchanged.
    spend = settings.source("sheets").options["tables"]["spend"]
    assert spend["columns"] == {"month": "date"}


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("Bad-Name.toml", 'file = "x.csv"\ncolumns = { a = "int" }\n', "not a valid table name"),
        ("budget.toml", 'file = "x.csv"\n', "table 'budget': columns must name"),
        ("budget.toml", 'file = "x.csv"\ncolumns = { a = "money" }\n', "type 'money'"),
        ("budget.toml", b"columns = { a = '\xff' }", "cannot be read (UnicodeDecodeError)"),
    ],
)
def test_each_unusable_declaration_gets_one_line_naming_why(config, tmp_path, name, text, reason):
    (tmp_path / "decl").mkdir()
    target = tmp_path / "decl" / name
    target.write_bytes(text) if isinstance(text, bytes) else target.write_text(text)
    settings = load_settings(config)
    (error,) = settings.declaration_errors.values()
    assert reason in error and "\n" not in error
    assert list(settings.source("sheets").options["tables"]) == ["spend"]


def test_only_broken_declarations_make_no_empty_sheet_source(tmp_path):
    path = tmp_path / "bo.toml"
    path.write_text(f'[app]\ndemo = true\n[sheets]\ndeclarations = "{tmp_path}/d"\n')
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "budget.toml").write_text("columns = [")
    settings = load_settings(path)
    assert settings.sources == () and len(settings.declaration_errors) == 1


def test_a_sheets_source_that_is_not_a_sheet_source_is_still_a_config_error(config, tmp_path):
    (tmp_path / "decl").mkdir()
    write_spec(tmp_path / "decl" / "goals.toml", {"file": "goals.csv", "columns": {"a": "int"}})
    text = (
        config.read_text()
        .replace('source = "sheets"', "")
        .replace("[sheets]\n", '[sheets]\nsource = "shop"\n')
    )
    config.write_text(text)
    with pytest.raises(ConfigError, match="'shop' is not a sheet source"):
        load_settings(config)


def write_spec(path: Path, spec: dict) -> None:
    path.write_text(declarations.to_toml(spec), encoding="utf-8")


def test_declarations_without_a_sheet_source_make_one(tmp_path):
    path = tmp_path / "bo.toml"
    path.write_text(f'[app]\ndemo = true\n[sheets]\ndeclarations = "{tmp_path}/d"\n')
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "budget.toml").write_text('file = "x.csv"\ncolumns = { a = "int" }\n')
    src = load_settings(path).source("sheets")
    assert (src.kind, list(src.options["tables"])) == ("sheet", ["budget"])


def test_toml_strings_escape_what_toml_needs():
    spec = {"file": 'a\\b"c\x01\x7f한글', "columns": {'we"ird\nname': "text"}}
    assert tomllib.loads(declarations.to_toml(spec)) == spec
