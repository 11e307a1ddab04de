"""The first demo step: one person record change crosses the real broker and comes back.

Until the schema registry lands, the demo numbers the schemas of ``schemas/`` itself
(id 1 = person); everything else is the production path: envelope, Confluent framing,
acks=all producer, read back to the high watermark.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus import topics
from bus.envelope import ChangeKind, Envelope
from bus.ids import SchemaId
from bus.kafka import KafkaSettings, make_admin, make_producer, read_to_end
from bus.serde import AvroSerde

PERSON_SCHEMA_ID = SchemaId(1)
PROVIDER = "civil-registry"

SAMPLE_PERSON: dict[str, Any] = {
    "iin": "900514301239",
    "surname": "Abenov",
    "given_name": "Nurlan",
    "patronymic": "Serikuly",
    "birth_date": dt.date(1990, 5, 14),
    "sex": "MALE",
    "citizenship": "KAZ",
    "registered_address": {
        "region": "Akmola",
        "district": "Tselinograd",
        "settlement": "Kosshy",
        "street": "Respublika",
        "building": "12",
        "apartment": "4",
        "ark_code": None,
    },
    "phone": None,
}


def schemas_dir() -> Path:
    """``schemas/`` of the source tree this package runs from (editable install)."""
    return Path(__file__).resolve().parents[2] / "schemas"


def person_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((schemas_dir() / "civil" / "person.avsc").read_text())
    return schema


@dataclass(frozen=True)
class RoundTrip:
    topic: str
    sent: Envelope
    received: Envelope
    record: dict[str, Any]
    offset: int
    partition: int


async def publish_and_read_back(settings: KafkaSettings) -> RoundTrip:
    """Publish an address change for the sample person and read it back from the broker."""
    serde = AvroSerde({PERSON_SCHEMA_ID: person_schema()}.get)
    topic = topics.ingress(PROVIDER, "person")
    admin = make_admin(settings)
    await admin.start()
    try:
        await topics.ensure_topics(
            admin, [topics.spec_for(topic)], replication_factor=settings.replication_factor
        )
    finally:
        await admin.close()
    envelope = Envelope.new(
        provider=PROVIDER,
        system="gbd-fl",
        record_name="gov.civil.Person",
        kind=ChangeKind.UPDATED,
        subject=SAMPLE_PERSON["iin"],
        sequence=1,
        changed=["registered_address"],
    )
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            key=envelope.subject.encode(),
            value=serde.encode(PERSON_SCHEMA_ID, SAMPLE_PERSON, topic=topic),
            headers=envelope.to_headers(),
        )
    finally:
        await producer.stop()
    for message in await read_to_end(settings, topic):
        received = Envelope.from_headers(message.headers)
        if received.id == envelope.id:
            decoded = serde.decode(message.value, topic=topic)
            assert decoded is not None
            return RoundTrip(topic, envelope, received, decoded.record, message.offset, message.partition)
    raise LookupError(f"event {envelope.id} was acknowledged but not found on {topic}")
