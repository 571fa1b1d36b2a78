"""What the engine (lib.reading.engine) keeps for each source between queries, and what it
reports about one: kept apart so the engine module holds the loading and querying only."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from lib.errors import SourceUnavailable
from lib.reading.sheet_findings import SheetFindings


@dataclass
class SourceStatus:
    """What the Home page shows for one source."""

    name: str
    kind: str
    ok: bool
    error: str | None = None
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows
    modes: dict[str, str] = field(default_factory=dict)  # table -> live / snapshot / cached
    refreshed_at: datetime | None = None


@dataclass
class SourceState:
    loaded_at: float | None = None  # monotonic, for the TTL
    refreshed_at: datetime | None = None  # wall clock, for people
    error: SourceUnavailable | None = None
    attached: bool = False
    tables: dict[str, str] = field(default_factory=dict)  # table -> mode
    copied: bool = False  # its snapshots were copied at least once: a stale copy can be served
    waited: bool = False  # the first `ensure` waited (briefly) for the snapshots' first copy
    retry_at: float | None = None  # monotonic: when a failed snapshot refresh is tried again
    findings: SheetFindings = field(default_factory=SheetFindings)  # sheet tables
    lock: threading.RLock = field(default_factory=threading.RLock)
