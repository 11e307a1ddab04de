"""An idle consumer fetches with a long wait, and the first record brings the short wait back (#25)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka import client
from bus.kafka.client import (
    KafkaSettings,
    consumer_config,
    create_topics,
    idle_fetch_wait_ms,
    make_consumer,
    make_producer,
)


def _wait_of_next_fetch(consumer: AIOKafkaConsumer) -> int:
    return int(consumer._fetcher._fetch_max_wait_ms)


async def _quiet_until_idle(consumer: AIOKafkaConsumer) -> None:
    for _ in range(20):
        assert await consumer.getmany(timeout_ms=100) == {}
    await asyncio.sleep(client.IDLE_AFTER_S)
    assert await consumer.getmany(timeout_ms=100) == {}


async def test_a_quiet_consumer_waits_longer_and_a_record_makes_it_quick_again(
    kafka_settings: KafkaSettings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an empty topic and a consumer that has read nothing for longer than IDLE_AFTER_S
    monkeypatch.setattr(client, "IDLE_AFTER_S", 0.5)
    topic = f"test-idle-{unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(topic), 1)])
    consumer = make_consumer(kafka_settings)
    await consumer.start()
    producer = make_producer(kafka_settings)
    await producer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        busy = consumer_config(kafka_settings)["fetch_max_wait_ms"]
        assert _wait_of_next_fetch(consumer) == busy
        await _quiet_until_idle(consumer)
        # then its fetches wait the idle time
        assert _wait_of_next_fetch(consumer) == idle_fetch_wait_ms(kafka_settings) > busy
        # when a record arrives
        await producer.send_and_wait(topic, b"after a quiet spell")
        received: list[bytes | None] = []
        while not received:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                received += [r.value for r in records]
    finally:
        await producer.stop()
        await consumer.stop()
    # then it is delivered, and the consumer is back to the short wait
    assert received == [b"after a quiet spell"]
    assert _wait_of_next_fetch(consumer) == busy
