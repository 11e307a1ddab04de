"""A blocking face for ``Publisher``: the same methods, typed, each run on the publisher's own loop thread.

Kept in step with ``Publisher`` by ``tests/unit/test_sync_publisher.py``, which compares signatures.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.kafka.client import BrokerProfile, KafkaSettings
from connectors.sdk._publisher import Change, Publisher

T = TypeVar("T")


class SyncPublisher:
    """Same constructor and methods as ``Publisher``, blocking; runs its own event loop thread."""

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
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sync-publisher", daemon=True)
        self._thread.start()

        async def build() -> Publisher:  # built on the loop thread: its locks and tasks belong there
            return Publisher(
                agency,
                system,
                key,
                bootstrap=bootstrap,
                registry=registry,
                spool_path=spool_path,
                spool_quota_bytes=spool_quota_bytes,
                profile=profile,
                registry_token=registry_token,
            )

        self._async = self._call(build())
        self._call(self._async.start())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def key_id(self) -> str:
        return self._async.key_id

    def created(
        self, record_type: str, key: str, record: Mapping[str, Any], changed: Sequence[str] | None = None
    ) -> str:
        return self._call(self._async.created(record_type, key, record, changed))

    def updated(
        self, record_type: str, key: str, record: Mapping[str, Any], changed: Sequence[str] | None = None
    ) -> str:
        return self._call(self._async.updated(record_type, key, record, changed))

    def snapshot(self, record_type: str, key: str, record: Mapping[str, Any]) -> str:
        return self._call(self._async.snapshot(record_type, key, record))

    def deleted(self, record_type: str, key: str) -> str:
        return self._call(self._async.deleted(record_type, key))

    def publish_many(self, changes: Sequence[Change]) -> list[str]:
        return self._call(self._async.publish_many(changes))

    def flush(self, timeout_s: float | None = None) -> None:
        self._call(self._async.flush(timeout_s))

    def depth(self) -> int:
        return self._async.depth()

    def start(self) -> None:
        """Already started by the constructor; kept so the two faces have the same methods."""

    def close(self) -> None:
        try:
            self._call(self._async.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
