"""An event built with the envelope and serde crosses the real embedded broker unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiokafka import TopicPartition

from bus.event import topics
from bus.event.envelope import ChangeKind, Envelope
from bus.event.serde import AvroSerde
from bus.ids import SchemaId
from bus.kafka.client import KafkaSettings, create_topics, make_consumer, make_producer

PERSON_ID = SchemaId(1)
TOPIC = topics.ingress("civil-registry", "person")
IIN = "851122404567"
PERSON = {
    "iin": IIN,
    "surname": "Sadykova",
    "given_name": "Aigerim",
    "patronymic": None,
    "birth_date": dt.date(1985, 11, 22),
    "sex": "FEMALE",
    "citizenship": "KAZ",
    "registered_address": {
        "region": "Almaty",
        "district": None,
        "settlement": "Almaty",
        "street": "Abay",
        "building": "150",
        "apartment": "31",
        "ark_code": "0201500031",
    },
    "phone": "+77071234567",
    "document": {
        "type": "ID_CARD",
        "number": "043512789",
        "issued_on": dt.date(2021, 3, 9),
        "expires_on": dt.date(2031, 3, 8),
        "issuer": "MVD RK",
    },
}


@pytest.fixture
async def person_topic(kafka_settings: KafkaSettings) -> str:
    await create_topics(kafka_settings, [topics.spec_for(TOPIC)])
    return TOPIC


async def produce_and_fetch(
    settings: KafkaSettings, topic: str, key: bytes, value: bytes | None, envelope: Envelope
) -> Any:
    producer = make_producer(settings)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, key=key, value=value, headers=envelope.to_headers())
    finally:
        await producer.stop()
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        tp = TopicPartition(topic, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        batch = await consumer.getone()
    finally:
        await consumer.stop()
    return batch


async def test_updated_person_round_trips_headers_key_and_value(
    kafka_settings: KafkaSettings, person_topic: str, person_schema: dict[str, Any]
) -> None:
    # given an address change built with the envelope and encoded with the serde
    serde = AvroSerde({PERSON_ID: person_schema}.get)
    sent = Envelope.new(
        provider="civil-registry",
        system="gbd-fl",
        record_name="gov.civil.Person",
        kind=ChangeKind.UPDATED,
        subject=IIN,
        sequence=3,
        changed=["registered_address"],
    )
    # when it is produced to ingress.civil-registry.person and consumed back
    message = await produce_and_fetch(
        kafka_settings,
        person_topic,
        IIN.encode(),
        serde.encode(PERSON_ID, PERSON, topic=person_topic),
        sent,
    )
    # then key, headers and decoded value equal what was sent
    decoded = serde.decode(message.value, topic=person_topic)
    assert message.key == IIN.encode()
    assert Envelope.from_headers(message.headers) == sent
    assert decoded is not None
    assert decoded.record == PERSON


async def test_tombstone_round_trips_as_a_delete(
    kafka_settings: KafkaSettings, person_topic: str, person_schema: dict[str, Any]
) -> None:
    # given a delete: null value, ce_type ...deleted
    serde = AvroSerde({PERSON_ID: person_schema}.get)
    sent = Envelope.new(
        provider="civil-registry",
        system="gbd-fl",
        record_name="gov.civil.Person",
        kind=ChangeKind.DELETED,
        subject=IIN,
        sequence=4,
    )
    # when it crosses the broker
    message = await produce_and_fetch(kafka_settings, person_topic, IIN.encode(), None, sent)
    # then it is still a tombstone with a deleted envelope
    received = Envelope.from_headers(message.headers)
    assert message.value is None
    assert serde.decode(message.value, topic=person_topic) is None
    assert received.kind is ChangeKind.DELETED
    assert received == sent
