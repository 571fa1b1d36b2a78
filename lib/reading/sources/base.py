"""What every source shares: its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("sql", "mongo", "rest", "sheet")


@dataclass(frozen=True)
class SourceConfig:
    """One `[sources.<name>]` table of the sources file.

    `options` is the rest of that table as written (url, tables, endpoints, ...).
    `secrets` holds the values this source named from the secrets store, already resolved.
    """

    name: str
    kind: str
    ttl: float = 300.0
    options: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
