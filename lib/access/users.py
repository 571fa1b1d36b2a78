"""The user directory: a YAML file of usernames with bcrypt hashes, roles and a tenant."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import bcrypt
import yaml

from lib.access.principal import Principal
from lib.errors import ConfigError


def load_users(path: Path) -> dict[str, dict[str, Any]]:
    """username -> {name, email, password (bcrypt hash), roles, tenant?}.

    Every page run asks (who is signed in, with which roles), so the file is parsed once per
    version of it (its modification time and size) and shared: read the dict, never change
    it. An edited file (a user removed, a role changed) is read again on the next run."""
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise ConfigError(f"Users file not found: {path}") from exc
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _parsed(path: Path, _mtime_ns: int, _size: int) -> dict[str, dict[str, Any]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"Users file not found: {path}") from exc
    users = raw.get("users") or {}
    for username, user in users.items():
        if not str(user.get("password", "")).startswith("$2"):
            raise ConfigError(f"User '{username}': password must be a bcrypt hash")
        if not user.get("roles"):
            raise ConfigError(f"User '{username}' has no roles")
    return users


def principal_for(users: dict[str, dict[str, Any]], username: str) -> Principal:
    user = users[username]
    tenant = user.get("tenant")
    return Principal(
        username=username,
        name=str(user.get("name", username)),
        roles=tuple(user["roles"]),
        tenant=int(tenant) if tenant is not None else None,
    )


# The demo's users: their passwords are published ("<username>-demo"), so outside the demo
# a users file holding one of them would let anyone in.
DEMO_USERS_FILE = Path(__file__).resolve().parents[2] / "config" / "users.yaml"
SETTING = "[app] users_file"


def demo_password_user(users: dict[str, dict[str, Any]]) -> str | None:
    """The first user whose password is a demo one, or None.

    A hash copied from the demo file is caught by comparison; a demo password hashed afresh
    (new salt) only by bcrypt, which is slow on purpose, so that is tried for the demo's
    usernames only (a handful) and once per process for a given set of users.
    """
    return _demo_password_user(tuple((name, str(u["password"])) for name, u in users.items()))


@functools.cache
def _demo_hashes() -> dict[str, str]:
    return {name: str(u["password"]) for name, u in load_users(DEMO_USERS_FILE).items()}


@functools.cache
def _demo_password_user(hashes: tuple[tuple[str, str], ...]) -> str | None:
    demo = _demo_hashes()
    for name, hashed in hashes:
        if hashed in demo.values():
            return name
    for name, hashed in hashes:
        if name in demo and password_matches(f"{name}-demo", hashed):
            return name
    return None


def password_matches(password: str, hashed: str) -> bool:
    """Whether `password` is the one `hashed` (a bcrypt hash) was made from."""
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:  # not a bcrypt hash bcrypt can read: cannot be the demo's
        return False


def check_deployed_users(path: Path) -> None:
    """Outside the demo: raise ConfigError, naming the setting in one line, unless `path` is
    a readable users file in which no user has a demo password."""
    try:
        users = load_users(path)
    except ConfigError as exc:
        raise ConfigError(f"{SETTING}: {exc}") from None
    except (OSError, yaml.YAMLError, AttributeError, TypeError) as exc:
        problem = " ".join(str(exc).split())
        raise ConfigError(f"{SETTING}: {path} cannot be read as a users file ({problem})") from None
    name = demo_password_user(users)
    if name is not None:
        raise ConfigError(
            f"{SETTING} ({path}): user '{name}' has a demo password; with demo = false every "
            "user needs a password of its own (a new bcrypt hash)"
        )
