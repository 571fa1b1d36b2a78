"""Who is acting: the signed-in user as every check sees it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    username: str
    name: str
    roles: tuple[str, ...]
    tenant: int | None = None  # a seller's own seller id; None for staff
