"""The processor's ingress I/O where the broker has no working transactions (tansu): at least once.

A batch's outputs are produced and acknowledged, then its input offsets are committed. A crash in
between processes the batch again: the repeats carry the same ``ce_id`` (subscribers deduplicate)
and stale versions are dropped by ``bus_sequence`` (DESIGN §8).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from bus.event import topics
from bus.kafka.batch_writer import BatchWriter
from bus.kafka.client import KafkaSettings, make_consumer, make_producer
from bus.processor.outputs import Output

STATE_PREFIX = "state."


def _after_deliveries(topic: str) -> bool:
    """Records that claim work is done: written once the batch's deliveries are acknowledged."""
    return topic.startswith(STATE_PREFIX) or topic == topics.SystemTopic.BACKFILL


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(
        self, on_assigned: Callable[[set[TopicPartition]], None], on_revoked: Callable[[], Awaitable[None]]
    ) -> None:
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._on_revoked()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._on_assigned(set(assigned))


class AtLeastOnceIngress:
    """aiokafka consumer and producer: outputs acknowledged first, offsets committed after."""

    exactly_once = False

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        group_id: str,
        pattern: str,
        max_batch: int,
        before_revoke: Callable[[], Awaitable[None]],
    ) -> None:
        self._pattern = pattern
        self._before_revoke = before_revoke
        self._producer = make_producer(kafka, linger_ms=0)  # whole batches: a linger only delays them
        self._writer = BatchWriter(self._producer)
        self._consumer = make_consumer(
            kafka, group_id=group_id, metadata_max_age_ms=3000, max_poll_records=max_batch
        )
        self._assigned: set[TopicPartition] | None = None
        self._state_queued: asyncio.Future[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        self._consumer.subscribe(
            pattern=self._pattern, listener=_Rebalance(self._assign, self._before_revoke)
        )

    def _assign(self, assigned: set[TopicPartition]) -> None:
        self._assigned = assigned

    def take_assignment(self) -> set[TopicPartition] | None:
        """The partitions assigned since the last call, or None if the assignment did not change."""
        assigned, self._assigned = self._assigned, None
        return assigned

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = await self._consumer.getmany(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return batch

    def write(self, outputs: list[Output], offsets: dict[TopicPartition, int]) -> asyncio.Future[None]:
        """Queue the outputs; the future is done when all are acknowledged (offsets: see ``commit``)."""
        queued: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acks = asyncio.ensure_future(self._write(outputs, self._state_queued, queued))
        self._state_queued = queued
        return acks

    async def _write(
        self, outputs: list[Output], previous: asyncio.Future[None] | None, queued: asyncio.Future[None]
    ) -> None:
        """Deliveries, dead letters and audit first; the state records only once those are acknowledged.

        State says "this key's sequence was applied": written together with the deliveries, a
        crash could keep the state and lose a delivery, and the retry would then drop the event as
        stale. State records go out after the previous batch's (same order per key on the topic).
        Backfill progress waits likewise: "finished" must not be readable before its snapshots are.
        """
        first = [o for o in outputs if not _after_deliveries(o.topic)]
        then = [o for o in outputs if _after_deliveries(o.topic)]
        await asyncio.gather(*await self._writer.write(first))
        if previous is not None:
            await previous
        written = await self._writer.write(then)
        queued.set_result(None)
        await asyncio.gather(*written)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit a batch whose outputs were all acknowledged."""
        await self._consumer.commit(offsets)

    def abandon(self) -> None:
        """After a failure: nothing queued stays chained to the batches that will not be committed."""
        self._state_queued = None

    async def lag(self) -> dict[str, int]:
        """Records behind the high watermark per ingress topic (positions are local)."""
        lag: dict[str, int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - await self._consumer.position(tp))
        return lag

    async def stop(self) -> None:
        try:
            await self._consumer.stop()
        finally:
            await self._producer.stop()
