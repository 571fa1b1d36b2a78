from pathlib import Path

import pytest

from lib.errors import ConfigError
from lib.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_secret_options_are_resolved_by_name_and_never_kept_in_options(tmp_path):
    path = write(
        tmp_path,
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

    def api_secrets(demo: str) -> dict:
        path = write(tmp_path, f"[app]\ndemo = {demo}\n" + body)
        return dict(load_settings(path, secret=lambda _: None).source("api").secrets)

    assert api_secrets("true") == {"token": "demo"}
    assert api_secrets("false") == {}


def test_unknown_kind_is_refused_with_the_source_name(tmp_path):
    with pytest.raises(ConfigError, match="Source 'x'"):
        load_settings(write(tmp_path, '[sources.x]\nkind = "ftp"\n'))


def test_missing_file_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[app\n"))


def test_the_shipped_demo_config_loads():
    s = load_settings()
    assert s.demo
    assert {src.kind for src in s.sources} == {"sql", "mongo", "rest", "sheet"}
