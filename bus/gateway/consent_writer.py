"""Write a citizen's consent decision to ``bus.consent`` (compacted; key = subject+consumer+purpose)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, make_producer
from bus.policy.consent import ConsentRecord, consent_key


async def send_consent(producer: AIOKafkaProducer, record: ConsentRecord) -> RecordMetadata:
    """With a running producer (the gateway's); returns where the broker stored it."""
    metadata: RecordMetadata = await producer.send_and_wait(
        SystemTopic.CONSENT,
        key=consent_key(record.subject, record.consumer, record.purpose).encode(),
        # unset optional fields left out: a grant without an end is written exactly as before ends
        # existed, so processors not yet upgraded keep reading bus.consent during a rolling upgrade
        value=record.model_dump_json(exclude_none=True).encode(),
    )
    return metadata


async def record_consent(settings: KafkaSettings, record: ConsentRecord) -> None:
    """Returns once the broker acknowledged it; processors apply it to the next event."""
    producer = make_producer(settings)
    await producer.start()
    try:
        await send_consent(producer, record)
    finally:
        await producer.stop()
