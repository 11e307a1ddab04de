"""``transactions``: what a Kafka transaction per batch costs at the I/O ceiling, and which client can
make the processor's read-process-write exactly once (#21); Apache Kafka only.

Three consume → produce → commit loops over the same backlog, each with a group and an output topic of
its own, one batch (up to 2,000 records) per step:

- ``at_least_once``: aiokafka, the acks then the commit (what the processor does today), the baseline;
- ``aiokafka_txn``: aiokafka, one transaction per batch with its offsets, which aiokafka sends with the
  group id only (TxnOffsetCommit without generation or member: no KIP-447 fencing of a zombie);
- ``librdkafka_txn``: confluent-kafka, one transaction per batch with its offsets sent with the
  consumer's group metadata (KIP-447), in a thread, as librdkafka's API is blocking.

Each output is then read with read_committed and must hold the backlog exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.world import World
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import (
    KafkaSettings,
    create_topics,
    librdkafka_config,
    make_consumer,
    make_producer,
    read_to_end,
)

PARTITIONS = 6
BATCH = 2000
RECORD = b"x" * 600  # about a person delivery's size


async def run(count: int) -> dict[str, Any]:
    async with World() as world:
        if world.admin is None:
            return {"skipped": "tansu's transactions are broken (DESIGN §7)"}
        settings = world.admin  # transactional ids need a grant no bench identity has; the super user
        run_id = uuid.uuid4().hex[:8]
        source = TopicName(f"bench.txn.{run_id}.source")
        await create_topics(settings, [TopicSpec(source, PARTITIONS)])
        await _fill(settings, source, count)
        results: dict[str, Any] = {"count": count}
        for name in ("at_least_once", "aiokafka_txn", "librdkafka_txn"):
            output = TopicName(f"bench.txn.{run_id}.{name}")
            await create_topics(settings, [TopicSpec(output, PARTITIONS)])
            group = f"bench-txn-{run_id}-{name}"
            started = time.perf_counter()
            if name == "librdkafka_txn":
                await asyncio.to_thread(_librdkafka_loop, settings, source, output, group, count)
            else:
                await _aiokafka_loop(settings, source, output, group, count, name == "aiokafka_txn")
            seconds = time.perf_counter() - started
            committed = len(await read_to_end(settings, output))
            results[name] = {"events_per_s": round(count / seconds), "committed_outputs": committed}
        baseline = results["at_least_once"]["events_per_s"]
        for name in ("aiokafka_txn", "librdkafka_txn"):
            results[name]["ratio_to_at_least_once"] = round(results[name]["events_per_s"] / baseline, 2)
        return results


async def _fill(settings: KafkaSettings, topic: str, count: int) -> None:
    producer = make_producer(settings, linger_ms=5)
    await producer.start()
    try:
        for n in range(count):
            await producer.send(topic, key=str(n % 997).encode(), value=RECORD)
        await producer.flush()
    finally:
        await producer.stop()


async def _aiokafka_loop(
    settings: KafkaSettings, source: str, output: str, group: str, count: int, transactional: bool
) -> None:
    consumer = make_consumer(settings, source, group_id=group, max_poll_records=BATCH)
    extra = {"transactional_id": group} if transactional else {}
    producer = make_producer(settings, **extra)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        while done < count:
            batch = await consumer.getmany(timeout_ms=100, max_records=BATCH)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            offsets = {tp: rs[-1].offset + 1 for tp, rs in batch.items() if rs}
            if transactional:
                async with producer.transaction():
                    for r in records:
                        await producer.send(output, key=r.key, value=r.value)
                    await producer.send_offsets_to_transaction(offsets, group)
            else:
                sends = [await producer.send(output, key=r.key, value=r.value) for r in records]
                await asyncio.gather(*sends)
                await consumer.commit(offsets)
            done += len(records)
    finally:
        await producer.stop()
        await consumer.stop()


def _librdkafka_loop(settings: KafkaSettings, source: str, output: str, group: str, count: int) -> None:
    base = librdkafka_config(settings)
    consumer = Consumer(
        {
            **base,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    producer = Producer({**base, "transactional.id": group, "linger.ms": 5})
    consumer.subscribe([source])
    producer.init_transactions()
    try:
        done = 0
        while done < count:
            records = [m for m in consumer.consume(BATCH, timeout=0.1) if m.error() is None]
            if not records:
                continue
            producer.begin_transaction()
            for m in records:
                producer.produce(output, key=m.key(), value=m.value())
            ends = {(str(m.topic()), m.partition() or 0): (m.offset() or 0) + 1 for m in records}
            producer.send_offsets_to_transaction(
                [TopicPartition(t, p, o) for (t, p), o in ends.items()],
                consumer.consumer_group_metadata(),
            )
            producer.commit_transaction()
            done += len(records)
    finally:
        consumer.close()
