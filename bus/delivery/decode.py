"""Turn a record of ``deliver.<consumer>.<agreement>`` into an :class:`Update` or a :class:`Undeliverable`.

Shared by the subscriber SDK, the webhook dispatcher and the wallet so all read deliveries the same
way: only what the processor signed, under the agreement of the topic it is on, is handed over.
Schemas and keys are fetched per batch first (``prefetch``), so decoding makes no network calls.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bus.delivery.update import Ack, Undeliverable, Update, _no_ack
from bus.directory.model import PROCESSOR_IDENTITY
from bus.errors import EnvelopeError, TopicNameError, UnknownSchemaIdError, WireFormatError
from bus.event import topics
from bus.event.envelope import ChangeKind, Envelope
from bus.event.serde import AvroSerde, framed_schema_ids
from bus.event.signed_delivery import verify_delivery
from bus.event.signing import SignatureError, Verifier
from bus.ids import SchemaId
from bus.metrics import UNDELIVERABLE
from bus.registry.errors import SchemaNotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from aiokafka import ConsumerRecord

    from bus.delivery.keys import DeliveryKeys
    from bus.registry.client import RegistryClient


_RETRY_MISS_S = 30.0


class DeliveryDecoder:
    def __init__(
        self, registry: RegistryClient, legal_basis: Callable[[str], str | None], keys: DeliveryKeys
    ) -> None:
        self._registry = registry
        self._keys = keys
        self._verifier = Verifier(keys.lookup, cache_size=4096)  # one Ed25519 check per processor batch
        self._legal_basis = legal_basis
        self._texts: dict[SchemaId, str | None] = {}
        self._misses: dict[SchemaId, float] = {}  # unknown ids are asked again later (another registry
        # instance may not have caught up with a just-registered delivery schema yet)
        self._serde = AvroSerde(self._texts.get)
        self._agreements: dict[str, str | None] = {}  # topic -> its agreement

    async def prefetch(self, records: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        """Fetch every schema id and processor key the records use that is not cached yet (unknown
        schema ids are remembered)."""
        records = list(records)
        await self._keys.refresh(
            {
                (PROCESSOR_IDENTITY, bytes(v).decode("ascii", "replace"))
                for r in records
                for k, v in r.headers
                if k == "bus_sig_key"
            }
        )
        now = time.monotonic()
        retry = {i for i, at in self._misses.items() if now - at > _RETRY_MISS_S}
        for schema_id in framed_schema_ids(r.value for r in records) - (self._texts.keys() - retry):
            try:
                self._texts[schema_id] = await self._registry.schema(schema_id)
                self._misses.pop(schema_id, None)
            except SchemaNotFound:
                self._texts[schema_id] = None
                self._misses[schema_id] = now

    def _agreement_of(self, topic: str) -> str | None:
        """The agreement a delivery topic belongs to (parsed once per topic)."""
        if topic not in self._agreements:
            try:
                self._agreements[topic] = topics.parse(topic).agreement
            except TopicNameError:
                self._agreements[topic] = None
        return self._agreements[topic]

    def decode(self, record: ConsumerRecord[bytes, bytes], ack: Ack = _no_ack) -> Update | Undeliverable:
        headers = [(k, bytes(v)) for k, v in record.headers]
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        event_id = dict(headers).get("ce_id", b"").decode("utf-8", "replace") or None

        def error(reason: str, detail: str) -> Undeliverable:
            UNDELIVERABLE.labels(reason=reason).inc()
            return Undeliverable(
                record.topic, record.partition, record.offset, key, event_id, reason, detail,
                record.value, headers, ack,
            )  # fmt: skip

        try:
            envelope = Envelope.from_headers(headers)
        except EnvelopeError as exc:
            return error("envelope_invalid", exc.message)
        if envelope.agreement is None:
            return error("agreement_missing", "a delivery must carry the bus_agreement header")
        on = self._agreement_of(record.topic)
        if on != envelope.agreement:
            return error(
                "bad_signature",
                f"a delivery decided under agreement {envelope.agreement!r} is on topic {record.topic!r}: "
                "deliveries are only valid on their own agreement's topic",
            )
        try:
            verify_delivery(self._verifier, headers, record.value)
        except SignatureError as exc:
            return error("bad_signature", f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
        if key != envelope.subject:
            return error("key_mismatch", "the record key must equal ce_subject")
        payload = None
        if record.value is not None:
            try:
                decoded = self._serde.decode(record.value, topic=record.topic)
            except UnknownSchemaIdError as exc:
                return error("schema_id_unknown", exc.message)
            except WireFormatError as exc:
                return error(exc.code, exc.message)
            payload = decoded.record if decoded is not None else None
        elif envelope.kind is not ChangeKind.DELETED:
            return error("tombstone_not_delete", f"a null value needs ce_type ….deleted, got {envelope.type}")
        return Update(
            subject=envelope.subject,
            kind=envelope.kind,
            record=payload,
            changed=list(envelope.changed or ()),
            agreement=envelope.agreement,
            legal_basis=self._legal_basis(envelope.agreement),
            event_id=envelope.id,
            event_time=envelope.time,
            sequence=envelope.sequence,
            record_name=envelope.record_name,
            source=envelope.source,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            _ack=ack,
        )
