"""Re-verify the audit archive now and then, so ``bus_audit_chain_verified`` tells operators at once.

A long-running companion of the archiver (``bus up``): a break found here raises the gauge to 0,
which the "audit chain broken" alert in deploy/prometheus watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from bus.acl.rules import AUDIT_VERIFY
from bus.audit.db import ArchiveStore
from bus.audit.keys import load_trusted_keys, public_key_path
from bus.audit.verify import verify_archive
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings
from bus.metrics import AUDIT_CHAIN_VERIFIED

log = logging.getLogger(__name__)


class ChainWatch:
    def __init__(self, kafka: KafkaSettings, db_url: str, key_file: Path, every_s: float = 60.0) -> None:
        self._kafka = kafka.acting_as(AUDIT_VERIFY.user)
        self._db_url = db_url
        self._key_file = key_file
        self._every_s = every_s
        self.last_ok: bool | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every_s)

    async def check(self) -> bool:
        trusted = load_trusted_keys([public_key_path(self._key_file)])
        store = ArchiveStore(self._db_url)
        try:
            report = await verify_archive(
                store,
                self._kafka,
                trusted,
                audit_topic=SystemTopic.AUDIT.value,
                checkpoint_topic=SystemTopic.AUDIT_CHECKPOINTS.value,
            )
        finally:
            await asyncio.to_thread(store.close)
        self.last_ok = report.ok
        AUDIT_CHAIN_VERIFIED.set(1 if report.ok else 0)
        if not report.ok:
            log.error("audit chain verification found breaks: %s", report.breaks[:3])
        return report.ok
