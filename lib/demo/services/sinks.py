"""The demo's receivers for what the app sends: a webhook sink and an SMTP sink.

HTTP (one FastAPI app, `make run` serves it on :8605):
  `POST /hooks/{name}`  stores the JSON body with the time, the hook name and the
                        X-Backoffice-Message-Id header -> 200 {"id": ...}
  `GET /messages`       the stored webhook calls, newest first; `DELETE /messages` clears them
  `GET /mail`           the e-mails the SMTP sink received, newest first (from, to, subject,
                        date, text, attachments with filename, type and size); `DELETE /mail`
  `GET /mail/{id}.eml`  one e-mail's raw bytes, exactly as received
  `GET /health`         open, names the service and its version
SMTP (`SmtpSink`, aiosmtpd, :8625 under `make run`): no auth, no TLS; every message is accepted.

State lives in files under the demo dir (hooks/*.json, mail/*.eml + mail/*.json), so a restart
keeps what arrived, and the HTTP app and the SMTP sink may run in different processes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

SERVICE, VERSION = "sinks", "1.0.0"
HOOKS, MAIL = "hooks", "mail"
_ID = re.compile(r"^[0-9]{20}-[0-9a-f]{6}$")


def _new_id() -> str:
    # Sorts by arrival: newest first is the names in reverse order.
    return f"{time.time_ns():020d}-{secrets.token_hex(3)}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_atomic(path: Path, data: bytes) -> None:
    # A reader listing the folder never sees half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class SinkStore:
    """The received webhooks and e-mails under `demo_dir`."""

    def __init__(self, demo_dir: Path) -> None:
        self.hooks = Path(demo_dir) / HOOKS
        self.mail = Path(demo_dir) / MAIL

    def add_hook(self, name: str, body: Any, message_id: str | None) -> str:
        self.hooks.mkdir(parents=True, exist_ok=True)
        ident = _new_id()
        record = {
            "id": ident,
            "received_at": _now(),
            "hook": name,
            "message_id": message_id,
            "body": body,
        }
        _write_atomic(self.hooks / f"{ident}.json", json.dumps(record).encode())
        return ident

    def add_mail(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> str:
        self.mail.mkdir(parents=True, exist_ok=True)
        ident = _new_id()
        record = {"id": ident, "received_at": _now(), **describe(raw)}
        record["envelope"] = {"mail_from": mail_from, "rcpt_to": list(rcpt_tos)}
        _write_atomic(self.mail / f"{ident}.eml", raw)
        _write_atomic(self.mail / f"{ident}.json", json.dumps(record).encode())
        return ident

    def list(self, folder: Path) -> list[dict[str, Any]]:
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.json"), reverse=True):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # removed by a DELETE while we listed
        return out

    def raw_mail(self, ident: str) -> bytes | None:
        path = self.mail / f"{ident}.eml"
        if not _ID.match(ident) or not path.is_file():
            return None
        return path.read_bytes()

    def clear(self, folder: Path) -> int:
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.iterdir():
            if path.suffix in (".json", ".eml"):
                path.unlink(missing_ok=True)
                removed += path.suffix == ".json"
        return removed


def describe(raw: bytes) -> dict[str, Any]:
    """What a reader wants to see of one e-mail: headers, text body, attachments' outlines."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    attachments = []
    for part in msg.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(
            {
                "filename": part.get_filename(),
                "content_type": part.get_content_type(),
                "size": len(payload),
            }
        )
    return {
        "from": str(msg.get("From", "")),
        "to": [addr for _, addr in getaddresses([str(v) for v in msg.get_all("To", [])])],
        "subject": str(msg.get("Subject", "")),
        "date": str(msg.get("Date", "")),
        "message_id": str(msg.get("Message-ID", "")) or None,
        "text": text.replace("\r\n", "\n"),  # as sent on the wire: CRLF
        "attachments": attachments,
        "size": len(raw),
    }


def create_app(demo_dir: Path, credential: str = "") -> FastAPI:
    """The sinks' HTTP side over `demo_dir` (`credential` unused: the sinks are open)."""
    store = SinkStore(demo_dir)
    app = FastAPI(title="Demo sinks", version=VERSION)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "service": SERVICE, "version": VERSION}

    @app.post("/hooks/{name}")
    async def hook(name: str, request: Request) -> dict[str, str]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise HTTPException(400, "the body is not JSON") from exc
        message_id = request.headers.get("X-Backoffice-Message-Id")
        return {"id": store.add_hook(name, body, message_id)}

    @app.get("/messages")
    def messages() -> list[dict[str, Any]]:
        return store.list(store.hooks)

    @app.delete("/messages")
    def clear_messages() -> dict[str, int]:
        return {"removed": store.clear(store.hooks)}

    @app.get("/mail")
    def mail() -> list[dict[str, Any]]:
        return store.list(store.mail)

    @app.get("/mail/{ident}.eml")
    def mail_raw(ident: str) -> Response:
        raw = store.raw_mail(ident)
        if raw is None:
            raise HTTPException(404, "no such message")
        return Response(raw, media_type="message/rfc822")

    @app.delete("/mail")
    def clear_mail() -> dict[str, int]:
        return {"removed": store.clear(store.mail)}

    return app


class _Handler:
    def __init__(self, store: SinkStore) -> None:
        self.store = store

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        self.store.add_mail(raw, envelope.mail_from, list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpSink:
    """The SMTP side: accepts every message on 127.0.0.1:`port` and stores it under `demo_dir`.
    `with SmtpSink(demo_dir, port):` serves it in a thread of this process."""

    def __init__(self, demo_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._controller = Controller(_Handler(SinkStore(demo_dir)), hostname=host, port=port)

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
