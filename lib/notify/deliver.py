"""Delivering the outboxes: claim a due row, send it, mark it sent or to retry, the next.

    deliverer = Deliverer(config, outboxes_for(settings))   # worker id: host-pid-random
    deliverer.tick()        # every poll_s, from the process's jobs thread; -> messages sent
    deliverer.round(blocking=False)  # a page's "Deliver now": -> Round(sent, failed);
                                     # RoundRunning if one is running
    deliverer.prune()       # sent messages older than keep_days: recipients, text, files gone

One Deliverer per process (its worker id names it: host, pid and a random part, so two
Deliverers in one process or a restarted container never share a lease); several processes
on the same outboxes deliver each row once (lib.notify.outbox.claim). A row is claimed just
before it is sent, one at a time, and its lease renewed while the send runs, so a send
longer than lease_s (an SMTP send can take several timeouts) is not taken over meanwhile.

A send has [notifications] send_deadline_s in all: the channels' timeouts hold per socket
operation only, and a receiver that trickles its answer would hold the row, the round (and
with it "Deliver now" and the jobs thread's other work) for ever. At the deadline the lease
is no longer renewed, the row goes back to retry ("send took longer than N s") and the round
goes on; the send's thread is left to end on its own. So delivery is at least once: that
late send may still reach the receiver, and the retry sends the message again (with the
same Message-ID, by which a receiver may drop the repeat).

A tick never raises (but RoundRunning): an outbox whose database is down is logged and tried
again next tick, the others go on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from lib.access.masking import masked_line
from lib.notify import outbox
from lib.notify.channels import Message, SendFailed, safe_error, send
from lib.notify.config import NotifyConfig

log = logging.getLogger(__name__)


class RoundRunning(Exception):
    """tick(blocking=False) found a delivery round running in this process."""

    def __init__(self) -> None:
        super().__init__("a delivery round is running")


@dataclass(frozen=True)
class Round:
    """What one delivery round did: messages the receivers took, and sends that failed (each
    retried later, or failed for good after max_attempts)."""

    sent: int = 0
    failed: int = 0

    def __add__(self, other: Round) -> Round:
        return Round(self.sent + other.sent, self.failed + other.failed)


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


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

    def tick(self, now: datetime | None = None, *, blocking: bool = True) -> int:
        """Send what is due in every outbox; the number of messages the receivers took."""
        return self.round(now, blocking=blocking).sent

    def round(self, now: datetime | None = None, *, blocking: bool = True) -> Round:
        """Send what is due in every outbox; how many were sent and how many failed.

        blocking=False (a page request): raise RoundRunning at once instead of waiting when
        a round (the jobs thread's) is running in this process."""
        if not self._lock.acquire(blocking=blocking):
            raise RoundRunning()
        try:
            done = Round()
            for where, engine in self.outboxes.items():
                try:
                    done += self._drain(where, engine, now)
                except sa.exc.SQLAlchemyError as exc:
                    log.warning("outbox %s unavailable: %s", where, masked_line(exc, 200))
            return done
        finally:
            self._lock.release()

    def prune(self, now: datetime | None = None) -> int:
        """Clear the recipients, text and attachments of messages sent more than
        [notifications] keep_days ago, in every outbox; the rows cleared. Never raises."""
        cleared = 0
        for where, engine in self.outboxes.items():
            try:
                cleared += outbox.prune(engine, self.config.keep_days, now)
            except sa.exc.SQLAlchemyError as exc:
                log.warning("outbox %s not pruned: %s", where, masked_line(exc, 200))
        return cleared

    def _drain(self, where: str, engine: sa.Engine, now: datetime | None) -> Round:
        sent = failed = 0
        tried: list[int] = []  # a row that failed is not tried again in this round
        while len(tried) < outbox.BATCH:
            rows = outbox.claim(engine, self.worker_id, self.config, now, limit=1, skip=tried)
            if not rows:
                break
            row = rows[0]
            tried.append(row.id)
            outcome = self._send(where, engine, row, now)
            sent += outcome is True
            failed += outcome is False
        return Round(sent, failed)

    def _send(
        self, where: str, engine: sa.Engine, row: outbox.Claimed, now: datetime | None
    ) -> bool | None:
        """True: sent; False: failed (to retry, or failed for good); None: sent, but the
        lease had gone to another worker meanwhile (which may send it again)."""
        message = Message(
            message_id=message_id(where, row.id, row.created_at),
            event=row.event,
            subject=row.subject,
            body=row.body,
            link=self.config.link(row.link),
            recipients=row.recipients,
            attachments=row.attachments,
        )
        with self._leased(where, engine, row.id, now):
            error = self._send_within_deadline(where, row.id, message, row.channel)
        if error:
            status = outbox.mark_retry(
                engine, row.id, self.worker_id, row.attempts, error, self.config, now
            )
            log.info("%s outbox %s: attempt %s %s", where, row.id, row.attempts, status)
            return False
        if outbox.mark_sent(engine, row.id, self.worker_id, now):
            return True
        log.warning("%s outbox %s: sent after its lease went to another worker", where, row.id)
        return None

    def _send_within_deadline(
        self, where: str, outbox_id: int, message: Message, channel: str
    ) -> str:
        """Send in a thread of its own, waiting at most send_deadline_s; "" when the receiver
        took the message, else the error to store (one masked line). A send still running at
        the deadline is left to end by itself (a daemon thread; what it does is not looked at)."""
        outcome: list[str] = []

        def run() -> None:
            try:
                send(message, channel, self.config)
                outcome.append("")
            except SendFailed as exc:
                outcome.append(str(exc))
            except Exception as exc:  # a bug in a channel must not stop the other rows
                error = safe_error(f"{type(exc).__name__}: {exc}", self.config)
                log.error("%s outbox %s: sending failed: %s", where, outbox_id, error)
                outcome.append(error)

        sender = threading.Thread(target=run, name=f"outbox-send-{outbox_id}", daemon=True)
        sender.start()
        sender.join(self.config.send_deadline_s)
        if outcome:
            return outcome[0]
        deadline = f"send took longer than {self.config.send_deadline_s:g} s"
        log.error("%s outbox %s: %s; retried later", where, outbox_id, deadline)
        return deadline

    @contextmanager
    def _leased(
        self, where: str, engine: sa.Engine, outbox_id: int, now: datetime | None
    ) -> Iterator[None]:
        """Renew the row's lease every lease_s / 3 while the body runs (a send), up to
        send_deadline_s."""
        stop = threading.Event()
        started = time.monotonic()
        every = self.config.lease_s / 3

        def renew() -> None:
            while not stop.wait(every):
                elapsed = time.monotonic() - started
                if elapsed > self.config.send_deadline_s:
                    log.error(
                        "%s outbox %s: send exceeded %g s; lease left to run out",
                        where,
                        outbox_id,
                        self.config.send_deadline_s,
                    )
                    return
                moment = None if now is None else now + timedelta(seconds=elapsed)
                try:
                    renewed = outbox.renew(engine, outbox_id, self.worker_id, self.config, moment)
                    if not renewed and not stop.is_set():
                        log.warning("%s outbox %s: lease lost during its send", where, outbox_id)
                        return
                except sa.exc.SQLAlchemyError as exc:
                    log.warning(
                        "%s outbox %s: lease not renewed: %s",
                        where,
                        outbox_id,
                        masked_line(exc, 200),
                    )

        beat = threading.Thread(target=renew, name=f"outbox-lease-{outbox_id}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            # A renewal stuck in a database call is not waited for (it changes nothing once
            # the row is marked: renew() only touches a row still sending under this lease).
            beat.join(timeout=min(every, 5.0))


def message_id(where: str, outbox_id: int, created_at: str) -> str:
    """Stable across attempts and processes, unique across outboxes (and a rebuilt database:
    the creation time is in it)."""
    stamp = "".join(ch for ch in created_at if ch.isdigit())
    return f"backoffice.{where}.{outbox_id}.{stamp}"
