import hashlib

import pytest

from lib.access.cookie_key import MIN_BYTES
from lib.access.username_digest import digest_key, username_digest
from lib.errors import ConfigError

TYPED = "correct horse battery staple"  # a password typed into the username box


def test_the_digest_is_keyed_stable_and_not_a_plain_hash():
    key, other = b"k" * 32, b"o" * 32
    digest = username_digest(TYPED, key)
    assert digest == username_digest(TYPED, key)
    assert digest != username_digest(TYPED, other)
    assert digest not in hashlib.sha256(TYPED.encode()).hexdigest()


def test_the_key_is_the_audit_hmac_key_secret_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("BACKOFFICE_SECRET_AUDIT_HMAC_KEY", "a" * MIN_BYTES)
    assert digest_key(demo=False, demo_dir=tmp_path) == b"a" * MIN_BYTES


def test_unset_it_is_derived_from_the_cookie_key_and_differs_from_it(monkeypatch, tmp_path):
    monkeypatch.delenv("BACKOFFICE_SECRET_AUDIT_HMAC_KEY", raising=False)
    cookie = "c" * MIN_BYTES
    monkeypatch.setenv("BACKOFFICE_SECRET_COOKIE_KEY", cookie)
    key = digest_key(demo=False, demo_dir=tmp_path)
    assert key == digest_key(demo=False, demo_dir=tmp_path)
    assert cookie.encode() not in key
    monkeypatch.setenv("BACKOFFICE_SECRET_COOKIE_KEY", "d" * MIN_BYTES)
    assert digest_key(demo=False, demo_dir=tmp_path) != key


def test_the_demo_derives_it_from_its_own_random_cookie_key(monkeypatch, tmp_path):
    monkeypatch.delenv("BACKOFFICE_SECRET_AUDIT_HMAC_KEY", raising=False)
    monkeypatch.delenv("BACKOFFICE_SECRET_COOKIE_KEY", raising=False)
    first, second = tmp_path / "one", tmp_path / "two"
    assert digest_key(demo=True, demo_dir=first) == digest_key(demo=True, demo_dir=first)
    assert digest_key(demo=True, demo_dir=first) != digest_key(demo=True, demo_dir=second)


def test_outside_the_demo_a_short_key_or_no_key_at_all_stops_the_app(monkeypatch, tmp_path):
    monkeypatch.delenv("BACKOFFICE_SECRET_COOKIE_KEY", raising=False)
    monkeypatch.setenv("BACKOFFICE_SECRET_AUDIT_HMAC_KEY", "short")
    with pytest.raises(ConfigError, match="audit_hmac_key is too short"):
        digest_key(demo=False, demo_dir=tmp_path)
    monkeypatch.delenv("BACKOFFICE_SECRET_AUDIT_HMAC_KEY")
    with pytest.raises(ConfigError, match="cookie_key is missing"):
        digest_key(demo=False, demo_dir=tmp_path)
