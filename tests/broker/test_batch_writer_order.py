"""Writes queued one after another keep their order per key, however the producer's queues stall."""

from __future__ import annotations

import asyncio
import random

from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.batch_writer import BatchWriter
from bus.kafka.client import KafkaSettings, create_topics, iter_to_end, make_producer
from bus.processor.outputs import Output

KEYS = [f"{900000000000 + n * 7919}".encode() for n in range(60)]
WRITES = 40


def _outputs(topic: TopicName, write: int, rng: random.Random) -> list[Output]:
    """One output per key, in a shuffled key order: each write meets the partitions in its own order."""
    keys = KEYS[:]
    rng.shuffle(keys)
    return [Output(topic, key, f"{write}".encode() * 200, []) for key in keys]


async def test_overlapping_writes_keep_each_keys_order(kafka_settings: KafkaSettings, unique: str) -> None:
    # given a topic with several partitions and a writer on one producer
    topic = TopicName(f"deliver.order-{unique}.a")
    await create_topics(kafka_settings, [TopicSpec(topic, 4)])
    producer = make_producer(kafka_settings)
    await producer.start()
    writer = BatchWriter(producer)
    rng = random.Random(7)
    try:
        # when 40 writes are started one after another without waiting for the previous one
        # (as the processor does with batches in flight)
        writes = [asyncio.ensure_future(writer.write(_outputs(topic, n, rng))) for n in range(WRITES)]
        for futures in await asyncio.gather(*writes):
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    # then every key's records are on the topic in the order the writes were started
    seen: dict[bytes, list[int]] = {}
    async for records in iter_to_end(kafka_settings, topic):
        for record in records:
            assert record.key is not None
            assert record.value is not None
            seen.setdefault(record.key, []).append(int(record.value[: len(record.value) // 200]))
    assert sorted(seen) == sorted(KEYS)
    assert all(writes_ == list(range(WRITES)) for writes_ in seen.values())
