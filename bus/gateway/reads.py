"""Every read of a person's tracker or consents is itself recorded, on ``bus.audit.reads``.

A topic rather than a table in the archive database: the gateway then needs only *read* access to
the archive (the archiver stays its only writer, which keeps the hash chains meaningful), and
reads share the retention, mirroring and tooling of ``bus.audit``. The read is recorded (broker
ack awaited) *before* the answer is sent: if it cannot be recorded, nothing is shown (fail closed).
See docs/tracker.md.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from aiokafka import AIOKafkaProducer
from pydantic import AwareDatetime, BaseModel, ConfigDict

from bus.directory.model import Principal
from bus.errors import BrokerError
from bus.event.topics import SystemTopic, TopicSpec
from bus.ids import TopicName
from bus.kafka.client import BROKER_UNREACHABLE

READS_TOPIC = TopicName(SystemTopic.AUDIT_READS)


def reads_spec(topic: str = READS_TOPIC) -> TopicSpec:
    """Like ``bus.audit``: three partitions by subject, kept forever."""
    return TopicSpec(TopicName(topic), 3, {"cleanup.policy": "delete", "retention.ms": "-1"})


class ReadKind(StrEnum):
    TRACKER = "tracker"
    CONSENT = "consent"
    PAGE = "page"
    WALLET = "wallet"


class TrackerRead(BaseModel):
    """One read: who (role and agency) looked at which subject, through what, with which filters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time: AwareDatetime
    subject: str
    kind: ReadKind
    reader_role: str
    reader_agency: str | None
    filters: dict[str, str]
    returned: int


class ReadLog:
    """Appends ``TrackerRead`` records (JSON, key = subject) with the gateway's producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: str = READS_TOPIC) -> None:
        self._producer = producer
        self.topic = topic

    async def record(
        self,
        principal: Principal,
        subject: str,
        kind: ReadKind,
        *,
        filters: dict[str, str | None] | None = None,
        returned: int,
    ) -> TrackerRead:
        read = TrackerRead(
            time=dt.datetime.now(dt.UTC),
            subject=subject,
            kind=kind,
            reader_role=principal.role.value,
            reader_agency=principal.agency,
            filters={k: v for k, v in (filters or {}).items() if v is not None},
            returned=returned,
        )
        try:
            await self._producer.send_and_wait(
                self.topic, key=subject.encode(), value=read.model_dump_json().encode()
            )
        except BROKER_UNREACHABLE as exc:
            raise BrokerError(
                f"cannot record this read of {kind} on {self.topic!r}: {type(exc).__name__}",
                hint="every read is audited before it is answered; retry once the broker is reachable",
            ) from None
        return read
