"""An event someone must hear about, and a file attached to a message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Event kinds the configuration may route ([notifications.routes]).
EVENTS = (
    "order.rejected",
    "refund.failed",
    "refund.unknown",
    "orders.backlog",
    "source.down",
    "import.changed_rows",
    "report.scheduled",
)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime: str
    content: bytes


@dataclass(frozen=True)
class Event:
    """What happened, already masked: `subject` and `text` carry no raw personal data.

    `path` is the app page with the record (e.g. "/orders?q=123"); a message links to it
    under [notifications] base_url. `dedupe` makes a second enqueue of the same event a no-op.
    """

    kind: str
    subject: str
    text: str
    path: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    dedupe: str | None = None
