"""Where a delivery reader finds the processor's public keys to verify each delivery with.

Bus components that follow ``bus.agencies`` use it (``DirectoryKeys``); an agency's SDK, the wallet
and the audit archiver may not read it (webhook secrets are there), so they ask the registry, which
follows it (``RegistryKeys``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from bus.errors import BusError
from bus.event.signing import SignatureError, public_key_from_text

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from bus.directory.view import AgencyDirectory
    from bus.registry.client import RegistryClient

log = logging.getLogger(__name__)
_REFRESH_S = 60.0  # a key the operator removed stops verifying within this
_RETRY_UNKNOWN_S = 5.0  # a delivery with an unknown key id asks again at most this often


class DeliveryKeys(Protocol):
    def lookup(self, identity: str, key_id: str) -> Ed25519PublicKey | None: ...

    async def refresh(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Called per batch with the (identity, key id) pairs it names, before any is verified."""


class DirectoryKeys:
    """Keys from a followed ``bus.agencies`` view (webhook dispatcher)."""

    def __init__(self, directory: AgencyDirectory) -> None:
        self.lookup = directory.public_key

    async def refresh(self, wanted: Iterable[tuple[str, str]]) -> None:
        return None  # the view follows the topic itself


class RegistryKeys:
    """Public keys from the registry's ``/keys/<identity>``, per identity, refreshed when stale or unknown.

    For readers that may not read ``bus.agencies``: the subscriber SDK and the wallet (the processor's
    keys), the audit archiver (each consumer's, for receipts).
    """

    def __init__(self, registry: RegistryClient) -> None:
        self._registry = registry
        self._keys: dict[str, dict[str, Ed25519PublicKey]] = {}
        self._fetched: dict[str, float] = {}

    def lookup(self, identity: str, key_id: str) -> Ed25519PublicKey | None:
        return self._keys.get(identity, {}).get(key_id)

    async def refresh(self, wanted: Iterable[tuple[str, str]]) -> None:
        now = time.monotonic()
        stale = set()
        for identity, key_id in set(wanted):
            age = now - self._fetched.get(identity, float("-inf"))
            unknown = key_id not in self._keys.get(identity, {})
            if age >= _REFRESH_S or (unknown and age >= _RETRY_UNKNOWN_S):
                stale.add(identity)
        for identity in sorted(stale):
            await self._fetch(identity)

    async def _fetch(self, identity: str) -> None:
        self._fetched[identity] = time.monotonic()
        try:
            texts = await self._registry.public_keys(identity)
        except BusError as exc:  # keep the keys known so far; unknown ids are refused meanwhile
            log.warning("cannot refresh the public keys of %s: %s", identity, exc.message)
            return
        keys = {}
        for key_id, text in texts.items():
            try:
                keys[key_id] = public_key_from_text(text)
            except SignatureError:
                log.warning("the registry lists an unreadable key %s of %s; ignoring it", key_id, identity)
        self._keys[identity] = keys
