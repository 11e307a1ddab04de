"""What a plain Kafka client (librdkafka or aiokafka, not the bus's SDK) can do with a login.

Each probe answers ``"ok"`` (or ``"record"`` for a read that got one) or the name of the error the
broker gave, e.g. ``"TOPIC_AUTHORIZATION_FAILED"``, so a spec can compare answers with ``==``.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicCollection
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

Config = dict[str, str | int | float | bool]
DENIED = "TOPIC_AUTHORIZATION_FAILED"


def _name(error: KafkaError) -> str:
    return str(error.name())


def _outcome(future: Future[Any]) -> str:
    try:
        future.result(timeout=20)
    except KafkaException as exc:
        return _name(exc.args[0])
    return "ok"


async def read(config: Config, topic: str) -> str:
    """Describe the topic (librdkafka admin), then fetch partition 0 from offset 0 (aiokafka, no group)."""
    admin = AdminClient(config)  # held while its futures run: librdkafka cancels them when it goes
    seen = await asyncio.to_thread(_outcome, admin.describe_topics(TopicCollection([topic]))[topic])
    if seen != "ok":
        return seen
    consumer = aiokafka_consumer(config)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, 0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if await consumer.getmany(partition, timeout_ms=500):
                return "record"
        return "nothing"
    except TopicAuthorizationFailedError:
        return DENIED
    finally:
        await consumer.stop()


def aiokafka_consumer(config: Config) -> AIOKafkaConsumer:
    """A plain aiokafka consumer with no group, logged in as ``config`` says."""
    return AIOKafkaConsumer(
        bootstrap_servers=str(config["bootstrap.servers"]),
        security_protocol=str(config["security.protocol"]),
        sasl_mechanism=str(config["sasl.mechanism"]),
        sasl_plain_username=str(config["sasl.username"]),
        sasl_plain_password=str(config["sasl.password"]),
        enable_auto_commit=False,
    )


def consume(config: Config, topic: str, group: str, *, seconds: float = 10.0) -> str:
    """Join ``group`` and read ``topic`` (librdkafka): the first record or error."""
    consumer = Consumer(
        {**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None:
                error = message.error()
                return _name(error) if error is not None else "record"
        return "nothing"
    finally:
        consumer.close()


def write(config: Config, topic: str, value: bytes = b"forged") -> str:
    """Produce one record and wait for its delivery report."""
    reports: list[KafkaError | None] = []
    producer = Producer({**config, "message.timeout.ms": 15000})
    producer.produce(
        topic, key=b"900514300001", value=value, on_delivery=lambda error, _: reports.append(error)
    )
    producer.flush(20)
    [error] = reports
    return "ok" if error is None else _name(error)


def create_topic(config: Config, topic: str) -> str:
    admin = AdminClient(config)
    return _outcome(admin.create_topics([NewTopic(topic, 1, 1)])[topic])


def delete_topic(config: Config, topic: str) -> str:
    admin = AdminClient(config)
    return _outcome(admin.delete_topics([topic])[topic])


def alter_config(config: Config, topic: str) -> str:
    change = ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[change])
    admin = AdminClient(config)
    return _outcome(admin.incremental_alter_configs([resource])[resource])


def create_acl(config: Config, principal: str, topic: str) -> str:
    binding = AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        principal,
        "*",
        AclOperation.READ,
        AclPermissionType.ALLOW,
    )
    admin = AdminClient(config)
    return _outcome(admin.create_acls([binding])[binding])


def connect(config: Config) -> tuple[str, list[str]]:
    """Ask for metadata: "ok" or the failure, and every error librdkafka reported on the way."""
    errors: list[str] = []
    consumer = Consumer({**config, "group.id": "probe", "error_cb": lambda e: errors.append(_name(e))})
    try:
        consumer.list_topics(timeout=8)
        return "ok", errors
    except KafkaException as exc:
        return _name(exc.args[0]), errors
    finally:
        consumer.close()
