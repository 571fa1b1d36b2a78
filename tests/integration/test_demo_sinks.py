"""The demo sinks: a webhook POST and an SMTP message (with an attachment) read back over HTTP,
newest first, the raw .eml byte for byte; cleared by DELETE; kept across a restart of the
sinks' process (as `make run` starts it)."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from lib.config.settings import ROOT
from lib.demo.services.serve import HOST, free_port, sinks_over

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAYLOAD = bytes(range(256)) * 40  # binary, not text: survives only if the .eml is intact


def _mail(subject: str, to: str = "ops@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "backoffice@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    msg.set_content("Your monthly dashboard is attached.\n")
    msg.add_attachment(PAYLOAD, maintype="application", subtype=XLSX.split("/")[1],
                       filename="dashboard-2026-10.xlsx")  # fmt: skip
    return msg


def _send(port: int, msg: EmailMessage) -> bytes:
    """Sent with CRLF line ends, as on the wire; returns the bytes sent."""
    raw = msg.as_bytes(policy=policy.SMTP)  # once: each call draws a new boundary
    with smtplib.SMTP(HOST, port, timeout=10) as smtp:
        smtp.sendmail(msg["From"], [msg["To"], "bcc@example.com"], raw)
    return raw


def test_webhook_calls_are_listed_newest_first_with_their_message_id(tmp_path: Path) -> None:
    with sinks_over(tmp_path) as sinks:
        for n in (1, 2):
            r = requests.post(
                f"{sinks.url}/hooks/ops",
                json={"text": f"Order #{n} rejected"},
                headers={"X-Backoffice-Message-Id": f"audit-{n}"},
                timeout=5,
            )
            assert r.status_code == 200
        bad = requests.post(f"{sinks.url}/hooks/ops", data=b"not json", timeout=5)
        listed = requests.get(f"{sinks.url}/messages", timeout=5).json()

        assert bad.status_code == 400
        assert [(m["hook"], m["message_id"], m["body"]) for m in listed] == [
            ("ops", "audit-2", {"text": "Order #2 rejected"}),
            ("ops", "audit-1", {"text": "Order #1 rejected"}),
        ]
        assert listed[0]["received_at"] >= listed[1]["received_at"]

        assert requests.delete(f"{sinks.url}/messages", timeout=5).json() == {"removed": 2}
        assert requests.get(f"{sinks.url}/messages", timeout=5).json() == []


def test_mail_is_listed_with_its_attachment_and_the_eml_is_intact(tmp_path: Path) -> None:
    with sinks_over(tmp_path) as sinks:
        first = _send(sinks.smtp_port, _mail("Dashboard, October 2026"))
        _send(sinks.smtp_port, _mail("Dashboard, November 2026", to="Ana <ana@example.com>"))
        listed = requests.get(f"{sinks.url}/mail", timeout=5).json()

        assert [m["subject"] for m in listed] == [
            "Dashboard, November 2026",
            "Dashboard, October 2026",
        ]
        oldest = listed[1]
        assert oldest["from"] == "backoffice@example.com"
        assert oldest["to"] == ["ops@example.com"]
        assert listed[0]["to"] == ["ana@example.com"]
        assert oldest["envelope"]["rcpt_to"] == ["ops@example.com", "bcc@example.com"]
        assert oldest["date"] == "Mon, 30 Nov 2026 09:00:00 +0000"
        assert oldest["text"] == "Your monthly dashboard is attached.\n"
        assert oldest["attachments"] == [
            {"filename": "dashboard-2026-10.xlsx", "content_type": XLSX, "size": len(PAYLOAD)}
        ]

        eml = requests.get(f"{sinks.url}/mail/{oldest['id']}.eml", timeout=5)
        assert eml.status_code == 200
        assert eml.headers["content-type"].startswith("message/rfc822")
        assert eml.content == first  # byte for byte what went on the wire
        assert (tmp_path / "mail" / f"{oldest['id']}.eml").read_bytes() == eml.content
        assert requests.get(f"{sinks.url}/mail/../hooks.eml", timeout=5).status_code == 404
        assert requests.get(f"{sinks.url}/mail/00000000000000000000-abcdef.eml",
                            timeout=5).status_code == 404  # fmt: skip

        assert requests.delete(f"{sinks.url}/mail", timeout=5).json() == {"removed": 2}
        assert requests.get(f"{sinks.url}/mail", timeout=5).json() == []


def _serve(demo_dir: Path, port: int, smtp_port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "lib.demo.services.serve", "sinks", "--dir", str(demo_dir),
           "--port", str(port), "--smtp-port", str(smtp_port)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(f"http://{HOST}:{port}/health", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"the sinks did not start: {proc.communicate()[1].decode()[-2000:]}")


def test_what_arrived_survives_a_restart_of_the_sinks_process(tmp_path: Path) -> None:
    port, smtp_port = free_port(), free_port()
    url = f"http://{HOST}:{port}"
    proc = _serve(tmp_path, port, smtp_port)
    try:
        _send(smtp_port, _mail("Before the restart"))
        requests.post(f"{url}/hooks/ops", json={"text": "hello"}, timeout=5).raise_for_status()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    proc = _serve(tmp_path, port, smtp_port)
    try:
        assert [m["subject"] for m in requests.get(f"{url}/mail", timeout=5).json()] == [
            "Before the restart"
        ]
        assert [m["body"] for m in requests.get(f"{url}/messages", timeout=5).json()] == [
            {"text": "hello"}
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
