"""The audit archiver: ``bus.audit`` → SQL in batches, hash-chained per partition, with signed checkpoints.

Loop: getmany → decode (AvroSerde, schemas from the registry) → chain → one SQL transaction (rows and
chain heads) → commit the Kafka offsets → publish the checkpoints that are due. The resume position
is the database's chain head, not the committed offset: a crash between the SQL commit and the offset
commit re-reads a batch that is then skipped, never archived twice. A failed transaction leaves the
in-memory heads untouched, rewinds the consumer to the database's heads and is retried with backoff.
One archiver per database: it reads every partition by manual assignment (the group only holds the
committed offsets, for lag monitoring).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path

from aiokafka import ConsumerRecord, TopicPartition
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.acl.rules import ARCHIVER
from bus.audit.chain import GENESIS, ArchivedEntry, link
from bus.audit.checkpoint import Checkpoint, sign_checkpoint
from bus.audit.db import ArchiveStore, Head, StoredRow
from bus.audit.errors import AuditDecodeError
from bus.audit.keys import load_or_create_key
from bus.audit.receipt_archive import ReceiptArchiver
from bus.errors import BrokerError, WireFormatError
from bus.event.serde import AvroSerde, framed_schema_ids
from bus.event.signing import key_id_for
from bus.event.topics import SystemTopic, spec_for
from bus.ids import SchemaId
from bus.kafka.client import (
    KafkaSettings,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
    replayed_on_failure,
    resume_after,
    topic_partitions,
)
from bus.registry.client import RegistryClient
from bus.registry.errors import SchemaNotFound
from bus.run.backoff import step_until_stopped
from bus.run.closing import close_all

log = logging.getLogger(__name__)
DEFAULT_DB_URL = "sqlite:///bus-data/audit.sqlite"


class ArchiveSettings(BaseSettings):
    """``BUS_AUDIT_*`` settings of the archiver."""

    model_config = SettingsConfigDict(env_prefix="BUS_AUDIT_", extra="forbid", frozen=True)

    db_url: str = DEFAULT_DB_URL
    registry_url: str = "http://127.0.0.1:8081"
    key_file: Path = Path("bus-data/audit-key.pem")
    group_id: str = "bus-audit-archiver"
    checkpoint_every: int = Field(default=10_000, ge=1)
    max_batch: int = Field(default=5000, ge=1)
    topic: str = SystemTopic.AUDIT.value
    checkpoint_topic: str = SystemTopic.AUDIT_CHECKPOINTS.value


class Archiver:
    """``start()``, then ``run(stop)`` or ``step()``; ``stop()`` publishes the final checkpoints."""

    def __init__(self, kafka: KafkaSettings, settings: ArchiveSettings) -> None:
        self.kafka = kafka = kafka.acting_as(ARCHIVER.user)
        self.settings = settings
        self.key = load_or_create_key(settings.key_file)
        self.key_id = key_id_for(self.key.public_key())
        self.store = ArchiveStore(settings.db_url)
        self.heads: dict[int, Head] = {}
        self.archived = 0
        self.checkpoints = 0
        self._registry = RegistryClient(settings.registry_url)
        self._texts: dict[SchemaId, str] = {}
        self._serde = AvroSerde(self._texts.get)
        self._consumer = make_consumer(kafka, group_id=settings.group_id, max_poll_records=settings.max_batch)
        self._producer = make_producer(kafka)
        self._partitions: list[TopicPartition] = []
        self._started = False
        self.receipts = ReceiptArchiver(kafka, self.store, self._registry, max_batch=settings.max_batch)

    async def start(self) -> None:
        """Migrate the schema, make sure the topics exist, and position every partition after its head."""
        await asyncio.to_thread(self.store.migrate)
        await self._ensure_topics()
        await self._producer.start()
        await self._consumer.start()
        self._started = True
        partitions = await topic_partitions(self._consumer, self.settings.topic)
        self._partitions = [TopicPartition(self.settings.topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        await self._rewind()
        await self._publish_due(force=False)
        await self.receipts.start()

    async def _ensure_topics(self) -> None:
        names = {self.settings.topic, self.settings.checkpoint_topic, SystemTopic.RECEIPTS.value}
        specs = [spec_for(n) for n in names if n in SystemTopic._value2member_map_]
        if not specs:
            return
        admin = make_admin(self.kafka)
        await admin.start()
        try:
            await ensure_topics(admin, specs, replication_factor=self.kafka.replication_factor)
        finally:
            await admin.close()

    async def _rewind(self) -> None:
        """Take the heads from the database and seek every partition to just after its head."""
        self.heads = await asyncio.to_thread(self.store.heads)
        await resume_after(self._consumer, self._partitions, {p: h.offset for p, h in self.heads.items()})

    async def stop(self) -> None:
        """Publish a checkpoint for every partition that moved since its last one, then close."""
        if self._started:
            try:
                await self._publish_due(force=True)
            except Exception:  # still close the clients; the next start publishes what is due
                log.exception("could not publish the final audit checkpoints")
        closers = (self.receipts.stop, self._consumer.stop, self._producer.stop, self._registry.close)
        await close_all(closers, log, "the audit archiver")
        await asyncio.to_thread(self.store.close)
        self._started = False

    async def run(self, stop: asyncio.Event) -> None:
        """Archive until ``stop`` is set; retriable failures (database, broker) back off and retry."""
        await step_until_stopped(self.step, stop, log)

    async def step(self) -> int:
        """One batch of entries, then of receipts: returns how many entries it archived (0 when idle)."""
        batch = await self._consumer.getmany(timeout_ms=200, max_records=self.settings.max_batch)
        records = [r for tp in sorted(batch, key=lambda t: t.partition) for r in batch[tp]]
        archived = 0
        if records:
            with replayed_on_failure(self._consumer, batch):
                archived = await self._archive(batch, records)
        await self.receipts.step()
        return archived

    async def _archive(
        self,
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> int:
        await self._prefetch(records)
        heads = dict(self.heads)
        rows: list[StoredRow] = []
        due: list[Head] = []  # heads at every checkpoint_every-th row of a partition
        for record in records:
            if record.value is None:
                continue  # a tombstone carries no entry; the chain does not need contiguous offsets
            head = heads.get(record.partition)
            if head is not None and record.offset <= head.offset:
                continue  # already archived (re-read after a rewind)
            entry = self._decode(record)
            digest = link(bytes.fromhex(head.hash) if head else GENESIS, entry).hex()
            rows.append(StoredRow(entry, digest))
            count = (head.count if head else 0) + 1
            checkpointed = head.checkpointed_count if head else 0
            heads[record.partition] = Head(record.partition, record.offset, digest, count, checkpointed)
            if count % self.settings.checkpoint_every == 0:
                due.append(heads[record.partition])
        moved = [h for p, h in heads.items() if self.heads.get(p) != h]
        await asyncio.to_thread(self.store.append, rows, moved)
        self.heads = heads
        await self._consumer.commit({tp: batch[tp][-1].offset + 1 for tp in batch if batch[tp]})
        self.archived += len(rows)
        await self._publish(due)
        return len(rows)

    async def _prefetch(self, records: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        for schema_id in framed_schema_ids(r.value for r in records) - self._texts.keys():
            with contextlib.suppress(SchemaNotFound):  # decode() names the record that uses it
                self._texts[schema_id] = await self._registry.schema(schema_id)

    def _decode(self, record: ConsumerRecord[bytes, bytes]) -> ArchivedEntry:
        where = f"audit entry at {record.topic}/{record.partition}@{record.offset}"
        try:
            decoded = self._serde.decode(record.value, topic=record.topic)
            assert decoded is not None
            return ArchivedEntry.from_avro(record.partition, record.offset, decoded.record)
        except WireFormatError as exc:
            raise AuditDecodeError(
                record.partition,
                record.offset,
                f"{where} cannot be decoded: {exc.message}",
                hint="only the processor writes to the audit topic, with the bus.audit-value schema; "
                "the archiver stops here so the chain has no hole: remove the cause and restart it",
            ) from None
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise AuditDecodeError(
                record.partition,
                record.offset,
                f"{where} is not an AuditEntry: {type(exc).__name__}: {exc}",
                hint="write audit entries with the bus.audit-value schema (bus/audit/entry.py)",
            ) from None

    async def _publish_due(self, *, force: bool) -> None:
        """Checkpoint each head with ``checkpoint_every`` unpublished rows (any, if forced)."""
        every = self.settings.checkpoint_every
        due = [
            h
            for _, h in sorted(self.heads.items())
            if h.count > h.checkpointed_count and (force or h.count - h.checkpointed_count >= every)
        ]
        await self._publish(due)

    async def _publish(self, heads: list[Head]) -> None:
        """Sign and publish a checkpoint per head (acks awaited), then record them as checkpointed."""
        latest: dict[int, int] = {}
        for head in heads:
            checkpoint = self.checkpoint_for(head)
            try:
                await self._producer.send_and_wait(
                    self.settings.checkpoint_topic,
                    key=str(head.partition).encode(),
                    value=checkpoint.to_json(),
                )
            except Exception as exc:
                raise BrokerError(
                    f"cannot publish the audit checkpoint of partition {head.partition} to "
                    f"{self.settings.checkpoint_topic!r}: {exc}",
                    hint="the rows are archived; the checkpoint is sent again on the next batch or start",
                ) from None
            latest[head.partition] = head.count
            self.checkpoints += 1
        for partition, count in latest.items():
            await asyncio.to_thread(self.store.mark_checkpointed, partition, count)
            current = self.heads[partition]
            self.heads[partition] = dataclasses.replace(
                current, checkpointed_count=max(count, current.checkpointed_count)
            )

    def checkpoint_for(self, head: Head) -> Checkpoint:
        return sign_checkpoint(
            self.key,
            topic=self.settings.topic,
            partition=head.partition,
            offset=head.offset,
            count=head.count,
            head=head.hash,
            created=dt.datetime.now(dt.UTC),
        )
