"""Register, change and remove an agency's webhook: the ``webhook`` field of its ``bus.agencies`` entry.

The entry is the one place the dispatcher looks, so a changed URL or secret applies to the
next attempt without a restart, and removing it stops deliveries at the next rebalance.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from urllib.parse import urlsplit

from bus.directory.model import AgencyEntry, WebhookEntry
from bus.directory.publish import put_agency
from bus.directory.view import current_directory
from bus.errors import ConfigError
from bus.event.topics import agency_id
from bus.kafka.client import KafkaSettings
from bus.webhooks.message import SECRET_PREFIX


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(agency: str, url: str, *, allow_http: bool = False) -> str:
    """HTTPS only (plain HTTP for loopback or with ``allow_http``); no credentials in the URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"webhook URL {url!r} of agency {agency!r} is not an absolute http(s) URL",
            hint="give the full endpoint, e.g. https://tax.gov.example/bus/events",
        )
    if parts.scheme == "http" and not (allow_http or _is_loopback(parts.hostname)):
        raise ConfigError(
            f"webhook URL {url!r} of agency {agency!r} is plain HTTP",
            hint="use https:// (updates carry personal data); --allow-http only inside a trusted network",
        )
    if parts.username or parts.password:
        raise ConfigError(
            f"webhook URL of agency {agency!r} contains credentials",
            hint="remove user:password@ from the URL; the receiver authenticates by the signature",
        )
    return url


def check_secret(agency: str, secret: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 to 64 random bytes."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if not secret.startswith(SECRET_PREFIX) or not 24 <= size <= 64:
        raise ConfigError(
            f"the webhook secret for agency {agency!r} is not a Standard Webhooks secret",
            hint="use whsec_ followed by base64 of 24-64 random bytes, or omit --secret to generate one",
        )
    return secret


async def _entry(settings: KafkaSettings, agency: str) -> AgencyEntry:
    entry = (await current_directory(settings)).get(agency_id(agency))
    if entry is None:
        raise ConfigError(
            f"agency {agency!r} is not in the directory on {settings.bootstrap}",
            hint=f"add it first: bus agencies add {agency} --name …",
        )
    return entry


async def set_webhook(settings: KafkaSettings, agency: str, webhook: WebhookEntry) -> AgencyEntry:
    """Store (or replace) the agency's webhook; everything else in its entry stays."""
    entry = (await _entry(settings, agency)).model_copy(update={"webhook": webhook})
    await put_agency(settings, entry)
    return entry


async def remove_webhook(settings: KafkaSettings, agency: str) -> bool:
    """Drop the agency's webhook; False when it had none."""
    entry = await _entry(settings, agency)
    if entry.webhook is None:
        return False
    await put_agency(settings, entry.model_copy(update={"webhook": None}))
    return True
