"""The key that signs the re-login cookie (a JWT): anyone who knows it can forge any user."""

from __future__ import annotations

import secrets
from pathlib import Path

from lib.config.secrets import get_secret
from lib.errors import ConfigError

SAMPLE_VALUE = "change-me-to-a-random-string-of-at-least-32-bytes"
MIN_BYTES = 32


def cookie_key(demo: bool, demo_dir: Path) -> str:
    """The configured key; in the demo, a random one kept beside the demo data.

    Outside the demo a missing, sample or short key stops the app: with a weak key the
    re-login cookie can be forged for any user.
    """
    key = get_secret("cookie_key")
    if key and key != SAMPLE_VALUE and len(key.encode()) >= MIN_BYTES:
        return key
    if not demo:
        problem = (
            "missing" if not key else "the sample value" if key == SAMPLE_VALUE else "too short"
        )
        raise ConfigError(
            f"cookie_key is {problem}: set a random value of at least {MIN_BYTES} bytes in "
            ".streamlit/secrets.toml or BACKOFFICE_SECRET_COOKIE_KEY"
        )
    path = demo_dir / ".cookie_key"
    if not path.exists():
        demo_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()
