"""How large one record may be: the producer's ``max_request_size`` and the topic's ``max.message.bytes``.

aiokafka refuses to queue a record whose batch would exceed ``max_request_size``
(``MessageSizeTooLargeError``), and the broker refuses a batch larger than the topic's
``max.message.bytes``. A caller that checks each record against the smaller of the two before
sending anything never builds a produce request it cannot send: aiokafka puts records into
batches of at most ``max_batch_size`` and a record larger than that into a batch of its own.

The topic's limit is read once per topic with DescribeConfigs. A broker that reports none (tansu
enforces no limit and reports only the configs a topic was created with) or may not be asked
(an ACL without DescribeConfigs) gets Apache Kafka's default, so a record that one engine takes
is taken by the other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from bus.kafka.client import MAX_REQUEST_BYTES, KafkaSettings, as_bus_error, make_admin

log = logging.getLogger(__name__)

KAFKA_MAX_MESSAGE_BYTES = 1_048_588
"""Apache Kafka's default ``message.max.bytes`` (broker) and ``max.message.bytes`` (topic)."""

MAX_MESSAGE_BYTES_CONFIG = "max.message.bytes"

DEFAULT_RECORD_LIMIT = min(MAX_REQUEST_BYTES, KAFKA_MAX_MESSAGE_BYTES)
"""The largest record a bus producer may send to a topic with Kafka's default limit: known offline."""


def record_bytes(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> int:
    """The size aiokafka and the broker count for this record alone in its batch, headers included."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers)))


class RecordLimits:
    """The largest record each topic takes from this producer; asks the broker once per topic."""

    def __init__(self, settings: KafkaSettings, *, max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        self._settings = settings
        self._max_request_bytes = max_request_bytes
        self._known: dict[str, int] = {}

    async def limit(self, topic: str) -> int:
        """min(producer ``max_request_size``, topic ``max.message.bytes``) in bytes."""
        known = self._known.get(topic)
        if known is None:
            topic_limit, final = await self._topic_limit(topic)
            known = min(self._max_request_bytes, topic_limit)
            if final:
                self._known[topic] = known
        return known

    async def _topic_limit(self, topic: str) -> tuple[int, bool]:
        """The topic's ``max.message.bytes`` and whether it is worth remembering."""
        admin = make_admin(self._settings)
        try:
            await admin.start()
            [response] = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic)]  # all: tansu drops a filtered ask
            )
        except KafkaError as exc:
            raise as_bus_error(exc, bootstrap=self._settings.bootstrap) from None
        finally:
            await admin.close()
        [resource] = response.to_object()["resources"]
        if resource["error_code"] != 0:  # no such topic yet, or no DescribeConfigs permission
            log.warning(
                "cannot read max.message.bytes of topic %r (error %s: %s); assuming Kafka's default %d",
                topic,
                resource["error_code"],
                resource["error_message"],
                KAFKA_MAX_MESSAGE_BYTES,
            )
            return KAFKA_MAX_MESSAGE_BYTES, False
        for entry in resource["config_entries"]:
            if entry["config_names"] == MAX_MESSAGE_BYTES_CONFIG and entry["config_value"]:
                return int(entry["config_value"]), True
        return KAFKA_MAX_MESSAGE_BYTES, True
