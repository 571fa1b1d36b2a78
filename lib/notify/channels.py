"""Sending one message: to a chat webhook (Slack-compatible JSON) or by e-mail over SMTP.

`send(message, channel, config)` returns nothing when the receiver took the message and
raises SendFailed with one masked line (no webhook URL, no password, no raw address)
otherwise; the caller retries it later.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import requests

from lib.access.masking import masked_line
from lib.notify.config import EMAIL, Channel, NotifyConfig, SmtpConfig
from lib.notify.model import Attachment

MESSAGE_ID_HEADER = "X-Backoffice-Message-Id"
EVENT_HEADER = "X-Backoffice-Event"


class SendFailed(Exception):
    """The receiver did not take the message; str() is one line safe to store and show."""


@dataclass(frozen=True)
class Message:
    message_id: str  # the same on every attempt: receivers may drop a repeat by it
    event: str
    subject: str
    body: str
    link: str  # absolute, or ""
    recipients: tuple[str, ...] = ()  # e-mail to given recipients (else the channel's)
    attachments: tuple[Attachment, ...] = ()


def send(message: Message, channel_name: str, config: NotifyConfig) -> None:
    """Deliver `message` through the channel named so; raises SendFailed."""
    if channel_name == EMAIL:
        send_email(message, message.recipients, config.smtp)
        return
    channel = config.channels.get(channel_name)
    if channel is None:
        raise SendFailed(f"no channel '{channel_name}' in [notifications.channels] any more")
    if channel.kind == "webhook":
        send_webhook(message, channel)
    else:
        send_email(message, message.recipients or channel.to, config.smtp, channel.timeout_s)


def safe_error(text: object, config: NotifyConfig) -> str:
    """An error's text as one line safe to log and store: every webhook URL replaced by
    <url> (before masking, which could change it so that it no longer matches), then
    contact details masked."""
    line = str(text)
    for channel in config.channels.values():
        if channel.url:
            line = line.replace(channel.url, "<url>")
    return masked_line(line, 200)


# --- webhook -----------------------------------------------------------------------------------


def chat_text(message: Message) -> str:
    """Slack mrkdwn: the subject in bold, the text, the link (Mattermost and Rocket.Chat read
    the same)."""
    lines = [f"*{message.subject}*"]
    if message.body:
        lines.append(message.body)
    if message.link:
        lines.append(f"<{message.link}|Open in Backoffice>")
    return "\n".join(lines)


def send_webhook(message: Message, channel: Channel) -> None:
    assert channel.url is not None
    try:
        resp = requests.post(
            channel.url,
            json={"text": chat_text(message)},
            headers={MESSAGE_ID_HEADER: message.message_id, EVENT_HEADER: message.event},
            timeout=channel.timeout_s,
        )
    except requests.Timeout:
        raise SendFailed(f"webhook gave no answer within {channel.timeout_s:g} s") from None
    except requests.RequestException as exc:
        # requests' text names the URL, and a webhook's URL is its password: the kind only.
        raise SendFailed(f"webhook unreachable ({type(exc).__name__})") from None
    if not 200 <= resp.status_code < 300:
        said = masked_line(resp.text.replace(channel.url, "<url>"), 120)
        raise SendFailed(f"webhook answered HTTP {resp.status_code}: {said}".rstrip(": "))


# --- e-mail ------------------------------------------------------------------------------------


def email_message(message: Message, sender: str, to: Sequence[str]) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rsplit("@", 1)[-1]
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail[EVENT_HEADER] = message.event
    text = message.body
    if message.link:
        text = f"{text}\n\n{message.link}" if text else message.link
    mail.set_content(text + "\n")
    for file in message.attachments:
        maintype, _, subtype = file.mime.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        mail.add_attachment(
            file.content, maintype=maintype, subtype=subtype, filename=file.filename
        )
    return mail


def _tls(smtp: SmtpConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=smtp.ca_file)


def send_email(
    message: Message,
    to: Sequence[str],
    smtp: SmtpConfig | None,
    timeout_s: float | None = None,
) -> None:
    if smtp is None:
        raise SendFailed("no [notifications.smtp] to send e-mail with")
    if not to:
        raise SendFailed("no recipients")
    mail = email_message(message, smtp.sender, to)
    timeout = timeout_s or smtp.timeout_s
    try:
        if smtp.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=_tls(smtp)
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with client:
            if smtp.starttls:
                client.starttls(context=_tls(smtp))
            if smtp.username is not None:
                client.login(smtp.username, smtp.password or "")
            # Refused for some recipients only: it counts as sent (a resend would repeat it
            # to the others).
            client.send_message(mail, to_addrs=list(to))
    except smtplib.SMTPAuthenticationError as exc:
        raise SendFailed(f"SMTP login refused ({exc.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendFailed(f"SMTP refused all {len(exc.recipients)} recipients") from None
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        raise SendFailed(masked_line(f"SMTP answered {exc.smtp_code}: {said}", 200)) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise SendFailed(
            masked_line(f"SMTP {smtp.host}:{smtp.port} failed: {type(exc).__name__}: {exc}", 200)
        ) from None
