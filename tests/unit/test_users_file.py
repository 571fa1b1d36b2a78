"""The users file (lib.access.users.load_users): parsed once per version of the file, read
again as soon as it changes, and refused with a clear message when it is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lib.access import users
from lib.errors import ConfigError

HASH = "$2b$12$" + "a" * 53  # the shape of a bcrypt hash; not checked here


def write(path: Path, roles: list[str], mtime_ns: int) -> None:
    doc = {"users": {"ana": {"name": "Ana", "password": HASH, "roles": roles}}}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = yaml.safe_load

    def counting(text: str):
        seen.append(text)
        return real(text)

    monkeypatch.setattr(users.yaml, "safe_load", counting)
    return seen


def test_the_file_is_parsed_once_per_version_and_an_edit_is_seen_on_the_next_read(
    tmp_path: Path, parses: list[str]
):
    path = tmp_path / "users.yaml"
    write(path, ["support"], 1_700_000_000_000_000_000)
    for _ in range(5):
        assert users.load_users(path)["ana"]["roles"] == ["support"]
    assert len(parses) == 1

    write(path, ["support", "operator"], 1_700_000_000_000_000_001)  # 1 ns later
    assert users.load_users(path)["ana"]["roles"] == ["support", "operator"]
    assert len(parses) == 2


def test_a_missing_or_wrong_file_is_refused_every_time(tmp_path: Path):
    with pytest.raises(ConfigError, match="Users file not found"):
        users.load_users(tmp_path / "nowhere.yaml")
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  ana: {name: Ana, password: plain, roles: [support]}\n")
    for _ in range(2):  # a refusal is not remembered as a good file
        with pytest.raises(ConfigError, match="password must be a bcrypt hash"):
            users.load_users(path)
    write(path, ["support"], 1_700_000_000_000_000_000)
    assert list(users.load_users(path)) == ["ana"]
