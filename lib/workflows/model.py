"""What a workflow run produces and reports while it runs: shared by the runner, the live
registry, the runs store and the page."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

# A run's outcome. `partial`: some per-item calls failed after their retries (listed in
# `failed`); `failed`: a step that is not per-item failed, so there is no result;
# `stopped`: someone pressed Stop (what finished is kept, the rest listed as not run).
OUTCOMES = ("running", "ok", "partial", "failed", "stopped")


@dataclass(frozen=True)
class FailedItem:
    step: str  # the step's name
    item: str  # the item's key, e.g. "customer 17"
    error: str  # one line, no secrets, no raw personal data
    # The item's own key, for a retry in this process to call it again (two keys may mask to
    # the same `item`); never shown, logged or stored.
    key: Any = field(default=None, compare=False, repr=False)


@dataclass
class StepReport:
    name: str
    kind: str  # "query" | "call" | "for_each"
    started_at: datetime | None = None
    seconds: float = 0.0
    items: int = 0  # calls to make (for_each) or 1
    done: int = 0
    failed: int = 0
    rows: int = 0  # rows the step produced

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "seconds": round(self.seconds, 3),
            "items": self.items,
            "done": self.done,
            "failed": self.failed,
            "rows": self.rows,
        }


class Progress:
    """Counters the runner updates from its worker threads and the page reads while it runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.step = ""
        self.total = 0
        self.done = 0
        self.failed = 0
        self.not_run = 0  # items left alone because Stop was pressed: not failures

    def begin_step(self, name: str, items: int) -> None:
        with self._lock:
            self.step, self.total, self.done, self.failed = name, items, 0, 0
            self.not_run = 0

    def item_done(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.done += 1
            else:
                self.failed += 1

    def item_not_run(self) -> None:
        with self._lock:
            self.not_run += 1

    def snapshot(self) -> dict[str, int | str]:
        """{"step", "total", "done", "failed", "not_run", "left"} at one instant."""
        with self._lock:
            left = max(self.total - self.done - self.failed - self.not_run, 0)
            return {
                "step": self.step,
                "total": self.total,
                "done": self.done,
                "failed": self.failed,
                "not_run": self.not_run,
                "left": left,
            }


@dataclass
class RunResult:
    outcome: str  # one of OUTCOMES except "running"
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # each step's rows (raw)
    result: pd.DataFrame | None = None  # the combine query's rows, NOT masked (mask at display)
    failed: list[FailedItem] = field(default_factory=list)
    steps: list[StepReport] = field(default_factory=list)
    error: str | None = None  # one line when outcome == "failed"
