"""A batch whose handling fails is fetched again, never skipped (the archiver's and wallet's retry)."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_consumer, make_producer, replayed_on_failure


async def test_a_batch_that_failed_is_returned_again_by_the_next_fetch(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    # given ten records on a two-partition topic and a consumer that fetched them
    topic = f"test-replay-{unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(topic), 2)])
    producer = make_producer(kafka_settings)
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(topic, key=f"k{n}".encode(), value=f"v{n}".encode())
    finally:
        await producer.stop()
    consumer = make_consumer(kafka_settings, group_id=f"test-replay-{unique}")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        first: dict[TopicPartition, list[object]] = {}
        while sum(len(r) for r in first.values()) < 10:
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                first.setdefault(tp, []).extend(records)
        # when handling them fails inside replayed_on_failure
        with pytest.raises(RuntimeError), replayed_on_failure(consumer, first):
            raise RuntimeError("the database is down")
        # then the next fetches return the same records again
        again: list[bytes] = []
        while len(again) < 10:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                again += [r.value for r in records]
    finally:
        await consumer.stop()
    assert sorted(again) == sorted(f"v{n}".encode() for n in range(10))
