"""Ask the processors for a backfill and watch it finish (the driver behind ``bus backfill``)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bus.errors import BrokerError, ConfigError
from bus.event.topics import SystemTopic, ingress, spec_for
from bus.kafka.client import (
    KafkaSettings,
    create_topics,
    make_consumer,
    make_producer,
    read_to_end,
    topic_partitions,
)
from bus.kafka.follow import TopicFollower
from bus.policy.agreement import Agreement
from bus.processor.backfill import BackfillRequest, BackfillView


@dataclass(frozen=True)
class BackfillStatus:
    request: str
    partitions: int
    partitions_done: int
    total: int
    scanned: int
    delivered: int
    denied: int

    @property
    def finished(self) -> bool:
        return self.partitions_done == self.partitions


async def active_agreement(settings: KafkaSettings, agreement_id: str) -> Agreement:
    """The agreement as ``bus.agreements`` holds it now, or an error saying why it cannot be backfilled."""
    latest: dict[str, bytes | None] = {}
    for record in await read_to_end(settings, SystemTopic.AGREEMENTS):
        latest[(record.key or b"").decode()] = record.value
    value = latest.get(agreement_id)
    if value is None:
        state = "was revoked" if agreement_id in latest else "does not exist"
        raise ConfigError(
            f"agreement {agreement_id!r} {state}; only an active agreement can be backfilled",
            hint="apply it first: bus agreements apply <file>",
        )
    return Agreement.model_validate(json.loads(value))


async def _partition_count(settings: KafkaSettings, topic: str) -> int:
    consumer = make_consumer(settings)
    await consumer.start()
    try:
        return len(await topic_partitions(consumer, topic))
    finally:
        await consumer.stop()


async def backfill(
    settings: KafkaSettings,
    agreement_id: str,
    *,
    on_progress: Callable[[BackfillStatus], None] = lambda status: None,
    timeout_s: float = 3600.0,
) -> BackfillStatus:
    """Request a backfill of ``agreement_id`` and wait until every partition's processor reports done."""
    agreement = await active_agreement(settings, agreement_id)
    topic = ingress(agreement.provider, agreement.record_type)
    partitions = await _partition_count(settings, topic)
    request = BackfillRequest(id=str(uuid.uuid4()), agreement=agreement.id, requested_at=datetime.now(UTC))
    if partitions == 0:
        return BackfillStatus(request.id, 0, 0, 0, 0, 0, 0)
    await create_topics(settings, [spec_for(SystemTopic.BACKFILL)])
    view = BackfillView()
    follower = TopicFollower(settings, SystemTopic.BACKFILL, view.apply)
    await follower.start()
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            SystemTopic.BACKFILL, key=request.id.encode(), value=request.model_dump_json().encode()
        )
        deadline = time.monotonic() + timeout_s
        while True:
            status = _status(view, request.id, partitions)
            on_progress(status)
            if status.finished:
                # the request is done everywhere: retire it so new workers do not look at it again
                await producer.send_and_wait(SystemTopic.BACKFILL, key=request.id.encode(), value=None)
                return status
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"backfill of {agreement.id!r} not finished after {timeout_s:.0f} s "
                    f"({status.partitions_done}/{partitions} partitions of {topic} done)",
                    hint="check that `bus processor run` (or `bus up`) is running; re-running is safe",
                )
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        await follower.stop()


def _status(view: BackfillView, request: str, partitions: int) -> BackfillStatus:
    found = [view.progress[(request, p)] for p in range(partitions) if (request, p) in view.progress]
    return BackfillStatus(
        request,
        partitions,
        sum(1 for p in found if p.done),
        sum(p.total for p in found),
        sum(p.scanned for p in found),
        sum(p.delivered for p in found),
        sum(p.denied for p in found),
    )
