"""The subscriber SDK's side: receipts of acked updates, sent before the offsets they follow commit.

Flushed once per fetched batch and before every offset commit, so a crash can lose a receipt only
together with the commit of its offset; the re-read update is then suppressed as already handled
and its receipt sent again (``received_at`` from the dedup store): at least once, deduplicated by
the archive on (consumer, event id).
"""

from __future__ import annotations

import asyncio

from bus.event.signed_event import Signer
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, make_producer
from bus.receipts.receipt import Receipt, signed_receipts


class ReceiptWriter:
    def __init__(self, settings: KafkaSettings, signer: Signer) -> None:
        self._signer = signer
        self._producer = make_producer(settings)
        self._pending: list[Receipt] = []
        self.sent = 0

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    def add(self, receipt: Receipt) -> None:
        self._pending.append(receipt)

    async def flush(self) -> None:
        """Sign what is pending with one signature and wait until the broker has every receipt."""
        pending, self._pending = self._pending, []  # receipts added while this one waits go next time
        if not pending:
            return
        try:
            records = signed_receipts(self._signer, pending)
            sends = [
                await self._producer.send(SystemTopic.RECEIPTS, key=k, value=v, headers=h)
                for k, v, h in records
            ]
            await asyncio.gather(*sends)
        except BaseException:
            self._pending[:0] = pending  # sent again (a repeat is dropped by the archive)
            raise
        self.sent += len(pending)
