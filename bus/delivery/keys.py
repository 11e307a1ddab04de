"""Where a delivery reader finds the processor's public keys to verify each delivery with.

Bus components follow ``bus.agencies`` themselves (``DirectoryKeys``); an agency's SDK may not read
it (webhook secrets are there), so it asks the registry, which follows it (``RegistryKeys``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Protocol

from bus.directory.model import PROCESSOR_IDENTITY
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

    async def refresh(self, key_ids: Iterable[str]) -> None:
        """Called per batch with the key ids its deliveries name, before any is verified."""


class DirectoryKeys:
    """Keys from a followed ``bus.agencies`` view (webhook dispatcher, wallet)."""

    def __init__(self, directory: AgencyDirectory) -> None:
        self.lookup = directory.public_key

    async def refresh(self, key_ids: Iterable[str]) -> None:
        return None  # the view follows the topic itself


class RegistryKeys:
    """The processor's keys from the registry's ``/keys/bus.processor``, refreshed when stale or unknown."""

    def __init__(self, registry: RegistryClient) -> None:
        self._registry = registry
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched = float("-inf")

    def lookup(self, identity: str, key_id: str) -> Ed25519PublicKey | None:
        return self._keys.get(key_id) if identity == PROCESSOR_IDENTITY else None

    async def refresh(self, key_ids: Iterable[str]) -> None:
        age = time.monotonic() - self._fetched
        unknown = any(k not in self._keys for k in key_ids)
        if age < _REFRESH_S and not (unknown and age >= _RETRY_UNKNOWN_S):
            return
        self._fetched = time.monotonic()
        try:
            texts = await self._registry.public_keys(PROCESSOR_IDENTITY)
        except BusError as exc:  # keep the keys known so far; unknown ids are refused meanwhile
            log.warning("cannot refresh the processor's public keys: %s", exc.message)
            return
        keys = {}
        for key_id, text in texts.items():
            try:
                keys[key_id] = public_key_from_text(text)
            except SignatureError:
                log.warning("the registry lists an unreadable processor key %s; ignoring it", key_id)
        self._keys = keys
