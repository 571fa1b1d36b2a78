"""Role -> what it may open and do, read from config/policy.toml. Deny by default."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from lib.principal import Principal
from lib.settings import ROOT

POLICY_FILE = ROOT / "config" / "policy.toml"


@lru_cache(maxsize=4)
def _roles(path: Path) -> dict[str, dict]:
    return tomllib.loads(path.read_text(encoding="utf-8")).get("roles", {})


def may_open(principal: Principal | None, page: str, path: Path = POLICY_FILE) -> bool:
    """Whether this user may open the page at url path `page` ("" for Home)."""
    if principal is None:
        return False
    roles = _roles(path)
    return any(page in roles.get(role, {}).get("pages", ()) for role in principal.roles)
