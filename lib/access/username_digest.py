"""The digest a typed username that is no user's is audited under.

People type passwords and e-mail addresses into the username box, so such a name is never
stored; its digest is, so repeated attempts under one name still show (and lock) together.
A plain hash of it could be reversed by guessing (a password list, hashed, compared): the
digest is an HMAC-SHA256 under a key only the server holds.

The key is the secret `audit_hmac_key` when set (at least 32 bytes outside the demo);
otherwise it is derived from the cookie key (itself required outside the demo, random in it)
with a label of its own, so neither key reveals the other. Rotating the cookie key then
changes the digests too: set `audit_hmac_key` to keep them comparable across rotations.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from lib.access.cookie_key import MIN_BYTES, cookie_key
from lib.config.secrets import get_secret
from lib.errors import ConfigError

SECRET_NAME = "audit_hmac_key"
_LABEL = b"backoffice: digest of unknown usernames in the audit log, v1"
HEX_CHARS = 16


def digest_key(demo: bool, demo_dir: Path) -> bytes:
    """The HMAC key for username digests; raises ConfigError for a short key outside the demo."""
    key = get_secret(SECRET_NAME)
    if key:
        if not demo and len(key.encode()) < MIN_BYTES:
            raise ConfigError(
                f"{SECRET_NAME} is too short: set a random value of at least {MIN_BYTES} bytes "
                "(or leave it unset to derive it from cookie_key)"
            )
        return key.encode()
    return hmac.new(cookie_key(demo, demo_dir).encode(), _LABEL, hashlib.sha256).digest()


def username_digest(name: str, key: bytes) -> str:
    """A short keyed digest of `name`: the same for one key, unguessable without it."""
    return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:HEX_CHARS]
