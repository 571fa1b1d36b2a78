from pathlib import Path

import bcrypt
import pytest
import yaml

from lib.config.settings import ROOT, load_settings
from lib.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_secret_options_are_resolved_by_name_and_never_kept_in_options(tmp_path):
    path = write(
        tmp_path,
        "[app]\ndemo = true\n"
        '[sources.api]\nkind = "rest"\nbase_url = "http://x"\ntoken_secret = "api_token"\n',
    )
    s = load_settings(path, secret={"api_token": "s3cr3t"}.get)
    api = s.source("api")
    assert api.secrets == {"token": "s3cr3t"}
    assert "s3cr3t" not in repr(api.options)


def test_demo_secrets_apply_only_in_demo_mode(tmp_path):
    body = (
        '[demo_secrets]\napi_token = "demo"\n'
        '[sources.api]\nkind = "rest"\ntoken_secret = "api_token"\n'
    )

    users = users_yaml(tmp_path, {"admin": own_hash("not the demo one")})

    def api_secrets(demo: str) -> dict:
        path = write(tmp_path, f'[app]\ndemo = {demo}\nusers_file = "{users}"\n' + body)
        return dict(load_settings(path, secret=lambda _: None).source("api").secrets)

    assert api_secrets("true") == {"token": "demo"}
    assert api_secrets("false") == {}


def test_unknown_kind_is_refused_with_the_source_name(tmp_path):
    with pytest.raises(ConfigError, match="Source 'x'"):
        load_settings(write(tmp_path, '[app]\ndemo = true\n[sources.x]\nkind = "ftp"\n'))


def test_missing_file_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[app\n"))


def test_the_shipped_demo_config_loads():
    s = load_settings()
    assert s.demo
    assert {src.kind for src in s.sources} == {"sql", "mongo", "rest", "sheet"}


# --- outside the demo, nothing of the demo signs anyone in --------------------------------

DEMO_USERS = ROOT / "config" / "users.yaml"


def users_yaml(tmp_path: Path, users: dict[str, str]) -> Path:
    """A users file: username -> bcrypt hash, each user an admin."""
    path = tmp_path / "users.yaml"
    body = {"users": {name: {"password": h, "roles": ["admin"]} for name, h in users.items()}}
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def own_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def deployed(tmp_path: Path, users_file: Path | None) -> Path:
    line = f'users_file = "{users_file}"\n' if users_file else ""
    return write(tmp_path, "[app]\ndemo = false\n" + line)


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, secret=lambda _: None)
    message = str(caught.value)
    assert "\n" not in message  # one line, shown as it is
    return message


def test_outside_the_demo_the_users_file_must_be_named(tmp_path):
    message = config_error(deployed(tmp_path, None))
    assert message.startswith("[app] users_file is not set: with demo = false")


def test_outside_the_demo_a_missing_users_file_stops_the_app(tmp_path):
    message = config_error(deployed(tmp_path, tmp_path / "nope.yaml"))
    assert message.startswith("[app] users_file")
    assert "not found" in message


def test_outside_the_demo_the_shipped_demo_users_are_refused(tmp_path):
    message = config_error(deployed(tmp_path, DEMO_USERS))
    assert message.startswith("[app] users_file")
    assert "demo password" in message


def test_outside_the_demo_a_demo_hash_among_own_users_is_refused(tmp_path):
    demo_hash = yaml.safe_load(DEMO_USERS.read_text())["users"]["seller1"]["password"]
    path = users_yaml(tmp_path, {"kim": own_hash("a long passphrase"), "lee": demo_hash})
    assert "user 'lee' has a demo password" in config_error(deployed(tmp_path, path))


def test_outside_the_demo_a_demo_password_hashed_afresh_is_refused(tmp_path):
    path = users_yaml(tmp_path, {"admin": own_hash("admin-demo")})
    assert "user 'admin' has a demo password" in config_error(deployed(tmp_path, path))


def test_outside_the_demo_own_users_with_own_passwords_load(tmp_path):
    path = users_yaml(tmp_path, {"admin": own_hash("not the demo one"), "kim": own_hash("x")})
    settings = load_settings(deployed(tmp_path, path), secret=lambda _: None)
    assert (settings.demo, settings.users_file) == (False, path)


def test_outside_the_demo_no_demo_secret_is_used(tmp_path):
    path = users_yaml(tmp_path, {"admin": own_hash("not the demo one")})
    body = (
        f'[app]\ndemo = false\nusers_file = "{path}"\n'
        '[demo_secrets]\ngateway_secret_key = "test_sk_demo"\naudit_url = "sqlite:///x"\n'
    )
    for section in ('[gateway]\nbase_url = "http://gw"\n', '[audit]\nurl_secret = "audit_url"\n'):
        with pytest.raises(ConfigError, match="is not set"):
            load_settings(write(tmp_path, body + section), secret=lambda _: None)


@pytest.mark.parametrize(
    ("reports", "says"),
    [
        ("seller_fee_pct = 150", r"\[reports\] seller_fee_pct must be between 0 and 100"),
        ('seller_fee_pct = "ten"', r"\[reports\] seller_fee_pct must be a number"),
        ("fee = 10", r"\[reports\] has unknown keys: fee"),
    ],
)
def test_a_bad_reports_section_stops_the_app_at_start(tmp_path, reports, says):
    with pytest.raises(ConfigError, match=says):
        load_settings(write(tmp_path, f"[app]\ndemo = true\n[reports]\n{reports}\n"))


def test_the_reports_section_is_kept_as_written(tmp_path):
    s = load_settings(write(tmp_path, "[app]\ndemo = true\n[reports]\nseller_fee_pct = 12.5\n"))
    assert dict(s.reports) == {"seller_fee_pct": 12.5}
