"""Produce records as one record batch per (topic, partition), keeping their order.

Used by the processor for a batch's outputs and by the publisher SDK to drain its spool.

aiokafka's per-record ``send()`` costs ~40 µs of Python per record (partitioner, size checks,
a future each); building the record batches directly (``create_batch``/``send_batch``) is
measured at 2 to 6 times the throughput (DESIGN §7). The partition is chosen here with the partitioner
``send()`` would use (aiokafka's ``DefaultPartitioner``: murmur2 of the key, as the Java client
does), so a key lands where ``send()`` would have put it and ingress, state and delivery topics
stay co-partitioned. Records for one (topic, partition) go out in the order given, and whole
writes are queued one at a time, so per-partition order is what a sequence of ``send()`` calls gives.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from aiokafka.partitioner import murmur2

from bus.errors import BrokerError

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer


class Outgoing(Protocol):
    """A record to produce: the processor's ``Output``, or an event drained from a publisher's spool."""

    @property
    def topic(self) -> str: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


def partition_for(key: bytes | None, partitions: Sequence[int]) -> int:
    """The partition ``DefaultPartitioner`` picks for ``key`` among the sorted ``partitions``."""
    if key is None:
        return random.choice(partitions)
    return partitions[(int(murmur2(key)) & 0x7FFFFFFF) % len(partitions)]


class BatchWriter:
    """Hands records to a producer as record batches; ``write`` returns one future per batch."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._queueing = asyncio.Lock()

    async def write(self, outputs: Sequence[Outgoing]) -> list[asyncio.Future[object]]:
        """Queue every output; await the returned futures to know all were acknowledged.

        One write queues at a time: ``send_batch`` waits while a partition's queue is full, and a
        write started later would otherwise put its batch for another partition ahead of ours.
        """
        async with self._queueing:
            return await self._queue(outputs)

    async def _queue(self, outputs: Sequence[Outgoing]) -> list[asyncio.Future[object]]:
        producer = self._producer
        partitions: dict[str, list[int]] = {}
        for name in {o.topic for o in outputs}:
            partitions[name] = sorted(await producer.partitions_for(name))
        hashes: dict[bytes, int] = {}  # a key's outputs (delivery, state, audit) share its hash
        by_partition: dict[tuple[str, int], list[Outgoing]] = {}
        for output in outputs:
            owned = partitions[output.topic]
            key = output.key
            if key is None:
                number = partition_for(None, owned)
            else:
                hashed = hashes.get(key)
                if hashed is None:
                    hashed = hashes[key] = int(murmur2(key)) & 0x7FFFFFFF
                number = owned[hashed % len(owned)]
            by_partition.setdefault((output.topic, number), []).append(output)
        futures: list[asyncio.Future[object]] = []
        for (topic, number), group in by_partition.items():
            batch, count = producer.create_batch(), 0
            for output in group:
                if batch.append(key=output.key, value=output.value, timestamp=None, headers=output.headers):
                    count += 1
                    continue
                if count == 0:
                    raise _too_large(topic, output)
                batch.close()
                futures.append(await producer.send_batch(batch, topic, partition=number))
                batch, count = producer.create_batch(), 1
                if not batch.append(
                    key=output.key, value=output.value, timestamp=None, headers=output.headers
                ):
                    raise _too_large(topic, output)
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=number))
        return futures


def _too_large(topic: str, output: Outgoing) -> BrokerError:
    return BrokerError(
        f"a record for {topic!r} ({len(output.value or b'')} bytes) does not fit in one producer batch",
        hint="raise the producer's max_batch_size, or send smaller records",
    )
