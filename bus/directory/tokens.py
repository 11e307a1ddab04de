"""Bearer tokens: random, shown once, stored only as hashes.

Tokens are 256-bit random strings, so a fast SHA-256 digest is enough to make a stolen
directory useless (no password-style stretching needed, unlike human-chosen secrets).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "sha256:"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return PREFIX + hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def credentials_from_header(authorization: str | None) -> tuple[str | None, str] | None:
    """``(user, token)`` from ``Bearer <token>`` or ``Basic base64(user:token)``, else None.

    Confluent clients send ``basic.auth.user.info`` as HTTP Basic: user = agency id,
    password = its token.
    """
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        if sep and password:
            return user, password
    return None
