"""Receipts → the archive: verify each against its signer's keys, drop repeats, chain, store.

Runs inside the audit archiver (same database, same process). A receipt is signed by the consumer it
names (or, for a webhook receiver, by the dispatcher ``bus.webhooks``), with a key the directory lists
for that identity (fetched from the registry's ``/keys``: the archiver may not read bus.agencies).
Anything else, e.g. one agency signing a receipt for another, is refused: logged and counted
(``bus_receipts_refused_total``), never archived. Receipts are sent at least once
(``bus/receipts/writer.py``): a repeat of an archived (event, consumer) pair is skipped. The resume
point is the database's chain heads, as for audit entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import ConsumerRecord, TopicPartition

from bus.audit.chain import GENESIS
from bus.audit.db import ArchiveStore
from bus.audit.receipt_store import ReceiptChainHead, ReceiptStore, StoredReceipt
from bus.delivery.keys import RegistryKeys
from bus.event.signing import SignatureError, Verifier
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, make_consumer, replayed_on_failure, resume_after, topic_partitions
from bus.metrics import RECEIPTS_REFUSED
from bus.receipts.receipt import parsed_receipt, signed_by, verified_receipt
from bus.registry.client import RegistryClient

log = logging.getLogger(__name__)


class ReceiptArchiver:
    def __init__(
        self, kafka: KafkaSettings, archive: ArchiveStore, registry: RegistryClient, *, max_batch: int = 5000
    ) -> None:
        self.store = ReceiptStore(archive)
        self._keys = RegistryKeys(registry)  # the archiver may not read bus.agencies (webhook secrets)
        self._verifier = Verifier(self._keys.lookup, cache_size=4096)
        self._consumer = make_consumer(kafka, max_poll_records=max_batch)
        self._max_batch = max_batch
        self._partitions: list[TopicPartition] = []
        self.heads: dict[int, ReceiptChainHead] = {}
        self.archived = 0
        self.refused = 0

    async def start(self) -> None:
        await self._consumer.start()
        partitions = await topic_partitions(self._consumer, SystemTopic.RECEIPTS)
        self._partitions = [TopicPartition(SystemTopic.RECEIPTS, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        self.heads = await asyncio.to_thread(self.store.heads)
        await resume_after(self._consumer, self._partitions, {p: h.offset for p, h in self.heads.items()})

    async def stop(self) -> None:
        await self._consumer.stop()

    async def step(self) -> int:
        """One batch of receipts: returns how many it archived."""
        batch = await self._consumer.getmany(timeout_ms=0, max_records=self._max_batch)
        records = [r for tp in sorted(batch, key=lambda t: t.partition) for r in batch[tp]]
        if not records:
            return 0
        with replayed_on_failure(self._consumer, batch):
            return await self._archive(records)

    async def _archive(self, records: list[ConsumerRecord[bytes, bytes]]) -> int:
        await self._keys.refresh(_signers(records))
        candidates = [c for c in (self._checked(r) for r in records) if c is not None]
        known = await asyncio.to_thread(self.store.known, [(c.event_id, c.consumer) for c in candidates])
        heads = dict(self.heads)
        rows: list[StoredReceipt] = []
        by_offset = {(c.kafka_partition, c.kafka_offset): c for c in candidates}
        for record in records:
            head = heads.get(record.partition)
            if head is not None and record.offset <= head.offset:
                continue  # archived before a rewind
            candidate = by_offset.get((record.partition, record.offset))
            if candidate is not None and (candidate.event_id, candidate.consumer) not in known:
                known.add((candidate.event_id, candidate.consumer))
                row = candidate.linked(bytes.fromhex(head.hash) if head else GENESIS)
                rows.append(row)
                count, digest = (head.count if head else 0) + 1, row.hash
            else:  # refused or a repeat: the chain does not move, the resume point does
                count, digest = (head.count, head.hash) if head else (0, GENESIS.hex())
            heads[record.partition] = ReceiptChainHead(record.partition, record.offset, digest, count)
        moved = [h for p, h in heads.items() if self.heads.get(p) != h]
        await asyncio.to_thread(self.store.append, rows, moved)
        self.heads = heads
        self.archived += len(rows)
        return len(rows)

    def _checked(self, record: ConsumerRecord[bytes, bytes]) -> StoredReceipt | None:
        headers = {k: bytes(v) for k, v in record.headers}
        try:
            receipt = verified_receipt(self._verifier, record.value, headers)
        except SignatureError as exc:
            self.refused += 1
            RECEIPTS_REFUSED.labels(reason=exc.reason).inc()
            log.warning(
                "refused the receipt at %s/%s@%s: %s",
                record.topic,
                record.partition,
                record.offset,
                exc.message,
            )
            return None
        return StoredReceipt(
            kafka_partition=record.partition,
            kafka_offset=record.offset,
            consumer=receipt.consumer,
            agreement_id=receipt.agreement,
            event_id=receipt.event_id,
            subject=receipt.subject,
            received_at=receipt.received_at,
            value=(record.value or b"").decode("utf-8"),
            signature=headers["bus_signature"].decode(),
            proof=headers.get("bus_sig_proof", b"").decode(),
            key_id=headers["bus_sig_key"].decode(),
        )


def _signers(records: list[ConsumerRecord[bytes, bytes]]) -> set[tuple[str, str]]:
    """(signer identity, key id) of every record that reads as a receipt: whose keys to have at hand."""
    found = set()
    for record in records:
        headers = {k: bytes(v) for k, v in record.headers}
        with contextlib.suppress(SignatureError):
            found.add((parsed_receipt(record.value).signer, signed_by(headers)))
    return found
