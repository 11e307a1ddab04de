"""read_to_end stops at the Fetch high watermark, because ListOffsets(LATEST) is wrong here."""

from __future__ import annotations

import pytest

from bus.errors import BrokerError
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_producer, read_to_end


async def create(settings: KafkaSettings, name: str, partitions: int) -> None:
    await create_topics(settings, [TopicSpec(TopicName(name), partitions)])


async def test_returns_every_record_across_batches_and_partitions(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    # given 1,000 records written in 10 separate batches over 4 partitions
    topic = f"test.read-to-end.{unique}"
    await create(kafka_settings, topic, 4)
    producer = make_producer(kafka_settings, linger_ms=0)
    await producer.start()
    try:
        for batch in range(10):
            sends = [
                await producer.send(topic, key=f"k{i % 37}".encode(), value=f"{batch}:{i}".encode())
                for i in range(100)
            ]
            for sent in sends:
                await sent
    finally:
        await producer.stop()
    # when the topic is read to its end
    records = await read_to_end(kafka_settings, topic)
    # then every record is there exactly once
    values = sorted(r.value for r in records)
    assert len(values) == 1000
    assert values == sorted(f"{b}:{i}".encode() for b in range(10) for i in range(100))


async def test_per_partition_order_is_kept(kafka_settings: KafkaSettings, unique: str) -> None:
    topic = f"test.read-to-end-order.{unique}"
    await create(kafka_settings, topic, 2)
    producer = make_producer(kafka_settings)
    await producer.start()
    try:
        for i in range(200):
            await producer.send(topic, key=b"same-key", value=str(i).encode())
        await producer.flush()
    finally:
        await producer.stop()
    records = await read_to_end(kafka_settings, topic)
    assert [int(r.value) for r in records] == list(range(200))


async def test_empty_topic_reads_as_empty(kafka_settings: KafkaSettings, unique: str) -> None:
    topic = f"test.read-to-end-empty.{unique}"
    await create(kafka_settings, topic, 3)
    assert await read_to_end(kafka_settings, topic) == []


async def test_missing_topic_is_an_actionable_error(kafka_settings: KafkaSettings, unique: str) -> None:
    with pytest.raises(BrokerError, match="does not exist") as info:
        await read_to_end(kafka_settings, f"test.never-created.{unique}")
    assert "bus topics create" in info.value.hint
