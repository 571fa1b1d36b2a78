"""What an audit row says: the entry a caller records and the row the store returns."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# A complete e-mail address. A masked one (k***@example.com) has a '*' and passes.
_EMAIL = re.compile(r"[\w.%+*-]+@[\w*-]+(?:\.[\w*-]+)*\.[\w*]{2,}")


@dataclass(frozen=True)
class AuditEntry:
    """One thing that happened, as the caller describes it; the store adds time and hashes.

    `detail` must already be masked: it is stored as JSON and shown to auditors.
    """

    actor: str
    actor_roles: tuple[str, ...]
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        object.__setattr__(self, "actor_roles", tuple(self.actor_roles))
        if self.target_id is not None and not isinstance(self.target_id, str):
            object.__setattr__(self, "target_id", str(self.target_id))
        for name in ("actor", "action", "outcome", "request_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"audit entry: {name} must be a non-empty string")
        if not all(isinstance(r, str) and r for r in self.actor_roles):
            raise ValueError("audit entry: actor_roles must be non-empty strings")
        if not isinstance(self.detail, Mapping):
            raise ValueError("audit entry: detail must be a mapping")


@dataclass(frozen=True)
class AuditRow:
    """A stored row, decoded: roles as a tuple, detail as a dict, occurred_at aware UTC."""

    id: int
    occurred_at: datetime
    actor: str
    actor_roles: tuple[str, ...]
    action: str
    target_type: str | None
    target_id: str | None
    outcome: str
    reason: str | None
    detail: dict[str, Any]
    request_id: str
    prev_hash: str
    row_hash: str

    @classmethod
    def from_stored(cls, values: Mapping[str, Any]) -> AuditRow:
        v = dict(values)
        v["occurred_at"] = datetime.fromisoformat(v["occurred_at"])
        v["actor_roles"] = tuple(json.loads(v["actor_roles"]))
        v["detail"] = json.loads(v["detail"])
        return cls(**{name: v[name] for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["actor_roles"] = list(self.actor_roles)
        return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise ValueError(f"audit detail: {type(value).__name__} is not JSON")


def to_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 kept, no NaN."""
    try:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_json_default,
        )
    except TypeError as exc:  # e.g. non-string dict keys that cannot be sorted together
        raise ValueError(f"audit detail is not JSON: {exc}") from exc


def refuse_raw_emails(value: Any, path: str = "detail") -> None:
    """Raise ValueError if a string (key or value) anywhere in `value` is an unmasked address.

    Masking is the caller's job; this is a cheap second line so a forgotten mask fails loudly
    instead of writing personal data into a log nobody may delete.
    """
    if isinstance(value, str):
        for match in _EMAIL.finditer(value):
            if "*" not in match.group():
                raise ValueError(f"audit {path} holds an unmasked e-mail address")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_raw_emails(key, path)
            refuse_raw_emails(item, f"{path}.{key}")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            refuse_raw_emails(item, f"{path}[{i}]")
