"""What the archiver kept of ``bus.receipts`` (shared by the SDK's and the dispatcher's specs)."""

from __future__ import annotations

import asyncio

from bus.audit.db import ArchiveStore
from bus.audit.receipt_store import ReceiptStore, StoredReceipt
from bus.event.topics import SystemTopic, spec_for


def receipt_rows(store: ArchiveStore, consumer: str) -> list[StoredReceipt]:
    """Every archived receipt of ``consumer``, partition by partition in offset order."""
    receipts = ReceiptStore(store)
    partitions = range(spec_for(SystemTopic.RECEIPTS).partitions)
    return [r for p in partitions for r in receipts.rows(p) if r.consumer == consumer]


async def archived_receipts(store: ArchiveStore, consumer: str, count: int) -> list[StoredReceipt]:
    """For ``eventually``: the consumer's receipts once there are at least ``count``, else ``[]``."""
    rows = await asyncio.to_thread(receipt_rows, store, consumer)
    return rows if len(rows) >= count else []
