"""Role -> what it may open and do, read from config/policy.toml. Deny by default.

Every check in the app asks this module; nothing else knows what a role may do.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from lib.access.principal import Principal
from lib.config.settings import ROOT

POLICY_FILE = ROOT / "config" / "policy.toml"


@lru_cache(maxsize=4)
def _roles(path: Path = POLICY_FILE) -> dict[str, dict[str, Any]]:
    return tomllib.loads(path.read_text(encoding="utf-8")).get("roles", {})


def _grants(principal: Principal | None, key: str) -> set[str]:
    if principal is None:
        return set()
    roles = _roles()
    return {item for role in principal.roles for item in roles.get(role, {}).get(key, ())}


def may_open(principal: Principal | None, page: str) -> bool:
    """Whether this user may open the page at url path `page` ("" for Home)."""
    return page in _grants(principal, "pages")


def may_run(principal: Principal | None, action: str) -> bool:
    return action in _grants(principal, "actions")


def unmask_kinds(principal: Principal | None) -> set[str]:
    """Kinds of personal data this user may reveal (after giving a reason)."""
    return _grants(principal, "unmask")


def sees_all_tenants(principal: Principal | None) -> bool:
    """True for staff whose every role reads all tenants; a seller sees only its own."""
    if principal is None:
        return False
    roles = _roles()
    scopes = {roles.get(role, {}).get("tenant_scope", "own") for role in principal.roles}
    return scopes == {"all"}


def sees_sources(principal: Principal | None) -> bool:
    """Whether this user sees the back ends behind the app (their names, tables, row counts
    and errors) and may refresh them all: staff who read every tenant. Sellers are
    external: none of that is theirs to see."""
    return sees_all_tenants(principal)


def may_touch_tenant(principal: Principal | None, tenant: int | None) -> bool:
    """Whether this user may read or change a row that belongs to `tenant`."""
    if principal is None:
        return False
    if sees_all_tenants(principal):
        return True
    return principal.tenant is not None and tenant == principal.tenant


def roles() -> list[str]:
    return sorted(_roles())


def actions() -> list[str]:
    return sorted({a for spec in _roles().values() for a in spec.get("actions", ())})
