"""The citizen's wallet token: proof, issued after the portal's sign-in, that a request is about *that* IIN.

``wlt1.<iin>.<expires, unix seconds>.<HMAC-SHA256 over "wlt1|iin|expires", base64url>`` with a
secret only the gateway holds. Pure functions (no I/O); ``docs/wallet.md`` says what it does and
does not prove.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from pathlib import Path

PREFIX = "wlt1"
DEFAULT_TTL = dt.timedelta(minutes=15)


def _mac(secret: bytes, iin: str, expires: int) -> str:
    digest = hmac.new(secret, f"{PREFIX}|{iin}|{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(
    secret: bytes, iin: str, now: dt.datetime, ttl: dt.timedelta = DEFAULT_TTL
) -> tuple[str, dt.datetime]:
    """A token for ``iin`` valid until ``now + ttl`` (whole seconds), and that expiry."""
    expires = int((now + ttl).timestamp())
    return f"{PREFIX}.{iin}.{expires}.{_mac(secret, iin, expires)}", dt.datetime.fromtimestamp(
        expires, dt.UTC
    )


def problem(secret: bytes, token: str | None, iin: str, now: dt.datetime) -> str | None:
    """Why ``token`` does not let its holder read ``iin``'s wallet, or None when it does."""
    if not token:
        return "no wallet token was sent (header X-Wallet-Token)"
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
        return "the wallet token is malformed"
    _, holder, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(secret, holder, int(expires))):
        return "the wallet token was not issued by this gateway"
    if int(expires) <= now.timestamp():
        return "the wallet token has expired"
    if not hmac.compare_digest(holder, iin):
        return "the wallet token belongs to another person"
    return None


def load_or_create_secret(path: Path) -> bytes:
    """The gateway's wallet-token secret (32 random bytes, hex), created mode 0600 on first start."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
