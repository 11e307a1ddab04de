"""The durable embedded broker keeps records, headers, topics and offsets across restarts."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from bus.broker.datadir import DataDirInUse
from bus.broker.embedded import EmbeddedBroker
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import (
    KafkaSettings,
    create_topics,
    make_admin,
    make_consumer,
    make_producer,
    read_to_end,
)

TOPIC = "durability.check"
GROUP = "durability-group"


async def create_topic(settings: KafkaSettings, partitions: int = 3) -> None:
    await create_topics(settings, [TopicSpec(TopicName(TOPIC), partitions)])


async def produce(settings: KafkaSettings, start: int, count: int, *, partition: int | None = None) -> None:
    """Produce ``count`` acknowledged records numbered from ``start``, each with a header."""
    producer = make_producer(settings)
    await producer.start()
    try:
        futures = [
            await producer.send(
                TOPIC,
                key=f"k{i % 17}".encode(),
                value=f"v{i}".encode(),
                headers=[("ce_id", f"id-{i}".encode())],
                partition=partition,
            )
            for i in range(start, start + count)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def consume_and_commit(settings: KafkaSettings, count: int) -> dict[int, int]:
    consumer = make_consumer(settings, TOPIC, group_id=GROUP)
    await consumer.start()
    try:
        seen = 0
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=count - seen)
            seen += sum(len(records) for records in batch.values())
        await consumer.commit()
        return {tp.partition: await consumer.position(tp) for tp in consumer.assignment()}
    finally:
        await consumer.stop()


async def committed_offsets(settings: KafkaSettings, partitions: int = 3) -> dict[int, int]:
    consumer = make_consumer(settings, group_id=GROUP)
    await consumer.start()
    try:
        result = {}
        for p in range(partitions):
            offset = await consumer.committed(TopicPartition(TOPIC, p))
            if offset is not None:
                result[p] = offset
        return result
    finally:
        await consumer.stop()


def values(records: list[ConsumerRecord[bytes, bytes]]) -> list[bytes]:
    return sorted(r.value for r in records)


def expected(count: int) -> list[bytes]:
    return sorted(f"v{i}".encode() for i in range(count))


async def test_records_headers_topics_and_offsets_survive_a_clean_restart(tmp_path: Path) -> None:
    # given a durable broker with a topic, 300 records with headers and a committed group
    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        await create_topic(broker.settings())
        await produce(broker.settings(), 0, 300)
        positions = await consume_and_commit(broker.settings(), 120)
    # when it is stopped with SIGTERM and started again on the same data dir
    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        settings = broker.settings()
        admin = make_admin(settings)
        await admin.start()
        topics = await admin.list_topics()
        await admin.close()
        records = await read_to_end(settings, TOPIC)
        offsets = await committed_offsets(settings)
    # then topic, records, headers and committed offsets are all there
    assert TOPIC in topics
    assert values(records) == expected(300)
    assert all(r.headers == (("ce_id", b"id-" + r.value[1:]),) for r in records)
    assert offsets == positions


async def test_records_survive_an_object_store_restart(tmp_path: Path) -> None:
    # given a durable broker that already holds records
    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        await create_topic(broker.settings())
        await produce(broker.settings(), 0, 200)
        # when only its object store restarts (same port) and more records follow
        store = broker.object_store
        assert store is not None
        await store.stop()
        await store.start()
        await produce(broker.settings(), 200, 200)
        # then the broker serves all of them
        assert values(await read_to_end(broker.settings(), TOPIC)) == expected(400)
    # and so does a cold start afterwards
    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        assert values(await read_to_end(broker.settings(), TOPIC)) == expected(400)


async def test_acknowledged_records_survive_sigkill_of_broker_and_store(tmp_path: Path) -> None:
    # given 500 acknowledged records
    broker = EmbeddedBroker(data_dir=tmp_path)
    await broker.start()
    await create_topic(broker.settings())
    await produce(broker.settings(), 0, 500)
    positions = await consume_and_commit(broker.settings(), 100)
    # when both processes are killed without warning
    store = broker.object_store
    assert store is not None
    assert broker.pid is not None
    assert store.pid is not None
    os.kill(broker.pid, signal.SIGKILL)
    os.kill(store.pid, signal.SIGKILL)
    await broker.stop()
    # then a cold start finds every acknowledged record and the committed offsets
    async with EmbeddedBroker(data_dir=tmp_path) as restarted:
        assert values(await read_to_end(restarted.settings(), TOPIC)) == expected(500)
        assert await committed_offsets(restarted.settings()) == positions


async def test_concurrent_producers_to_one_partition_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    # given 16 producers writing to the same partition, 250 records each, twice,
    # with a broker restart in between
    async def round_of_producers(settings: KafkaSettings, round_no: int) -> None:
        await asyncio.gather(
            *(produce(settings, (round_no * 16 + p) * 250, 250, partition=0) for p in range(16))
        )

    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        await create_topic(broker.settings(), partitions=1)
        await round_of_producers(broker.settings(), 0)
    async with EmbeddedBroker(data_dir=tmp_path) as broker:
        await round_of_producers(broker.settings(), 1)
        records = await read_to_end(broker.settings(), TOPIC)
    # then all 8,000 acknowledged records are readable, none twice
    assert len(records) == 8000
    assert values(records) == expected(8000)


async def test_second_broker_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    async with EmbeddedBroker(data_dir=tmp_path):
        with pytest.raises(DataDirInUse, match="already in use"):
            async with EmbeddedBroker(data_dir=tmp_path):
                pass
