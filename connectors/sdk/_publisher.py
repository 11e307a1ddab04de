"""The publisher: validate locally, spool durably, sign, and let the sender deliver."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.event.envelope import ChangeKind
from bus.event.signed_event import Draft, Signer, composed_headers
from bus.event.topics import agency_id
from bus.ingest.prepare import Preparation, Prepared
from bus.kafka.client import BrokerProfile, KafkaSettings
from bus.kafka.record_size import DEFAULT_RECORD_LIMIT, record_bytes
from bus.registry.client import RegistryClient
from bus.registry.subjects import SchemaCache
from connectors.sdk._sender import SpoolSender
from connectors.sdk._spool import NewEvent, Spool


@dataclass(frozen=True)
class Change:
    """One record change: ``record`` is the after-image (None for a delete).

    ``event_id`` (a UUID) and ``time`` are for sources that can re-read a change, such as change
    capture: the same change then gets the same ``ce_id`` and ``ce_time`` (DESIGN §8); by default
    a fresh UUID4 and now.
    """

    kind: ChangeKind
    record_type: str
    key: str
    record: Mapping[str, Any] | None
    changed: Sequence[str] | None = None
    event_id: str | None = None
    time: datetime | None = None


class Publisher:
    """Publish record changes for one agency system; ``async with`` starts and stops it.

    A publish returns once the change is committed to the local spool (SQLite, fsynced);
    delivery to the broker happens in the background and survives restarts and outages.
    """

    def __init__(
        self,
        agency: str,
        system: str,
        key: Ed25519PrivateKey,
        *,
        bootstrap: str | KafkaSettings,
        registry: str,
        spool_path: Path | None = None,
        spool_quota_bytes: int = 1 << 30,
        profile: BrokerProfile = BrokerProfile.KAFKA,
        registry_token: str | None = None,
    ) -> None:
        self.agency = agency_id(agency)
        self.system = system
        self._signer = Signer.of(key)
        self._settings = (
            bootstrap
            if isinstance(bootstrap, KafkaSettings)
            else KafkaSettings(bootstrap=bootstrap, broker_profile=profile)
        )
        self._registry = RegistryClient(registry, token=registry_token)
        path = spool_path or Path(f"{self.agency}.{system}.spool.sqlite")
        self._spool = Spool(path, quota_bytes=spool_quota_bytes)
        schemas = SchemaCache(self._registry, keep=path.with_name(path.name + ".schemas.json"))
        self._preparation = Preparation(schemas)
        self._sender = SpoolSender(self._spool, self._settings, self.agency)
        self._lock = asyncio.Lock()

    @property
    def key_id(self) -> str:
        return self._signer.key_id

    async def start(self) -> None:
        self._sender.start()

    async def close(self) -> None:
        """Stop sending; whatever is still spooled is sent by the next start."""
        await self._sender.stop()
        await self._registry.close()
        self._spool.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def created(
        self, record_type: str, key: str, record: Mapping[str, Any], changed: Sequence[str] | None = None
    ) -> str:
        return (await self.publish_many([Change(ChangeKind.CREATED, record_type, key, record, changed)]))[0]

    async def updated(
        self, record_type: str, key: str, record: Mapping[str, Any], changed: Sequence[str] | None = None
    ) -> str:
        return (await self.publish_many([Change(ChangeKind.UPDATED, record_type, key, record, changed)]))[0]

    async def snapshot(self, record_type: str, key: str, record: Mapping[str, Any]) -> str:
        return (await self.publish_many([Change(ChangeKind.SNAPSHOT, record_type, key, record)]))[0]

    async def deleted(self, record_type: str, key: str) -> str:
        return (await self.publish_many([Change(ChangeKind.DELETED, record_type, key, None)]))[0]

    async def publish_many(self, changes: Sequence[Change]) -> list[str]:
        """Validate all, then spool all in one transaction with one batch signature; return ce_ids."""
        prepared = [await self._prepare(change) for change in changes]
        async with self._lock:
            ids = await asyncio.to_thread(self._spool_batch, prepared)
        self._sender.wake()
        return ids

    async def flush(self, timeout_s: float | None = None) -> None:
        """Wait until every spooled change was acknowledged by the broker."""
        await self._sender.wait_drained(timeout_s)

    def depth(self) -> int:
        """Changes spooled but not yet acknowledged by the broker (a short blocking SQLite read)."""
        return self._spool.depth()

    async def _prepare(self, change: Change) -> tuple[Change, Prepared]:
        ready = await self._preparation.prepare(
            self.agency, change.record_type, change.kind, change.key, change.record
        )
        return change, ready

    def _spool_batch(self, prepared: list[tuple[Change, Prepared]]) -> list[str]:
        with self._spool.transaction() as tx:
            drafts = [
                Draft(
                    change.kind,
                    ready.schema.record_name,
                    change.key,
                    ready.value,
                    tx.next_sequence(change.key),
                    change.changed,
                    change.event_id,
                    change.time,
                )
                for change, ready in prepared
            ]
            composed = composed_headers(self.agency, self.system, self._signer, drafts)
            for (_, headers), draft, (_, ready) in zip(composed, drafts, prepared, strict=True):
                assert draft.sequence is not None
                _check_size(ready, headers)
                tx.append(NewEvent(ready.schema.topic, draft.key, draft.value, headers, draft.sequence))
        return [event_id for event_id, _ in composed]


def _check_size(ready: Prepared, headers: list[tuple[str, bytes]]) -> None:
    """Refuse, before anything is spooled, a record no produce request can carry.

    Spooled, it would be retried forever and hold back every later change of the agency
    (issue #25); the limit is the one the gateway applies to a topic with Kafka's default.
    """
    size = record_bytes(ready.key.encode(), ready.value, headers)
    if size > DEFAULT_RECORD_LIMIT:
        raise ready.too_large(size, DEFAULT_RECORD_LIMIT, nothing_sent="nothing of this batch was spooled")
