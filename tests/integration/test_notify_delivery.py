"""Notifications end to end: the outbox in a real database (SQLite, PostgreSQL), a real SMTP
server (aiosmtpd, also with STARTTLS and AUTH) and a local HTTP webhook receiver.

What is checked is what a receiver sees: the subject, masked text, a link into the app,
attachments that open, and each message once, also after the receiver was down.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fpdf import FPDF
from pypdf import PdfReader

from lib import actions
from lib.access.principal import Principal
from lib.actions.base import Action, Call
from lib.actions.context import ActionContext
from lib.audit import AuditStore
from lib.demo.services.serve import DEFAULT_SECRET, ServiceThread, create_service
from lib.notify import outbox
from lib.notify.config import EMAIL, NotifyConfig
from lib.notify.deliver import Deliverer, RoundRunning
from lib.notify.listing import recent
from lib.notify.model import Attachment, Event
from lib.payments.client import PaymentsClient
from lib.payments.gateway import GatewayConfig
from lib.records.database import make_engine
from tests.integration.servers import free_port

OPERATOR = Principal("operator", "Oscar Operator", ("operator",))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- receivers -----------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on a fixed port that can be down (not listening) and come back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/ops"
        self.received: list[dict[str, Any]] = []
        self.answer = 200
        self.reply = b"busy"  # the body of an answer other than 200
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.answer == 200:
                    receiver.received.append(
                        {
                            "id": self.headers["X-Backoffice-Message-Id"],
                            "path": self.path,
                            "json": json.loads(body),
                        }
                    )
                self.send_response(receiver.answer)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.answer == 200 else receiver.reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def _config(receiver_url: str, smtp_port: int = 9, **extra: Any) -> NotifyConfig:
    secrets = extra.pop("_secrets", {})
    raw: dict[str, Any] = {
        "base_url": "https://bo.example.com",
        "backoff_s": 2,
        "backoff_max_s": 60,
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "bo@example.com"},
        "channels": {
            "ops_chat": {"kind": "webhook", "url": receiver_url, "timeout_s": 2},
            "ops_mail": {"kind": "email", "to": ["ops@example.com"]},
        },
        "routes": {
            "order.rejected": ["ops_chat"],
            "refund.failed": ["ops_chat", "ops_mail"],
            "import.changed_rows": ["ops_mail"],
        },
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return NotifyConfig.of(raw, secret=secrets.get)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.integration),
        pytest.param("mariadb", marks=pytest.mark.integration),
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An outbox database: a SQLite file, a fresh PostgreSQL and a fresh MariaDB database (a
    shop may be deployed on either)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    elif request.param == "postgresql":
        engine = make_engine(request.getfixturevalue("pg_server").new())
    else:
        engine = make_engine(request.getfixturevalue("mysql_server").new())
    outbox.ensure(engine)
    outbox.ensure(engine)  # a second start finds the tables there
    yield engine
    engine.dispose()


@pytest.fixture
def now() -> datetime:
    """A minute after this test starts, so after every row it writes (enqueue stamps rows with
    the real clock): taken per test, so a run that reaches this file late is no different."""
    return datetime.now(UTC) + timedelta(minutes=1)


def _enqueue(engine: sa.Engine, event: Event, config: NotifyConfig, **kw: Any) -> list[int]:
    with engine.begin() as conn:
        return outbox.enqueue(conn, event, config, **kw)


def _rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(outbox.outbox))]


def _pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(text="Dashboard report 2026-10")
    return bytes(pdf.output())


def _xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["month", "revenue_krw"])
    book.active.append(["2026-10", 1_234_000])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- e-mail --------------------------------------------------------------------------------------


def test_an_email_arrives_with_its_subject_masked_text_link_and_attachments_that_open(db, smtp):
    box, port = smtp
    config = _config("http://127.0.0.1:9/none", port)
    files = [
        Attachment("report-2026-10.xlsx", XLSX, _xlsx()),
        Attachment("report.pdf", "application/pdf", _pdf()),
    ]
    event = Event(
        "report.scheduled",
        "Monthly report 2026-10",
        "Asked by kim.minsu@example.com, call 010-1234-5678.",
        path="/dashboard?from=2026-10-01",
    )
    [row_id] = _enqueue(
        db,
        event,
        config,
        channel=EMAIL,
        recipients=["cfo@example.com", "ceo@example.com"],
        attachments=files,
    )
    assert Deliverer(config, {"audit": db}, "w1").tick() == 1

    [mail] = box.messages
    assert mail["Subject"] == "Monthly report 2026-10"
    assert box.envelopes == [("bo@example.com", ["cfo@example.com", "ceo@example.com"])]
    text = mail.get_body(("plain",)).get_content()
    assert "kim.minsu@example.com" not in text and "010-1234-5678" not in text
    assert "https://bo.example.com/dashboard?from=2026-10-01" in text
    assert mail["Message-ID"].startswith(f"<backoffice.audit.{row_id}.")
    parts = {p.get_filename(): p for p in mail.iter_attachments()}
    assert parts["report-2026-10.xlsx"].get_content_type() == XLSX
    book = openpyxl.load_workbook(io.BytesIO(parts["report-2026-10.xlsx"].get_content()))
    assert list(book.active.values) == [("month", "revenue_krw"), ("2026-10", 1_234_000)]
    pdf = PdfReader(io.BytesIO(parts["report.pdf"].get_content()))
    assert "Dashboard report 2026-10" in pdf.pages[0].extract_text()
    [row] = _rows(db)
    assert (row["status"], row["attempts"]) == ("sent", 1) and row["sent_at"]
    [listed] = recent({"audit": db}).to_dict("records")
    assert (listed["status"], listed["channel"], listed["event"]) == (
        "sent",
        "email",
        "report.scheduled",
    )
    assert "cfo@example.com" not in listed["to"] and listed["to"].count("@example.com") == 2


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_starttls_and_login_from_secrets_and_a_wrong_password_is_a_masked_retry(tmp_path, now):
    import ssl

    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[str, bool]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        login, password = (
            v.decode() if isinstance(v, bytes) else v for v in (auth_data.login, auth_data.password)
        )
        logins.append((login, session.ssl is not None))
        # handled=False: the server answers 235 or 535 itself.
        return AuthResult(success=(login, password) == ("relay-user", "s3cret-pass"), handled=False)

    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    outbox.ensure(engine)
    try:
        secrets = {"smtp_user": "relay-user", "smtp_pass": "s3cret-pass", "bad_pass": "wr0ng-pass"}
        smtp = {
            "port": controller.port,
            "starttls": True,
            "ca_file": str(cert),
            "username_secret": "smtp_user",
        }
        good = _config(
            "http://127.0.0.1:9/x", _secrets=secrets, smtp={**smtp, "password_secret": "smtp_pass"}
        )
        bad = _config(
            "http://127.0.0.1:9/x", _secrets=secrets, smtp={**smtp, "password_secret": "bad_pass"}
        )
        event = Event("refund.failed", "Refund of ₩5,000 on order 7 failed", "Refund 3 (CODE).")

        _enqueue(engine, event, bad, channel="ops_mail")
        assert Deliverer(bad, {"audit": engine}, "w1").tick(now) == 0
        [row] = _rows(engine)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert row["last_error"] == "SMTP login refused (535)"
        assert "wr0ng" not in row["last_error"] and not box.messages

        assert Deliverer(good, {"audit": engine}, "w1").tick(now + timedelta(seconds=2)) == 1
        [mail] = box.messages
        assert mail["Subject"] == "Refund of ₩5,000 on order 7 failed"
        assert box.envelopes[0][1] == ["ops@example.com"]
        assert logins[-1] == ("relay-user", True)  # logged in over TLS
    finally:
        controller.stop()
        engine.dispose()


# --- webhook -------------------------------------------------------------------------------------


def test_a_receiver_down_then_up_gets_the_message_once_after_backoff(db, receiver, now):
    config = _config(receiver.url)
    event = Event("order.rejected", "Order 41 rejected", "Order 41 was rejected.", "/orders?q=41")
    [row_id] = _enqueue(db, event, config)
    deliverer = Deliverer(config, {"shop": db}, "w1")

    assert deliverer.tick(now) == 0  # nobody listens
    [row] = _rows(db)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == "webhook unreachable (ConnectionError)"
    assert receiver.url not in row["last_error"]
    assert deliverer.tick(now + timedelta(seconds=1)) == 0  # backoff: not due before 2 s
    assert _rows(db)[0]["attempts"] == 1
    assert deliverer.tick(now + timedelta(seconds=2)) == 0  # second attempt, still down
    assert _rows(db)[0]["attempts"] == 2
    assert deliverer.tick(now + timedelta(seconds=5)) == 0  # next one waits 4 s

    receiver.start()
    assert deliverer.tick(now + timedelta(seconds=6)) == 1
    for later in (7, 60, 600):
        assert deliverer.tick(now + timedelta(seconds=later)) == 0
    [got] = receiver.received
    assert got["id"].startswith(f"backoffice.shop.{row_id}.")
    assert got["json"] == {
        "text": "*Order 41 rejected*\nOrder 41 was rejected.\n"
        "<https://bo.example.com/orders?q=41|Open in Backoffice>"
    }
    assert _rows(db)[0]["status"] == "sent"


def test_after_max_attempts_a_message_is_failed_until_retried(db, receiver, now):
    receiver.answer = 503
    receiver.start()
    config = _config(receiver.url, max_attempts=3)
    [row_id] = _enqueue(db, Event("order.rejected", "Order 5 rejected", "x"), config)
    deliverer = Deliverer(config, {"audit": db}, "w1")
    for seconds in (0, 2, 6, 100):
        deliverer.tick(now + timedelta(seconds=seconds))
    [row] = _rows(db)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert row["last_error"] == "webhook answered HTTP 503: busy"
    [listed] = recent({"audit": db}, status="failed").to_dict("records")
    assert (listed["id"], listed["where"], listed["to"]) == (row_id, "audit", "ops_chat")

    receiver.answer = 200
    assert deliverer.tick(now + timedelta(hours=1)) == 0  # failed stays failed
    with db.begin() as conn:
        assert outbox.retry(conn, row_id, now + timedelta(hours=1))
    with db.begin() as conn:
        assert not outbox.retry(conn, row_id)  # pending now: nothing to retry
    assert deliverer.tick(now + timedelta(hours=1)) == 1
    assert len(receiver.received) == 1 and _rows(db)[0]["status"] == "sent"


def test_two_processes_delivering_one_outbox_send_every_message_once(db, receiver, request, now):
    receiver.start()
    config = _config(receiver.url)
    for n in range(40):
        _enqueue(db, Event("order.rejected", f"Order {n} rejected", "x", f"/orders?q={n}"), config)
    # Two "processes": each with its own engine (own connections) and worker id.
    other = make_engine(db.url)
    request.addfinalizer(other.dispose)
    deliverers = [Deliverer(config, {"shop": db}, "p1"), Deliverer(config, {"shop": other}, "p2")]
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def work(d: Deliverer) -> None:
        barrier.wait()
        counts.append(sum(d.tick(now) for _ in range(3)))

    threads = [threading.Thread(target=work, args=(d,)) for d in deliverers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [m["id"] for m in receiver.received]
    assert len(ids) == 40 and len(set(ids)) == 40
    assert sum(counts) == 40
    assert {r["status"] for r in _rows(db)} == {"sent"}


class SlowReceiver:
    """A webhook receiver that answers its headers after `pause` s and its body after another
    `pause` s: each wait is within the sender's timeout, the whole send longer."""

    def __init__(self, pause: float) -> None:
        self.arrived: list[str] = []  # message ids, as each request arrives
        self.started = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrived.append(self.headers["X-Backoffice-Message-Id"])
                receiver.started.set()
                time.sleep(pause)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.flush()
                time.sleep(pause)
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks/slow"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _short_timeouts_raw(url: str, lease_s: float, timeout_s: float) -> dict[str, Any]:
    return {
        "lease_s": lease_s,
        "smtp": {"timeout_s": timeout_s},
        "channels": {
            "ops_chat": {"kind": "webhook", "url": url, "timeout_s": timeout_s},
            "ops_mail": {"kind": "email", "to": ["ops@example.com"], "timeout_s": timeout_s},
        },
    }


def _short_timeouts(url: str, lease_s: float, timeout_s: float) -> NotifyConfig:
    return _config(url, **_short_timeouts_raw(url, lease_s, timeout_s))


@pytest.fixture
def slow_receiver() -> Iterator[SlowReceiver]:
    r = SlowReceiver(pause=1.0)
    yield r
    r.stop()


def test_sends_longer_than_the_lease_by_two_deliverers_reach_the_receiver_once_each(
    db, slow_receiver, request, caplog
):
    # Each send takes about 2 s (two waits of 1 s, each within the 1.4 s timeout): longer than
    # the 1.5 s lease. The sender renews the lease while it sends, so the other process,
    # ticking from the moment the first lease would have run out, never takes a message over
    # and sends it again.
    config = _short_timeouts(slow_receiver.url, lease_s=1.5, timeout_s=1.4)
    for n in range(3):
        _enqueue(db, Event("order.rejected", f"Order {n} rejected", "x"), config)
    other = make_engine(db.url)
    request.addfinalizer(other.dispose)
    first, second = Deliverer(config, {"shop": db}, "p1"), Deliverer(config, {"shop": other}, "p2")
    counts: list[int] = []
    runner = threading.Thread(target=lambda: counts.append(first.tick()))
    runner.start()
    assert slow_receiver.started.wait(5)
    time.sleep(1.7)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and {r["status"] for r in _rows(db)} != {"sent"}:
        counts.append(second.tick())
        time.sleep(0.1)
    runner.join()
    assert len(slow_receiver.arrived) == 3 and len(set(slow_receiver.arrived)) == 3
    assert sum(counts) == 3
    assert sorted((r["status"], r["attempts"]) for r in _rows(db)) == [("sent", 1)] * 3
    assert "lease" not in caplog.text  # neither "lease lost" nor "sent after its lease"


def test_deliver_now_during_a_round_says_a_round_is_running_instead_of_waiting(db, slow_receiver):
    config = _short_timeouts(slow_receiver.url, lease_s=5, timeout_s=2)
    _enqueue(db, Event("order.rejected", "Order 1 rejected", "x"), config)
    deliverer = Deliverer(config, {"shop": db}, "p1")
    runner = threading.Thread(target=deliverer.tick)
    runner.start()
    assert slow_receiver.started.wait(5)
    asked = time.monotonic()
    with pytest.raises(RoundRunning, match="a delivery round is running"):
        deliverer.tick(blocking=False)
    assert time.monotonic() - asked < 0.5
    runner.join()
    _enqueue(db, Event("order.rejected", "Order 2 rejected", "x"), config)
    assert deliverer.tick(blocking=False) == 1  # no round running: it delivers
    assert len(slow_receiver.arrived) == 2


class TricklingReceiver:
    """A webhook receiver that, while `trickle` is set, answers 200 with a 1000-byte body one
    byte every 0.5 s: each read is within the sender's timeout, the send never ends (until
    stop()). With `trickle` cleared it answers at once."""

    def __init__(self) -> None:
        self.trickle = True
        self.received: list[str] = []  # message ids answered in full
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers["Content-Length"]))
                slow = receiver.trickle
                self.send_response(200)
                self.send_header("Content-Length", "1000" if slow else "2")
                self.end_headers()
                if not slow:
                    receiver.received.append(self.headers["X-Backoffice-Message-Id"])
                    self.wfile.write(b"ok")
                    return
                for _ in range(1000):
                    if receiver.stopping.wait(0.5):
                        return
                    self.wfile.write(b".")
                    self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks/trickle"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def trickling_receiver() -> Iterator[TricklingReceiver]:
    r = TricklingReceiver()
    yield r
    r.stop()


def test_a_send_that_never_ends_is_given_up_at_the_deadline_and_retried(
    db, trickling_receiver, caplog, now
):
    url = trickling_receiver.url
    config = _config(url, send_deadline_s=2, **_short_timeouts_raw(url, lease_s=2, timeout_s=1))
    [row_id] = _enqueue(db, Event("order.rejected", "Order 3 rejected", "x"), config)
    deliverer = Deliverer(config, {"shop": db}, "w1")

    started = time.monotonic()
    assert deliverer.tick(now) == 0
    assert time.monotonic() - started < 3.5  # the deadline (2 s) and a little, not for ever
    [row] = _rows(db)
    assert (row["status"], row["attempts"], row["claimed_until"]) == ("pending", 1, None)
    assert row["last_error"] == "send took longer than 2 s"
    assert "send took longer than 2 s" in caplog.text and url not in caplog.text

    # The round is over: "Deliver now" runs one, and the retry reaches a receiver that answers.
    trickling_receiver.trickle = False
    assert deliverer.tick(now + timedelta(seconds=3), blocking=False) == 1
    assert trickling_receiver.received == [f"backoffice.shop.{row_id}.{_stamp(row)}"]
    [row] = _rows(db)
    assert (row["status"], row["attempts"]) == ("sent", 2)


def _stamp(row: dict[str, Any]) -> str:
    return "".join(ch for ch in str(row["created_at"]) if ch.isdigit())


def test_send_errors_are_stored_and_logged_without_the_webhook_url_or_an_address(
    db, receiver, monkeypatch, caplog, now
):
    receiver.answer = 500
    receiver.reply = f"no route to {receiver.url} for kim.minsu@example.com".encode()
    receiver.start()
    config = _config(receiver.url)
    _enqueue(db, Event("order.rejected", "Order 8 rejected", "x"), config)
    deliverer = Deliverer(config, {"shop": db}, "w1")
    assert deliverer.tick(now) == 0
    [row] = _rows(db)
    assert row["last_error"].startswith("webhook answered HTTP 500: no route to <url> for ")
    assert receiver.url not in row["last_error"] and "kim.minsu@" not in row["last_error"]

    def broken_channel(message: Any, channel: str, config: NotifyConfig) -> None:
        raise RuntimeError(f"bug posting to {receiver.url} for kim.minsu@example.com")

    monkeypatch.setattr("lib.notify.deliver.send", broken_channel)
    with caplog.at_level("INFO", logger="lib.notify.deliver"):
        assert deliverer.tick(now + timedelta(seconds=3)) == 0
    [row] = _rows(db)
    assert row["attempts"] == 2
    assert row["last_error"].startswith("RuntimeError: bug posting to <url> for ")
    assert "sending failed: RuntimeError: bug posting to <url>" in caplog.text
    for secret in (receiver.url, "kim.minsu@"):
        assert secret not in caplog.text and secret not in row["last_error"]
    assert "Traceback" not in caplog.text


def test_sent_messages_lose_their_recipients_text_and_files_after_keep_days(db, smtp, now):
    box, port = smtp
    config = _config("http://127.0.0.1:9/none", port, keep_days=30)
    report = Event("report.scheduled", "Monthly report 2026-10", "The October report.")
    files = [Attachment("report.pdf", "application/pdf", _pdf())]

    def mail(n: int) -> int:
        [row_id] = _enqueue(
            db, report, config, channel=EMAIL, recipients=[f"cfo{n}@example.com"], attachments=files
        )
        return row_id

    old, recent_one, unsent = mail(1), mail(2), mail(3)
    deliverer = Deliverer(config, {"audit": db}, "w1")
    for row_id, sent_at in ((old, now), (recent_one, now + timedelta(days=20))):
        [claimed] = outbox.claim(db, "w1", config, sent_at, limit=1)
        assert claimed.id == row_id and outbox.mark_sent(db, row_id, "w1", sent_at)

    later = now + timedelta(days=31)
    assert deliverer.prune(later) == 1
    assert deliverer.prune(later) == 0  # nothing left to clear
    rows = {r["id"]: r for r in _rows(db)}
    assert (rows[old]["recipients"], rows[old]["body"]) == (None, "")
    assert rows[old]["subject"] == "Monthly report 2026-10" and rows[old]["status"] == "sent"
    assert json.loads(rows[recent_one]["recipients"]) == ["cfo2@example.com"]
    assert rows[recent_one]["body"] == "The October report."
    assert json.loads(rows[unsent]["recipients"]) == ["cfo3@example.com"]  # not sent yet
    with db.connect() as conn:
        kept = conn.scalars(sa.select(outbox.outbox_attachments.c.outbox_id)).all()
    assert sorted(kept) == sorted([recent_one, unsent])
    [listed] = [r for r in recent({"audit": db}).to_dict("records") if r["id"] == old]
    assert listed["status"] == "sent"
    assert not box.messages  # pruning sends nothing


def test_the_jobs_thread_prunes_the_outboxes_once_an_hour(tmp_path, demo_dir, now):
    from lib.config.settings import load_settings
    from lib.jobs.worker import PRUNE_EVERY_S, Jobs
    from tests.stack import write_config

    config_file = write_config(tmp_path, demo_dir)  # webhook and SMTP: closed ports
    settings = load_settings(config_file)
    engine = make_engine(f"sqlite:///{tmp_path / 'audit-outbox.sqlite'}")
    outbox.ensure(engine)
    config = NotifyConfig.of(settings.notifications)
    event = Event("report.scheduled", "Weekly report 2026-W40", "The week's report.")
    [row_id] = _enqueue(engine, event, config, channel=EMAIL, recipients=["cfo@example.com"])
    outbox.claim(engine, "w1", config, now, limit=1)
    assert outbox.mark_sent(engine, row_id, "w1", now)
    clock = [0.0]
    jobs = Jobs(settings, outboxes={"audit": engine}, clock=lambda: clock[0])
    try:
        later = now + timedelta(days=config.keep_days + 1)
        assert jobs.tick(later, reports=False)["prune"] == 1
        assert "prune" not in jobs.tick(later, reports=False)  # not again within the hour
        clock[0] = PRUNE_EVERY_S
        assert jobs.tick(later, reports=False)["prune"] == 0  # nothing left to clear
        # The jobs' watchers may add their own messages (the demo's backlog): read ours.
        [row] = [r for r in _rows(engine) if r["id"] == row_id]
        assert (row["status"], row["recipients"], row["body"]) == ("sent", None, "")
    finally:
        engine.dispose()


def test_a_lease_left_by_a_dead_process_is_taken_over_after_it_runs_out(db, receiver, now):
    receiver.start()
    config = _config(receiver.url, lease_s=60)
    _enqueue(db, Event("order.rejected", "Order 9 rejected", "x"), config)
    [claimed] = outbox.claim(db, "dead", config, now)  # then the process died
    alive = Deliverer(config, {"shop": db}, "alive")
    assert alive.tick(now + timedelta(seconds=59)) == 0
    assert alive.tick(now + timedelta(seconds=61)) == 1
    assert not outbox.mark_sent(db, claimed.id, "dead")  # too late: it is not its lease
    assert len(receiver.received) == 1


def test_a_dedupe_key_already_in_the_outbox_adds_nothing(db):
    config = _config("http://127.0.0.1:9/x")
    event = Event("refund.failed", "Refund failed", "x", dedupe="refund.failed:12")
    assert len(_enqueue(db, event, config)) == 2  # ops_chat and ops_mail
    assert _enqueue(db, event, config) == []
    assert _enqueue(db, Event("refund.unknown", "not routed", "x"), config) == []
    assert len(_rows(db)) == 2


# --- from the actions ----------------------------------------------------------------------------


def _context(tmp_path: Path, demo_dir: Path, config: NotifyConfig, **kw: Any) -> ActionContext:
    for name in ("crm.sqlite", "shop.sqlite"):
        shutil.copy(demo_dir / name, tmp_path / name)
    audit = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    audit.create_schema()
    dbs = {n: make_engine(f"sqlite:///{tmp_path / f'{n}.sqlite'}") for n in ("shop", "crm")}
    return ActionContext(audit=audit, databases=dbs, notify=config, **kw)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def test_a_change_that_fails_leaves_no_message_and_one_that_commits_leaves_one(
    tmp_path, demo_dir, backend, request
):
    config = _config("http://127.0.0.1:9/x")
    if backend == "sqlite":
        ctx = _context(tmp_path, demo_dir, config)
    else:  # the audit log in the shop's database: one transaction holds change, audit, message
        url = request.getfixturevalue("pg_server").new()
        ctx = ActionContext(
            audit=AuditStore(url), databases={"shop": make_engine(url)}, notify=config
        )
        ctx.audit.create_schema()
        request.addfinalizer(ctx.audit.dispose)
        request.addfinalizer(ctx.databases["shop"].dispose)
    action = Action("order.reject", "order", dict, lambda call: None)
    event = Event("order.rejected", "Order 3 rejected", "x", "/orders?q=3")
    call = Call(ctx, OPERATOR, action, "req-1")
    with pytest.raises(RuntimeError), call.transaction("shop") as tx:
        tx.notify(event)
        raise RuntimeError("the change failed after its message was written")
    assert _rows(ctx.db("shop")) == []
    with call.transaction("shop") as tx:
        tx.audit("ok")
        assert len(tx.notify(event)) == 1
    assert [r["subject"] for r in _rows(ctx.db("shop"))] == ["Order 3 rejected"]


def _customer_name(demo_dir: Path, order_id: int) -> str:
    with closing(sqlite3.connect(demo_dir / "shop.sqlite")) as shop:
        customer_id = shop.execute(
            "SELECT customer_id FROM orders WHERE id = ?", (order_id,)
        ).fetchone()[0]
    with closing(sqlite3.connect(demo_dir / "crm.sqlite")) as crm:
        return crm.execute("SELECT name FROM customers WHERE id = ?", (customer_id,)).fetchone()[0]


def test_rejecting_an_order_sends_one_chat_message_with_its_id_and_link_and_no_name(
    tmp_path, demo_dir, receiver
):
    receiver.start()
    config = _config(receiver.url)
    ctx = _context(tmp_path, demo_dir, config)  # its shop.sqlite also seeds the gateway
    gateway = ServiceThread(create_service("gateway", tmp_path)).start()
    ctx.payments = PaymentsClient(GatewayConfig(gateway.url, DEFAULT_SECRET, timeout=2, retries=1))
    try:
        with closing(sqlite3.connect(tmp_path / "shop.sqlite")) as con:
            order_id, amount = con.execute(
                "SELECT o.id, p.balance_amount FROM orders o JOIN payments p ON p.order_id = o.id "
                "WHERE o.status = 'pending' AND p.status = 'DONE' ORDER BY o.id LIMIT 1"
            ).fetchone()
        with actions.use_context(ctx):
            result = actions.run(
                "order.reject", OPERATOR, order_id=order_id, reason="customer asked by phone"
            )
        assert result.ok, result.message
        deliverer = Deliverer(config, {"audit": ctx.audit.db, "shop": ctx.db("shop")}, "w1")
        assert deliverer.tick() == 1
        assert deliverer.tick() == 0
    finally:
        gateway.stop()
    [got] = receiver.received
    text = got["json"]["text"]
    assert f"*Order {order_id} rejected*" in text
    assert f"payment of ₩{amount:,} was canceled" in text
    assert f"<https://bo.example.com/orders?q={order_id}|Open in Backoffice>" in text
    name = _customer_name(tmp_path, order_id)
    assert name not in text and name.split()[0] not in text


def test_an_import_that_changes_rows_queues_an_email_with_its_counts(tmp_path, demo_dir, smtp):
    box, port = smtp
    config = _config("http://127.0.0.1:9/x", port)
    ctx = _context(tmp_path, demo_dir, config)
    admin = Principal("admin", "Ada Admin", ("admin",))
    rows = [
        {"month": "2030-01-01", "channel": "search", "spend_krw": 1000},
        {"month": "2030-01-01", "channel": "social", "spend_krw": 2000},
    ]
    with actions.use_context(ctx):
        assert actions.run("sheet.import_rows", admin, table="marketing_spend", rows=rows).ok
        again = actions.run("sheet.import_rows", admin, table="marketing_spend", rows=rows)
        assert again.ok and again.data["new"] == 0  # nothing changed: no message
    assert Deliverer(config, {"shop": ctx.db("shop")}, "w1").tick() == 1
    [mail] = box.messages
    assert mail["Subject"] == "Import into marketing_spend: 2 new, 0 changed rows"
    assert "https://bo.example.com/spreadsheets" in mail.get_body(("plain",)).get_content()


def test_a_refused_and_an_unknown_refund_each_queue_their_event_for_the_order(tmp_path, demo_dir):
    config = _config("http://127.0.0.1:9/x", routes={"refund.unknown": ["ops_chat"]})
    ctx = _context(tmp_path, demo_dir, config)
    gateway = ServiceThread(create_service("gateway", tmp_path)).start()
    ctx.payments = PaymentsClient(
        GatewayConfig(gateway.url, DEFAULT_SECRET, timeout=0.3, retries=0, backoff=0.05)
    )

    def fault(**spec: Any) -> None:
        requests.post(f"{gateway.url}/_faults", json=spec, timeout=2).raise_for_status()

    with closing(sqlite3.connect(tmp_path / "shop.sqlite")) as con:
        first, second = (
            r[0]
            for r in con.execute(
                "SELECT o.id FROM orders o JOIN payments p ON p.order_id = o.id "
                "WHERE o.status = 'approved' AND p.status = 'DONE' AND p.balance_amount >= 5000 "
                "ORDER BY o.id LIMIT 2"
            )
        )
    try:
        with actions.use_context(ctx):
            fault(mode="refuse", status=400, code="REFUND_REJECTED", count=1)
            refused = actions.run(
                "order.refund", OPERATOR, order_id=first, amount=1_000, reason="wrong size"
            )
            fault(mode="slow", delay=1.0, count=3)
            unknown = actions.run(
                "order.refund", OPERATOR, order_id=second, amount=2_000, reason="late delivery"
            )
    finally:
        gateway.stop()
    assert (refused.outcome, unknown.outcome) == ("failed", "unknown")
    rows = {(r["event"], r["channel"]): r for r in _rows(ctx.db("shop"))}
    assert set(rows) == {
        ("refund.failed", "ops_chat"),
        ("refund.failed", "ops_mail"),
        ("refund.unknown", "ops_chat"),
    }
    failed, held = rows[("refund.failed", "ops_chat")], rows[("refund.unknown", "ops_chat")]
    assert failed["subject"] == f"Refund of ₩1,000 on order {first} failed"
    assert "REFUND_REJECTED" in failed["body"] and failed["link"] == f"/orders?q={first}"
    assert held["subject"] == f"Refund on order {second} unknown: reconcile it"
    assert "(₩2,000)" in held["body"] and held["link"] == f"/orders?q={second}"
