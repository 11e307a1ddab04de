"""A webhook world: one receiving agency with a webhook, its delivery topic, a real receiver.

Deliveries are produced the way the processor writes them (Confluent-framed projection
registered in the real registry, ``delivery_headers``, signed with a registered processor key),
so the dispatcher reads real records.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bus.directory.keys import ensure_service_key
from bus.directory.model import AgencyEntry, WebhookEntry
from bus.directory.publish import put_agency
from bus.event.envelope import ChangeKind, Envelope
from bus.event.serde import AvroSerde
from bus.event.topics import SystemTopic, deliver, dlq_webhook, spec_for
from bus.ids import SchemaId
from bus.kafka.client import KafkaSettings, create_topics, make_producer, read_to_end
from bus.policy.agreement import Agreement
from bus.processor.outputs import delivery_headers
from bus.webhooks.dispatcher import WebhookDispatcher, WebhookSettings
from bus.webhooks.message import new_secret
from tests.people import person
from tests.support.running import running
from tests.support.world import processor_key_file, processor_signed
from tests.webhooks.receiver import Receiver, running_receiver

PROJECTION = {
    "type": "record",
    "name": "TaxPerson",
    "namespace": "gov.civil.deliver",
    "fields": [
        {"name": "iin", "type": "string"},
        {"name": "surname", "type": "string"},
        {"name": "birth_date", "type": {"type": "int", "logicalType": "date"}},
    ],
}
RECORD_NAME = "gov.civil.deliver.TaxPerson"


@dataclass
class Sent:
    """One delivery as produced: its event id, key and per-key sequence."""

    event_id: str
    key: str
    sequence: int
    kind: ChangeKind


@dataclass
class HookWorld:
    settings: KafkaSettings
    registry_url: str
    operator_token: str
    unique: str
    secret: str
    receiver: Receiver
    schema_id: SchemaId = field(default=SchemaId(0))  # set by setup()

    @property
    def agency(self) -> str:
        return f"tax-{self.unique}"

    @property
    def agreement_id(self) -> str:
        return f"civil-to-tax-{self.unique}"

    @property
    def topic(self) -> str:
        return deliver(self.agency, self.agreement_id)

    @property
    def parked_topic(self) -> str:
        return dlq_webhook(self.agency)

    async def setup(self, *, horizon_s: float | None = None) -> None:
        await create_topics(self.settings, [spec_for(self.topic)])
        await ensure_service_key(self.settings, processor_key_file())
        response = httpx.post(
            f"{self.registry_url}/subjects/{self.topic}-value/versions",
            json={"schema": json.dumps(PROJECTION)},
            headers={"Authorization": f"Bearer {self.operator_token}"},
        )
        assert response.status_code == 200, response.text
        self.schema_id = SchemaId(int(response.json()["id"]))
        await self.register(self.receiver.url, self.secret, horizon_s=horizon_s)

    async def register(self, url: str, secret: str, *, horizon_s: float | None = None) -> None:
        webhook = WebhookEntry(url=url, secret=secret, horizon_s=horizon_s)
        await put_agency(self.settings, AgencyEntry(id=self.agency, name="Tax committee", webhook=webhook))

    async def apply_agreement(self, legal_basis: str) -> None:
        agreement = Agreement(
            id=self.agreement_id,
            provider=f"civil-{self.unique}",
            consumer=self.agency,
            record_type="person",
            fields=("iin", "surname", "birth_date"),
            purpose="taxation",
            legal_basis=legal_basis,
            valid_from=dt.date.today() - dt.timedelta(days=1),
        )
        await self.produce_raw(
            SystemTopic.AGREEMENTS, agreement.id.encode(), agreement.model_dump_json().encode()
        )

    def delivery(self, n: int, sequence: int, kind: ChangeKind = ChangeKind.UPDATED) -> tuple[Sent, Any]:
        citizen = person(n)
        envelope = Envelope.new(
            provider=f"civil-{self.unique}",
            system="gbd-fl",
            record_name="gov.civil.Person",
            kind=kind,
            subject=citizen["iin"],
            sequence=sequence,
            changed=["surname"],
        )
        headers = delivery_headers(
            envelope.to_headers(), f"{RECORD_NAME}.{kind.value}", self.agreement_id, ("surname",)
        )
        value = None
        if kind is not ChangeKind.DELETED:
            fields = {
                "iin": citizen["iin"],
                "surname": f"{citizen['surname']}-{sequence}",
                "birth_date": citizen["birth_date"],
            }
            value = AvroSerde({self.schema_id: json.dumps(PROJECTION)}.get).encode(self.schema_id, fields)
        [record] = processor_signed([(citizen["iin"].encode(), value, headers)])
        return Sent(envelope.id, citizen["iin"], sequence, kind), record

    async def publish(self, keys: int, per_key: int, *, delete_last: bool = False) -> list[Sent]:
        """``per_key`` updates for each of ``keys`` citizens, interleaved across keys."""
        sent, records = [], []
        for sequence in range(1, per_key + 1):
            for n in range(keys):
                last = delete_last and sequence == per_key
                item, record = self.delivery(n, sequence, ChangeKind.DELETED if last else ChangeKind.UPDATED)
                sent.append(item)
                records.append(record)
        await self.produce_many(self.topic, processor_signed(records))  # one batch, as the processor signs
        return sent

    async def produce_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        await self.produce_many(topic, [(key, value, list(headers))])

    async def produce_many(
        self, topic: str, records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]
    ) -> None:
        producer = make_producer(self.settings)
        await producer.start()
        try:
            futures = [await producer.send(topic, key=k, value=v, headers=h) for k, v, h in records]
            for future in futures:
                await future
        finally:
            await producer.stop()

    async def parked(self) -> list[Any]:
        try:
            return await read_to_end(self.settings, self.parked_topic)
        except Exception:  # not created until the first update is parked
            return []

    def dispatcher_settings(self, **overrides: Any) -> WebhookSettings:
        values: dict[str, Any] = {
            "group_id": f"bus-webhooks-{self.unique}",
            "registry_url": self.registry_url,
            "agencies": (self.agency,),
            "horizon_s": 60.0,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.4,
            "request_timeout_s": 2.0,
        }
        values.update(overrides)
        return WebhookSettings(**values)

    @contextlib.asynccontextmanager
    async def dispatcher(self, **overrides: Any) -> AsyncIterator[WebhookDispatcher]:
        async with running(
            WebhookDispatcher(self.settings, self.dispatcher_settings(**overrides))
        ) as dispatcher:
            yield dispatcher


@pytest.fixture
async def hooks(
    kafka_settings: KafkaSettings, registry_url: str, operator_token: str, unique: str
) -> AsyncIterator[HookWorld]:
    secret = new_secret()
    async with running_receiver(secret) as receiver:
        world = HookWorld(kafka_settings, registry_url, operator_token, unique, secret, receiver)
        await world.setup()
        yield world
