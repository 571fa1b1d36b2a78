"""The two ways callers prove who they are to the demo services: a Bearer token, a secret key."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Header, HTTPException


def bearer_token_checker(token: str) -> Callable[..., None]:
    """A FastAPI dependency refusing (401) any request without `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    def check(authorization: Annotated[str | None, Header()] = None) -> None:
        # compare_digest: the time taken must not tell how much of a guess was right.
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise HTTPException(
                status_code=401,
                detail="Missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return check


def basic_secret_matches(authorization: str | None, secret_key: str) -> bool:
    """True if the header is `Basic base64(secret_key + ":")`, the Toss Payments convention."""
    if not authorization or not authorization.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(authorization[len("Basic ") :], validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(decoded, f"{secret_key}:".encode())


def basic_secret_header(secret_key: str) -> str:
    """The Authorization header value a client of the gateway sends."""
    return "Basic " + base64.b64encode(f"{secret_key}:".encode()).decode()
