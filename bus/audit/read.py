"""Read audit entries back from ``bus.audit`` (decoded with the schema ids the registry holds)."""

from __future__ import annotations

from typing import Any

from bus.errors import WireFormatError
from bus.event.serde import AvroSerde, unframe
from bus.event.topics import SystemTopic
from bus.ids import SchemaId
from bus.kafka.client import KafkaSettings, read_to_end
from bus.registry.client import RegistryClient


async def read_audit(settings: KafkaSettings, registry_url: str) -> list[dict[str, Any]]:
    """Every audit entry on the topic, oldest first per partition; undecodable lines are skipped."""
    records = await read_to_end(settings, SystemTopic.AUDIT)
    texts: dict[SchemaId, str] = {}
    async with RegistryClient(registry_url) as registry:
        for record in records:
            if record.value and len(record.value) >= 5:
                schema_id = unframe(record.value)[0]
                if schema_id not in texts:
                    texts[schema_id] = await registry.schema(schema_id)
    serde = AvroSerde(texts.get)
    entries = []
    for record in records:
        try:
            decoded = serde.decode(record.value, topic=SystemTopic.AUDIT)
        except WireFormatError:
            continue
        if decoded is not None:
            entries.append(decoded.record)
    return entries
