"""[notifications] as the configuration writes it: checked at start, secrets kept out of sight."""

from __future__ import annotations

import os
import re
import socket
import tomllib
from pathlib import Path

import pytest

from lib.config.settings import DEFAULT_CONFIG, load_settings
from lib.errors import ConfigError
from lib.notify.config import NotifyConfig
from lib.notify.deliver import Deliverer

SLACK_URL = "https://hooks.slack.example/services/T000/B000/SeCrEtToKeN"


def _raw(**extra) -> dict:
    raw = {
        "base_url": "https://backoffice.example.com/",
        "smtp": {"host": "smtp.example.com", "port": 587, "sender": "bo@example.com"},
        "channels": {
            "chat": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
            "mail": {"kind": "email", "to": ["ops@example.com", "cto@example.com"]},
        },
        "routes": {"order.rejected": ["chat"], "refund.failed": ["chat", "mail"]},
    }
    raw.update(extra)
    return raw


def test_the_shipped_configuration_routes_every_event_it_names_to_known_channels():
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))["notifications"]
    cfg = NotifyConfig.of(raw)
    assert set(cfg.channels) == {"ops_chat", "ops_mail"}
    assert cfg.channels_for("order.rejected") == ("ops_chat",)
    assert cfg.channels_for("refund.unknown") == ("ops_chat", "ops_mail")
    assert cfg.channels_for("report.scheduled") == ()  # not routed: goes nowhere
    assert (cfg.poll_s, cfg.max_attempts, cfg.backlog_orders, cfg.pending_hours) == (
        2.0,
        10,
        200,
        48.0,
    )


def test_links_join_the_base_url_and_the_record_page():
    cfg = NotifyConfig.of(_raw())
    assert cfg.link("/orders?q=17") == "https://backoffice.example.com/orders?q=17"
    assert cfg.link("") == ""


def test_backoff_doubles_from_backoff_s_and_stops_at_backoff_max_s():
    cfg = NotifyConfig.of(_raw(backoff_s=2, backoff_max_s=30))
    assert [cfg.backoff(n) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
    assert cfg.backoff(500) == 30


def test_sent_messages_are_kept_30_days_unless_keep_days_says_otherwise():
    assert NotifyConfig.of(_raw()).keep_days == 30
    assert NotifyConfig.of(_raw(keep_days=7)).keep_days == 7


def test_a_send_is_given_up_after_60_s_or_twice_the_slowest_timeout_unless_configured():
    assert NotifyConfig.of(_raw()).send_deadline_s == 60
    slow = _raw(smtp={"host": "h", "sender": "bo@example.com", "timeout_s": 45}, lease_s=300)
    assert NotifyConfig.of(slow).send_deadline_s == 90
    assert NotifyConfig.of(_raw(send_deadline_s=20)).send_deadline_s == 20


def test_every_deliverer_has_its_own_worker_id_even_in_one_process():
    first, second = (Deliverer(NotifyConfig.of(_raw()), {}) for _ in range(2))
    assert first.worker_id != second.worker_id
    prefix = f"{socket.gethostname()[:40]}-{os.getpid()}-"
    assert first.worker_id.startswith(prefix) and second.worker_id.startswith(prefix)
    assert Deliverer(NotifyConfig.of(_raw()), {}, "p1").worker_id == "p1"


@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"routes": {"order.rejected": ["chat", "pager"]}}, "unknown channel 'pager'"),
        ({"routes": {"order.rejectd": ["chat"]}}, "order.rejectd: unknown event"),
        ({"channels": {"chat": {"kind": "sms", "url": "http://x"}}}, "kind must be one of"),
        ({"channels": {"chat": {"kind": "webhook"}}}, "needs url or url_secret"),
        ({"channels": {"mail": {"kind": "email", "to": []}}, "routes": {}}, "to must list"),
        ({"channels": {"email": {"kind": "webhook", "url": "http://x"}}, "routes": {}}, "kept"),
        ({"smtp": {"host": "h", "sender": "bo@example.com", "port": 0}}, "smtp] port"),
        ({"max_attempts": 0}, "max_attempts must be a whole number"),
        ({"poll_interval": 2}, "poll_interval: unknown key"),
        ({"base_url": "backoffice.example.com"}, "base_url must be an http(s) URL"),
        ({"lease_s": 10}, "lease_s must be longer than the slowest send (10 s)"),
        ({"keep_days": 0}, "keep_days must be a number from 1 to 3650"),
        ({"send_deadline_s": 5}, "send_deadline_s must be at least the slowest send's timeout_s"),
        ({"keep_days": "30"}, "keep_days must be a number"),
    ],
)
def test_a_bad_section_is_refused_naming_what_is_wrong(change, names):
    with pytest.raises(ConfigError, match=re.escape(names)):
        NotifyConfig.of(_raw(**change))


def test_an_email_channel_needs_the_smtp_section():
    raw = _raw()
    del raw["smtp"]
    with pytest.raises(ConfigError, match=r"\[notifications.channels.mail\].*smtp"):
        NotifyConfig.of(raw)


def test_secrets_are_read_by_name_and_never_shown():
    secrets = {"ops_hook": SLACK_URL, "smtp_user": "relay-user", "smtp_pass": "pa55-w0rd!"}
    raw = _raw(
        channels={"chat": {"kind": "webhook", "url_secret": "ops_hook"}},
        routes={"source.down": ["chat"]},
    )
    raw["smtp"] = {
        **raw["smtp"],
        "starttls": True,
        "username_secret": "smtp_user",
        "password_secret": "smtp_pass",
    }
    cfg = NotifyConfig.of(raw, secrets.get)
    assert cfg.channels["chat"].url == SLACK_URL
    assert (cfg.smtp.username, cfg.smtp.password) == ("relay-user", "pa55-w0rd!")
    shown = repr(cfg)
    assert "SeCrEtToKeN" not in shown and "pa55-w0rd!" not in shown and "relay-user" not in shown


def test_a_secret_that_is_not_set_is_named_but_not_a_wrong_url_value():
    raw = _raw(channels={"chat": {"kind": "webhook", "url_secret": "ops_hook"}}, routes={})
    with pytest.raises(ConfigError, match="url_secret names 'ops_hook', which is not set"):
        NotifyConfig.of(raw, lambda name: None)
    with pytest.raises(ConfigError) as caught:
        NotifyConfig.of(raw, lambda name: "ftp://SeCrEtToKeN")
    assert "SeCrEtToKeN" not in str(caught.value)


def test_load_settings_stops_at_a_bad_route(tmp_path: Path):
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        '"order.rejected" = ["ops_chat"]', '"order.rejected" = ["ops_pager"]'
    )
    path = tmp_path / "backoffice.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="order.rejected: unknown channel 'ops_pager'"):
        load_settings(path)


def test_load_settings_reads_a_webhook_secret_from_the_demo_secrets(tmp_path: Path):
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'url = "http://127.0.0.1:8605/hooks/ops"', 'url_secret = "ops_webhook_url"'
    )
    text = text.replace(
        "[demo_secrets]\n",
        '[demo_secrets]\nops_webhook_url = "http://127.0.0.1:8605/hooks/secret"\n',
    )
    path = tmp_path / "backoffice.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path, secret=lambda name: None)
    assert settings.notify.channels["ops_chat"].url == "http://127.0.0.1:8605/hooks/secret"
    assert "hooks/secret" not in repr(settings)
