"""A stopped consumer leaves its group, so a restarted component is not held up by its own ghost."""

from __future__ import annotations

from bus.broker.engine import Engine
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics, make_admin, make_consumer
from tests.engine import ENGINE


async def _join_then_stop(settings: KafkaSettings, topic: str, group: str) -> int:
    consumer = make_consumer(settings, group_id=group)
    await consumer.start()
    try:
        consumer.subscribe([topic])
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        return int(consumer._coordinator.generation)
    finally:
        await consumer.stop()


async def _members(settings: KafkaSettings, group: str) -> tuple[str, list[object]]:
    admin = make_admin(settings)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    [(_, _, state, _, _, members)] = response.groups
    return state, list(members)


async def test_a_consumer_stopped_in_its_groups_first_generation_leaves_the_group(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    # given a topic and a group nobody has joined yet
    topic, group = f"test-leave-{unique}", f"test-leave-{unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(topic), 2)])
    # when a consumer joins (tansu numbers this first generation 0, which aiokafka would not leave
    # from without the adapter's fix; Kafka numbers it 1) and stops
    generation = await _join_then_stop(kafka_settings, topic, group)
    # then it has left: the group is empty, and the next member need not wait for its session to expire
    assert generation == (1 if ENGINE is Engine.KAFKA else 0)
    assert await _members(kafka_settings, group) == ("Empty", [])
