"""The first demo step: one person record change crosses the real broker and comes back.

The production path end to end: the person schema from the registry, envelope headers,
Confluent framing, an acks=all producer, and a read back to the high watermark.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus import topics
from bus.envelope import ChangeKind, Envelope
from bus.ids import SchemaId
from bus.kafka import KafkaSettings, ensure_topics, make_admin, make_producer, read_to_end
from bus.registry.client import RegistryClient
from bus.serde import AvroSerde

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
    "document": {
        "type": "ID_CARD",
        "number": "047129385",
        "issued_on": dt.date(2019, 8, 1),
        "expires_on": dt.date(2029, 7, 31),
        "issuer": "MVD RK",
    },
}


def schemas_dir() -> Path:
    """``schemas/`` of the source tree this package runs from (editable install)."""
    return Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True)
class RoundTrip:
    topic: str
    sent: Envelope
    received: Envelope
    record: dict[str, Any]
    offset: int
    partition: int
    schema_id: int


async def publish_and_read_back(settings: KafkaSettings, registry_url: str) -> RoundTrip:
    """Publish an address change for the sample person and read it back from the broker."""
    topic = topics.ingress(PROVIDER, "person")
    async with RegistryClient(registry_url) as registry:
        latest = await registry.latest(f"{topic}-value")
    schema_id = SchemaId(latest["id"])
    serde = AvroSerde({schema_id: latest["schema"]}.get)
    admin = make_admin(settings)
    await admin.start()
    try:
        await ensure_topics(admin, [topics.spec_for(topic)], replication_factor=settings.replication_factor)
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
            value=serde.encode(schema_id, SAMPLE_PERSON, topic=topic),
            headers=envelope.to_headers(),
        )
    finally:
        await producer.stop()
    for message in await read_to_end(settings, topic):
        received = Envelope.from_headers(message.headers)
        if received.id == envelope.id:
            decoded = serde.decode(message.value, topic=topic)
            assert decoded is not None
            return RoundTrip(
                topic,
                envelope,
                received,
                decoded.record,
                message.offset,
                message.partition,
                decoded.schema_id,
            )
    raise LookupError(f"event {envelope.id} was acknowledged but not found on {topic}")
