"""The one configuration object: read once from a TOML file, passed or cached after that.

The file is `config/backoffice.toml` unless BACKOFFICE_CONFIG names another. Relative
paths in it resolve against the repository root, so the app and the tests agree.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from lib.access.users import DEMO_USERS_FILE, check_deployed_users
from lib.access.users import SETTING as USERS_SETTING
from lib.config import sheet_declarations
from lib.config.secrets import get_secret
from lib.errors import ConfigError
from lib.reading.sources.base import KINDS, SourceConfig

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "config" / "backoffice.toml"
SECRET_SUFFIX = "_secret"
DEFAULT_AUDIT_URL = "sqlite:///var/demo/audit.sqlite"


@dataclass(frozen=True)
class Settings:
    config_path: Path
    demo: bool
    demo_dir: Path
    users_file: Path
    queries_dir: Path
    sources: tuple[SourceConfig, ...]
    app: Mapping[str, Any] = field(default_factory=dict)
    audit_url: str = DEFAULT_AUDIT_URL  # SQLAlchemy URL; load_settings makes SQLite paths absolute
    gateway: Mapping[str, Any] | None = None  # [gateway] with its secret key resolved
    # [sheets] as written: where declared sheets and uploads go (lib.config.sheet_declarations)
    sheets: Mapping[str, Any] = field(default_factory=dict)
    # Declaration files skipped because they cannot be used: path -> one-line reason
    declaration_errors: Mapping[str, str] = field(default_factory=dict)
    # [health] as written: interval_s, timeout_s, history_minutes (lib.health.config)
    health: Mapping[str, Any] = field(default_factory=dict)
    # [workflows] dir: one declaration file per workflow (lib.workflows.declaration)
    workflows_dir: Path = ROOT / "workflows"
    # [notifications] as written: channels, routes, smtp, thresholds (lib.notify.config)
    notifications: Mapping[str, Any] = field(default_factory=dict)
    # The same, checked and with its secrets read (lib.notify.config.NotifyConfig); None when
    # Settings is made without load_settings (a test's own).
    notify: Any = field(default=None, repr=False)
    # [reports] as written: fees, scheduler tick (lib.reports.config)
    reports: Mapping[str, Any] = field(default_factory=dict)

    def source(self, name: str) -> SourceConfig:
        for src in self.sources:
            if src.name == name:
                return src
        raise ConfigError(f"No source named '{name}' in {self.config_path.name}")


def resolve_path(value: str | Path, base: Path = ROOT) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path


def resolve_sqlite_url(url: str, base: Path = ROOT) -> str:
    """A SQLite URL with a relative path made absolute against `base`; others unchanged."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return url
    return parsed.set(database=str(resolve_path(parsed.database, base))).render_as_string(
        hide_password=False
    )


def _audit_url(
    raw: Mapping[str, Any], secret: Callable[[str], str | None], demo_secrets: Mapping[str, str]
) -> str:
    # `[audit] url = "..."`, or `url_secret = "name"` for a URL with a password in it.
    secret_name = raw.get("url" + SECRET_SUFFIX)
    if secret_name:
        url = secret(secret_name) or demo_secrets.get(secret_name)
        if not url:
            raise ConfigError(f"[audit] url_secret names '{secret_name}', which is not set")
    else:
        url = raw.get("url", DEFAULT_AUDIT_URL)
    return resolve_sqlite_url(str(url))


def _gateway(
    raw: Mapping[str, Any] | None,
    secret: Callable[[str], str | None],
    demo_secrets: Mapping[str, str],
) -> dict[str, Any] | None:
    if not raw:
        return None
    if "base_url" not in raw:
        raise ConfigError("[gateway] needs base_url")
    name = raw.get("secret_key" + SECRET_SUFFIX, "gateway_secret_key")
    key = secret(name) or demo_secrets.get(name)
    if not key:
        raise ConfigError(f"[gateway] secret key '{name}' is not set")
    out = {k: v for k, v in raw.items() if not k.endswith(SECRET_SUFFIX)}
    return {**out, "secret_key": key}


def _health(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    # Checked here so a wrong value stops the app at start, not the first health panel.
    from lib.health.config import HealthConfig

    HealthConfig.of(raw)
    return raw


def _reports(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    # Checked here so a wrong fee or tick stops the app at start, not the first statement.
    from lib.reports.config import ReportsConfig

    ReportsConfig.of(raw)
    return raw


def _notify(
    raw: Mapping[str, Any], secret: Callable[[str], str | None], demo_secrets: Mapping[str, str]
) -> Any:
    # Checked here so a wrong channel or route stops the app at start, not the first message.
    from lib.notify.config import NotifyConfig

    return NotifyConfig.of(raw, lambda name: secret(name) or demo_secrets.get(name))


def _source_config(
    name: str,
    raw: Mapping[str, Any],
    secret: Callable[[str], str | None],
    demo_secrets: Mapping[str, str],
) -> SourceConfig:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"Source '{name}': kind must be one of {', '.join(KINDS)}, not {kind!r}")
    options = {k: v for k, v in raw.items() if k not in ("kind", "ttl")}
    options.setdefault("base_dir", str(ROOT))
    # `token_secret = "x"` names the secret x; the source sees its value as secrets["token"].
    secrets: dict[str, str] = {}
    for key, secret_name in raw.items():
        if key.endswith(SECRET_SUFFIX):
            value = secret(secret_name) or demo_secrets.get(secret_name)
            if value is not None:
                secrets[key.removesuffix(SECRET_SUFFIX)] = value
    return SourceConfig(
        name=name, kind=kind, ttl=float(raw.get("ttl", 300)), options=options, secrets=secrets
    )


def _users_file(app: Mapping[str, Any], demo: bool) -> Path:
    # The demo falls back to the demo users; outside it nothing of the demo may sign anyone
    # in, so the file must be named, exist and hold no demo password.
    if demo:
        return resolve_path(app.get("users_file", DEMO_USERS_FILE))
    if not app.get("users_file"):
        raise ConfigError(
            f"{USERS_SETTING} is not set: with demo = false the demo users do not sign in; "
            "name a users file of your own (usernames, bcrypt hashes, roles)"
        )
    path = resolve_path(app["users_file"])
    check_deployed_users(path)
    return path


def load_settings(
    path: str | Path | None = None, secret: Callable[[str], str | None] = get_secret
) -> Settings:
    """Read and check the configuration file; raises ConfigError with what is wrong."""
    config_path = Path(path or os.environ.get("BACKOFFICE_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Configuration file not found: {config_path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path.name} is not valid TOML: {exc}") from exc
    app = raw.get("app", {})
    demo = bool(app.get("demo", False))
    users_file = _users_file(app, demo)
    demo_secrets = raw.get("demo_secrets", {}) if demo else {}
    sheets = raw.get("sheets", {})
    # Tables declared on the Spreadsheets page join the `sheet` source (one file each); a
    # broken one is skipped with its reason, so it cannot stop the app.
    specs, declaration_errors = sheet_declarations.merge(
        raw.get("sources", {}), sheet_declarations.options_from(sheets, config_path)
    )
    sources = tuple(
        _source_config(name, spec, secret, demo_secrets) for name, spec in specs.items()
    )
    return Settings(
        config_path=config_path,
        demo=demo,
        demo_dir=resolve_path(app.get("demo_dir", "var/demo")),
        users_file=users_file,
        queries_dir=resolve_path(app.get("queries_dir", "queries")),
        sources=sources,
        app=app,
        audit_url=_audit_url(raw.get("audit", {}), secret, demo_secrets),
        gateway=_gateway(raw.get("gateway"), secret, demo_secrets),
        sheets=sheets,
        declaration_errors=declaration_errors,
        health=_health(raw.get("health", {})),
        workflows_dir=resolve_path(raw.get("workflows", {}).get("dir", "workflows")),
        notifications=raw.get("notifications", {}),
        notify=_notify(raw.get("notifications", {}), secret, demo_secrets),
        reports=_reports(raw.get("reports", {})),
    )
