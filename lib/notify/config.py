"""The `[notifications]` section of the configuration, checked: channels, routes, SMTP, timing.

    cfg = NotifyConfig.of(settings.notifications)      # ConfigError names a bad key
    cfg.channels_for("order.rejected")                 # ("ops_chat",)
    cfg.backoff(3)                                     # seconds before the 4th attempt
    cfg.keep_days                                      # sent messages' content kept this long
    cfg.send_deadline_s                                # one send is given up after this

Secrets (a webhook's url_secret, SMTP username_secret / password_secret) are read once here
through `secret`; their values never appear in a repr or an error message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.config.secrets import get_secret
from lib.errors import ConfigError
from lib.notify.model import EVENTS

# The built-in channel: e-mail through [notifications.smtp] to the recipients the enqueuer
# gives (a scheduled report's). A configured channel may not take this name.
EMAIL = "email"
KINDS = ("webhook", "email")

_TOP = {
    "base_url",
    "poll_s",
    "max_attempts",
    "backoff_s",
    "backoff_max_s",
    "lease_s",
    "send_deadline_s",
    "backlog_orders",
    "pending_hours",
    "keep_days",
    "smtp",
    "channels",
    "routes",
}
_SMTP = {
    "host",
    "port",
    "starttls",
    "ssl",
    "sender",
    "timeout_s",
    "username_secret",
    "password_secret",
    "ca_file",
}
_CHANNEL = {"kind", "url", "url_secret", "timeout_s", "to"}

Secret = Callable[[str], str | None]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    starttls: bool = False
    ssl: bool = False  # SMTPS (implicit TLS, usually port 465)
    timeout_s: float = 10.0
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # trust this CA (a relay with a private certificate)


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str  # webhook | email
    url: str | None = field(default=None, repr=False)  # a webhook URL is a secret
    timeout_s: float = 10.0
    to: tuple[str, ...] = field(default=(), repr=False)  # e-mail addresses


@dataclass(frozen=True)
class NotifyConfig:
    base_url: str = "http://127.0.0.1:8501"
    poll_s: float = 2.0
    max_attempts: int = 10
    backoff_s: float = 2.0
    backoff_max_s: float = 300.0
    # A claimed row is another process's to send after this without a renewal (the sender
    # renews it while its send runs).
    lease_s: float = 120.0
    # One send (all its socket operations) is given up after this: the row is retried later
    # and the round goes on. Default: 60 s, or twice the slowest timeout_s when longer.
    send_deadline_s: float = 60.0
    backlog_orders: int = 200
    pending_hours: float = 48.0
    keep_days: float = 30.0  # sent messages' recipients, text and files are kept this long
    smtp: SmtpConfig | None = None
    channels: Mapping[str, Channel] = field(default_factory=dict)
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def channels_for(self, kind: str) -> tuple[str, ...]:
        """The channels an event of `kind` goes to; () when it is not routed."""
        return self.routes.get(kind, ())

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt: backoff_s, doubling, capped."""
        exponent = max(0, attempts - 1)
        if exponent > 60:
            return self.backoff_max_s
        return float(min(self.backoff_s * 2**exponent, self.backoff_max_s))

    def link(self, path: str) -> str:
        """The app's page `path` under base_url ("" when there is no path)."""
        if not path:
            return ""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    @classmethod
    def of(cls, raw: Mapping[str, Any] | None, secret: Secret = get_secret) -> NotifyConfig:
        """From `[notifications]` as written; raises ConfigError naming the bad key."""
        raw = raw or {}
        _only(raw, _TOP, "[notifications]")
        base_url = raw.get("base_url", cls.base_url)
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigError("[notifications] base_url must be an http(s) URL")
        smtp = _smtp(raw["smtp"], secret) if "smtp" in raw else None
        channels = _channels(raw.get("channels", {}), smtp, secret)
        slowest = max([c.timeout_s for c in channels.values()] + [smtp.timeout_s if smtp else 0])
        default_deadline = max(cls.send_deadline_s, 2 * slowest)
        cfg = cls(
            base_url=base_url,
            poll_s=_number(raw, "poll_s", cls.poll_s, 0.1, 3600),
            max_attempts=int(_number(raw, "max_attempts", cls.max_attempts, 1, 1000, whole=True)),
            backoff_s=_number(raw, "backoff_s", cls.backoff_s, 0.01, 86400),
            backoff_max_s=_number(raw, "backoff_max_s", cls.backoff_max_s, 0.01, 7 * 86400),
            lease_s=_number(raw, "lease_s", cls.lease_s, 1, 86400),
            send_deadline_s=_number(raw, "send_deadline_s", default_deadline, 1, 86400),
            backlog_orders=int(
                _number(raw, "backlog_orders", cls.backlog_orders, 0, 10**9, whole=True)
            ),
            pending_hours=_number(raw, "pending_hours", cls.pending_hours, 0.01, 24 * 365),
            keep_days=_number(raw, "keep_days", cls.keep_days, 1, 3650),
            smtp=smtp,
            channels=channels,
            routes=_routes(raw.get("routes", {}), channels),
        )
        if cfg.lease_s <= slowest:
            # A lease that runs out while a send still waits lets another process send too.
            raise ConfigError(
                f"[notifications] lease_s must be longer than the slowest send ({slowest:g} s)"
            )
        if cfg.send_deadline_s < slowest:
            # Sends that are merely slow would all be given up before their own timeout.
            raise ConfigError(
                "[notifications] send_deadline_s must be at least the slowest send's timeout_s "
                f"({slowest:g} s)"
            )
        return cfg


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"{where} {unknown[0]}: unknown key (one of {', '.join(sorted(allowed))})"
        )


def _number(
    raw: Mapping[str, Any], key: str, default: float, low: float, high: float, whole: bool = False
) -> float:
    value = raw.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
    if not ok or (whole and value != int(value)):
        what = "a whole number" if whole else "a number"
        raise ConfigError(f"[notifications] {key} must be {what} from {low:g} to {high:g}")
    return float(value)


def _secret_value(where: str, key: str, name: Any, secret: Secret) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} {key} must name a secret")
    value = secret(name)
    if not value:
        raise ConfigError(f"{where} {key} names '{name}', which is not set")
    return value


def _smtp(raw: Any, secret: Secret) -> SmtpConfig:
    where = "[notifications.smtp]"
    _only(raw, _SMTP, where)
    for key in ("host", "sender"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise ConfigError(f"{where} {key} is required")
    if "@" not in raw["sender"]:
        raise ConfigError(f"{where} sender must be an e-mail address")
    port = raw.get("port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{where} port must be a whole number from 1 to 65535")
    flags = {k: raw.get(k, False) for k in ("starttls", "ssl")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ConfigError(f"{where} {key} must be true or false")
    if flags["starttls"] and flags["ssl"]:
        raise ConfigError(f"{where} starttls and ssl: choose one")
    timeout = raw.get("timeout_s", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ConfigError(f"{where} timeout_s must be a number from 0 to 300")
    username = password = None
    if "username_secret" in raw or "password_secret" in raw:
        if not ("username_secret" in raw and "password_secret" in raw):
            raise ConfigError(f"{where} username_secret and password_secret go together")
        username = _secret_value(where, "username_secret", raw["username_secret"], secret)
        password = _secret_value(where, "password_secret", raw["password_secret"], secret)
    ca_file = raw.get("ca_file")
    if ca_file is not None and (not isinstance(ca_file, str) or not ca_file):
        raise ConfigError(f"{where} ca_file must be a file's path")
    if ca_file is not None:
        from lib.config.settings import resolve_path

        ca_file = str(resolve_path(ca_file))
    return SmtpConfig(
        host=raw["host"].strip(),
        port=port,
        sender=raw["sender"].strip(),
        starttls=flags["starttls"],
        ssl=flags["ssl"],
        timeout_s=float(timeout),
        username=username,
        password=password,
        ca_file=ca_file,
    )


def _channels(raw: Any, smtp: SmtpConfig | None, secret: Secret) -> dict[str, Channel]:
    if not isinstance(raw, Mapping):
        raise ConfigError("[notifications.channels] must be a table of channels")
    out: dict[str, Channel] = {}
    for name, spec in raw.items():
        where = f"[notifications.channels.{name}]"
        if name == EMAIL:
            raise ConfigError(
                f"{where}: the name '{EMAIL}' is kept for e-mail to given recipients "
                "(scheduled reports); call the channel something else"
            )
        _only(spec, _CHANNEL, where)
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where} kind must be one of {', '.join(KINDS)}, not {kind!r}")
        timeout = spec.get("timeout_s", 10)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 300
        ):
            raise ConfigError(f"{where} timeout_s must be a number from 0 to 300")
        if kind == "webhook":
            out[name] = Channel(name, kind, _webhook_url(where, spec, secret), float(timeout))
            continue
        if smtp is None:
            raise ConfigError(f"{where} is an e-mail channel: [notifications.smtp] is needed")
        to = spec.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to:
            raise ConfigError(f"{where} to must list one or more e-mail addresses")
        if not all(isinstance(a, str) and "@" in a and not any(c in a for c in ",;\n") for a in to):
            raise ConfigError(f"{where} to: every entry must be one e-mail address")
        out[name] = Channel(name, kind, timeout_s=float(timeout), to=tuple(a.strip() for a in to))
    return out


def _webhook_url(where: str, spec: Mapping[str, Any], secret: Secret) -> str:
    if ("url" in spec) == ("url_secret" in spec):
        raise ConfigError(f"{where} needs url or url_secret (one of them)")
    if "url" in spec:
        url = spec["url"]
    else:
        url = _secret_value(where, "url_secret", spec["url_secret"], secret)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        # Not quoted: a webhook's URL is its password.
        raise ConfigError(f"{where} url must be an http(s) URL")
    return url


def _routes(raw: Any, channels: Mapping[str, Channel]) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ConfigError("[notifications.routes] must be a table: event = [channels]")
    out: dict[str, tuple[str, ...]] = {}
    for event, names in raw.items():
        where = f"[notifications.routes] {event}"
        if event not in EVENTS:
            raise ConfigError(f"{where}: unknown event (one of {', '.join(EVENTS)})")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where} must list channel names")
        for name in names:
            if name not in channels:
                known = ", ".join(channels) or "none configured"
                raise ConfigError(f"{where}: unknown channel '{name}' (channels: {known})")
        out[event] = tuple(dict.fromkeys(names))
    return out
