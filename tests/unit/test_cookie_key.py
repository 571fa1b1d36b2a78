import pytest

from lib.access.cookie_key import MIN_BYTES, SAMPLE_VALUE, cookie_key
from lib.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "problem"),
    [(None, "missing"), (SAMPLE_VALUE, "the sample value"), ("short-key", "too short")],
)
def test_outside_the_demo_a_weak_cookie_key_stops_the_app(monkeypatch, tmp_path, value, problem):
    monkeypatch.delenv("BACKOFFICE_SECRET_COOKIE_KEY", raising=False)
    if value:
        monkeypatch.setenv("BACKOFFICE_SECRET_COOKIE_KEY", value)
    with pytest.raises(ConfigError, match=f"cookie_key is {problem}"):
        cookie_key(demo=False, demo_dir=tmp_path)


def test_a_strong_key_is_used_as_given(monkeypatch, tmp_path):
    key = "k" * MIN_BYTES
    monkeypatch.setenv("BACKOFFICE_SECRET_COOKIE_KEY", key)
    assert cookie_key(demo=False, demo_dir=tmp_path) == key


def test_the_demo_makes_a_random_key_once_and_keeps_it(monkeypatch, tmp_path):
    monkeypatch.delenv("BACKOFFICE_SECRET_COOKIE_KEY", raising=False)
    first = cookie_key(demo=True, demo_dir=tmp_path)
    assert len(first) >= MIN_BYTES
    assert cookie_key(demo=True, demo_dir=tmp_path) == first
    assert (tmp_path / ".cookie_key").stat().st_mode & 0o077 == 0
