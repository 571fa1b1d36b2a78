"""The user directory: a YAML file of usernames with bcrypt hashes, roles and a tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lib.errors import ConfigError
from lib.principal import Principal


def load_users(path: Path) -> dict[str, dict[str, Any]]:
    """username -> {name, email, password (bcrypt hash), roles, tenant?}."""
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
