"""Delivering the outboxes: claim due rows, send each, mark it sent or to retry.

    deliverer = Deliverer(config, outboxes_for(settings), worker_id="host-1234")
    deliverer.tick()        # every poll_s, from the process's jobs thread; -> messages sent

One Deliverer per process (its worker id names the process); several processes on the same
outboxes deliver each row once (lib.notify.outbox.claim). A tick never raises: an outbox
whose database is down is logged and tried again next tick, the others go on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from lib.access.masking import masked_line
from lib.notify import outbox
from lib.notify.channels import Message, SendFailed, send
from lib.notify.config import NotifyConfig

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


class Deliverer:
    def __init__(
        self,
        config: NotifyConfig,
        outboxes: Mapping[str, sa.Engine],
        worker_id: str | None = None,
    ) -> None:
        self.config = config
        self.outboxes = dict(outboxes)
        self.worker_id = (worker_id or default_worker_id())[:64]
        self._lock = threading.Lock()  # one tick at a time, whoever calls it

    def tick(self, now: datetime | None = None) -> int:
        """Send what is due in every outbox; the number of messages the receivers took."""
        sent = 0
        with self._lock:
            for where, engine in self.outboxes.items():
                try:
                    sent += self._drain(where, engine, now)
                except sa.exc.SQLAlchemyError as exc:
                    log.warning("outbox %s unavailable: %s", where, masked_line(exc, 200))
        return sent

    def _drain(self, where: str, engine: sa.Engine, now: datetime | None) -> int:
        sent = 0
        for row in outbox.claim(engine, self.worker_id, self.config, now):
            message = Message(
                message_id=message_id(where, row.id, row.created_at),
                event=row.event,
                subject=row.subject,
                body=row.body,
                link=self.config.link(row.link),
                recipients=row.recipients,
                attachments=row.attachments,
            )
            try:
                send(message, row.channel, self.config)
            except SendFailed as exc:
                status = outbox.mark_retry(
                    engine, row.id, self.worker_id, row.attempts, str(exc), self.config, now
                )
                log.info("%s outbox %s: attempt %s %s", where, row.id, row.attempts, status)
                continue
            except Exception as exc:  # a bug in a channel must not stop the other rows
                log.exception("%s outbox %s: sending failed", where, row.id)
                outbox.mark_retry(
                    engine,
                    row.id,
                    self.worker_id,
                    row.attempts,
                    f"{type(exc).__name__}: {exc}",
                    self.config,
                    now,
                )
                continue
            if outbox.mark_sent(engine, row.id, self.worker_id, now):
                sent += 1
            else:
                log.warning("%s outbox %s: sent after its lease ran out", where, row.id)
        return sent


def message_id(where: str, outbox_id: int, created_at: str) -> str:
    """Stable across attempts and processes, unique across outboxes (and a rebuilt database:
    the creation time is in it)."""
    stamp = "".join(ch for ch in created_at if ch.isdigit())
    return f"backoffice.{where}.{outbox_id}.{stamp}"
