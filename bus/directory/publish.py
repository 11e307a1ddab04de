"""Write directory entries to ``bus.agencies`` (compacted; latest per agency id wins)."""

from __future__ import annotations

from bus.directory.model import AgencyEntry
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, make_producer


async def put_agency(settings: KafkaSettings, entry: AgencyEntry) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            SystemTopic.AGENCIES, key=entry.id.encode(), value=entry.model_dump_json().encode()
        )
    finally:
        await producer.stop()
