"""One input record in, its outputs and audit entries out: verify → decode → validate → state → policy.

Synchronous and free of network calls (schemas are fetched for the whole batch first), so a
batch is processed in one tight loop. Anything wrong with an input becomes a dead letter
with a reason, never an exception out of ``process``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bus.audit.entry import AUDIT_SCHEMA, AuditEntry, Decision
from bus.errors import (
    EnvelopeError,
    RecordMismatchError,
    TopicNameError,
    UnknownSchemaIdError,
    WireFormatError,
)
from bus.event import topics
from bus.event.avro_reader import join_fields, projection_plan
from bus.event.dead_letter import DeadLetter, dead_letter_headers
from bus.event.dead_letter import HeaderList as Headers
from bus.event.envelope import ChangeKind, Envelope
from bus.event.serde import AvroSerde, Decoded, frame, framed_schema_ids, unframe
from bus.event.signed_event import verify_event
from bus.event.signing import SignatureError, Verifier
from bus.ids import SchemaId, TopicName
from bus.policy.agreement import Disclosure
from bus.policy.evaluate import Deliver, Deny, DenyReason, EventFacts, evaluate
from bus.processor.outputs import (
    Output,
    delivery_headers,
    delivery_headers_from,
    forwarded,
)
from bus.processor.routes import Unfit
from bus.processor.state import KeyState, StateStore
from bus.registry.errors import SchemaNotFound
from bus.validate.fields import check_identifiers

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord

    from bus.policy.compile import CompiledAgreement
    from bus.policy.consent import ConsentView
    from bus.processor.routes import Route, Routes
    from bus.registry.client import RegistryClient

log = logging.getLogger(__name__)
BACKFILL_SYSTEM = "bus-backfill"  # ce_source system of snapshots the bus derived from state


@dataclass
class Result:
    outputs: list[Output] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    stale: bool = False


class Pipeline:
    def __init__(
        self,
        *,
        registry: RegistryClient,
        verifier: Verifier,
        routes: Routes,
        consent: ConsentView,
        state: StateStore,
        audit_schema_id: SchemaId,
    ) -> None:
        self._registry = registry
        self._verifier = verifier
        self._routes = routes
        self._consent = consent
        self._state = state
        self._audit_id = audit_schema_id
        self._texts: dict[SchemaId, str | None] = {audit_schema_id: json.dumps(AUDIT_SCHEMA)}
        self._subjects: dict[SchemaId, frozenset[str]] = {}
        self._serde = AvroSerde(self._texts.get)
        self._topics: dict[str, tuple[str, str, TopicName]] = {}  # ingress topic -> provider, type, state
        self._plans: dict[tuple[SchemaId, SchemaId], tuple[int, ...] | None] = {}
        self._flat: dict[CompiledAgreement, bool] = {}  # grants only top-level fields

    # -- I/O before a batch ------------------------------------------------------------
    async def prefetch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Fetch every schema the batch refers to that is not cached yet (unknown ids -> None)."""
        await self.prefetch_values([r.value for r in records])

    async def prefetch_values(self, values: Iterable[bytes | None]) -> None:
        """Fetch the schemas of framed values (state records read back after a restart, for backfill),
        and have the delivery routes of each new ingress schema version compiled and registered."""
        fetched: dict[SchemaId, tuple[str, frozenset[str]]] = {}
        for schema_id in framed_schema_ids(values) - self._texts.keys():
            try:
                text = self._texts[schema_id] = await self._registry.schema(schema_id)
                subjects = self._subjects[schema_id] = frozenset(await self._registry.subjects_of(schema_id))
            except SchemaNotFound:
                self._texts[schema_id] = None
            else:
                fetched[schema_id] = (text, subjects)
        if fetched:
            await self._routes.add_writers(fetched)
        for schema_id, schema in self._routes.delivery_schemas().items():
            if self._texts.get(schema_id) is None:
                self._texts[schema_id] = json.dumps(schema)

    # -- per record --------------------------------------------------------------------
    def process(self, record: ConsumerRecord[bytes, bytes], now: datetime) -> Result:
        headers: Headers = [(k, v if type(v) is bytes else bytes(v)) for k, v in record.headers]
        try:
            return self._process(record, headers, now)
        except DeadLetter as error:
            return self._dead_letter(record, headers, error, now)
        except Exception as exc:  # a bug must not stop the bus or lose the input: park it
            log.exception(
                "unexpected error processing %s/%s@%s", record.topic, record.partition, record.offset
            )
            internal = DeadLetter("internal", "processing_error", f"{type(exc).__name__}: {exc}")
            return self._dead_letter(record, headers, internal, now)

    def _process(self, record: ConsumerRecord[bytes, bytes], headers: Headers, now: datetime) -> Result:
        parts = self._topics.get(record.topic)
        if parts is None:
            provider, rtype = _ingress_parts(record.topic)
            parts = self._topics[record.topic] = (provider, rtype, topics.state(provider, rtype))
        provider, rtype, state_topic = parts
        envelope = _envelope(headers, provider, record.key)
        kind = envelope.kind
        try:
            verify_event(self._verifier, envelope, headers, record.value)
        except SignatureError as exc:
            raise DeadLetter("signature", f"signature_{exc.reason}", exc.message) from None
        decoded = self._decode(record, envelope, kind)
        current = decoded.record if decoded else None
        problems = check_identifiers(current) if current else []
        if problems:
            raise DeadLetter(
                "validate", "identifier_invalid", "; ".join(f"{p.path}: {p.reason}" for p in problems)
            )

        before = self._state.get(state_topic, envelope.subject)
        if (
            before is not None
            and before.sequence is not None
            and envelope.sequence is not None
            and envelope.sequence <= before.sequence
        ):
            return Result(stale=True)  # a retransmission or an older version: already applied
        previous = self._previous(before, state_topic) if envelope.changed is None else None
        facts = EventFacts(
            provider=provider,
            record_type=rtype,
            subject=envelope.subject,
            kind=kind,
            event_time=envelope.time,
            record=current,
            changed=envelope.changed,
            previous=previous,
            delivered_before=before.delivered if before else frozenset(),
        )
        routes = self._routes.for_type(provider, rtype)
        decisions = evaluate(
            facts,
            [r.compiled for r in routes],
            self._routes.revoked_for(provider, rtype),
            self._consent,
            now=now,
        )
        result = Result()
        delivered = set(before.delivered if before else ())
        base: Headers | None = None
        writer_id = decoded.schema_id if decoded else None  # deliveries follow the version written with
        for decision in decisions:
            if isinstance(decision, Deliver):
                route = self._routes.for_writer(
                    next(r for r in routes if r.compiled is decision.compiled), writer_id
                )
                if isinstance(route, Unfit):
                    denial = Deny(route.agreement, DenyReason.WHERE_MISMATCH)
                    result.audit.append(self._entry(envelope, rtype, now, Decision.DENIED, denial=denial))
                    continue
                if base is None:
                    base = forwarded(headers)
                result.outputs.append(self._delivery(record, base, envelope, kind, route, decision, decoded))
                delivered.add(route.compiled.agreement.id)
                result.audit.append(self._entry(envelope, rtype, now, Decision.DELIVERED, decision=decision))
            else:
                result.audit.append(self._entry(envelope, rtype, now, Decision.DENIED, denial=decision))
        is_delete = kind is ChangeKind.DELETED
        state = KeyState(
            envelope.sequence,
            None if is_delete else record.value,
            frozenset() if is_delete else frozenset(delivered),
            record.partition,
        )
        result.outputs.append(self._state.put(state_topic, envelope.subject, state))
        result.outputs += [self._audit_output(entry) for entry in result.audit]
        return result

    def snapshot(
        self, route: Route, provider: str, rtype: str, key: str, event_id: str, now: datetime
    ) -> Result:
        """A backfill snapshot of ``key``'s current record for one agreement, by the live events' policy.

        Run by the processor that owns the key, between its live batches, so a snapshot always
        carries the newest state and can never overtake a live update to the same consumer.
        """
        state_topic = topics.state(provider, rtype)
        current = self._state.get(state_topic, key)
        record = self._previous(current, state_topic)
        if current is None or record is None:
            return Result()  # deleted since the backfill listed it, or its schema is gone
        envelope = Envelope.new(
            provider=provider,
            system=BACKFILL_SYSTEM,
            record_name=route.record_name,
            kind=ChangeKind.SNAPSHOT,
            subject=key,
            sequence=current.sequence,
            event_id=event_id,
            time=now,
        )
        facts = EventFacts(
            provider=provider,
            record_type=rtype,
            subject=key,
            kind=ChangeKind.SNAPSHOT,
            event_time=now,
            record=record,
            changed=None,
            previous=None,
            delivered_before=current.delivered,
        )
        result = Result()
        writer = self._routes.for_writer(route, unframe(current.value or b"", topic=state_topic)[0])
        for decision in evaluate(facts, [route.compiled], [], self._consent, now=now):
            if isinstance(decision, Deliver) and isinstance(writer, Unfit):  # its where cannot be checked
                decision = Deny(writer.agreement, DenyReason.WHERE_MISMATCH)
            if isinstance(decision, Deny):
                result.audit.append(self._entry(envelope, rtype, now, Decision.DENIED, denial=decision))
                continue
            assert not isinstance(writer, Unfit)
            agreement_id = route.compiled.agreement.id
            value = self._serde.encode(writer.schema_id, decision.record or {}, topic=route.topic)
            headers = delivery_headers(envelope.to_headers(), envelope.type, agreement_id, None)
            result.outputs.append(Output(route.topic, key.encode(), value, headers))
            result.audit.append(self._entry(envelope, rtype, now, Decision.BACKFILLED, decision=decision))
            if agreement_id not in current.delivered:
                updated = replace(current, delivered=current.delivered | {agreement_id})
                result.outputs.append(self._state.put(state_topic, key, updated))
        result.outputs += [self._audit_output(entry) for entry in result.audit]
        return result

    def _decode(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, kind: ChangeKind
    ) -> Decoded | None:
        if record.value is None:
            if kind is not ChangeKind.DELETED:
                raise DeadLetter(
                    "decode",
                    "tombstone_not_delete",
                    f"a null value needs ce_type ….deleted, got {envelope.type}",
                )
            return None
        if kind is ChangeKind.DELETED:
            raise DeadLetter("decode", "delete_with_value", "a deleted event must have a null value")
        try:
            decoded = self._serde.decode(record.value, topic=record.topic)
        except UnknownSchemaIdError as exc:
            raise DeadLetter("decode", "schema_id_unknown", exc.message) from None
        except WireFormatError as exc:
            raise DeadLetter("decode", exc.code, exc.message) from None
        assert decoded is not None
        subject = f"{record.topic}-value"
        if subject not in self._subjects.get(decoded.schema_id, frozenset()):
            raise DeadLetter(
                "decode",
                "schema_not_for_topic",
                f"schema id {decoded.schema_id} is not a version of {subject}",
            )
        return decoded

    def _previous(self, before: KeyState | None, topic: str) -> dict[str, Any] | None:
        if before is None or before.value is None:
            return None
        try:
            decoded = self._serde.decode(before.value, topic=topic)
        except WireFormatError:
            return None
        return decoded.record if decoded else None

    def _delivery(
        self,
        record: ConsumerRecord[bytes, bytes],
        base: Headers,
        envelope: Envelope,
        kind: ChangeKind,
        route: Route,
        decision: Deliver,
        decoded: Decoded | None,
    ) -> Output:
        changed = None
        if envelope.changed is not None:
            changed = tuple(path for path in envelope.changed if route.compiled.grants(path))
        value = None
        if not decision.tombstone:
            try:
                value = self._sliced(route, decoded) or self._serde.encode(
                    route.schema_id, decision.record or {}, topic=route.topic
                )
            except RecordMismatchError as exc:  # a version whose route was not prepared: park, replayable
                raise DeadLetter(
                    "project",
                    "delivery_schema_mismatch",
                    f"agreement {route.compiled.agreement.id!r}: {exc.message}",
                ) from None
        ce_type = f"{route.record_name}.{kind.value}".encode()
        return Output(
            route.topic,
            record.key,
            value,
            delivery_headers_from(base, ce_type, route.compiled.agreement.id, changed),
        )

    def _sliced(self, route: Route, decoded: Decoded | None) -> bytes | None:
        """The projection as the granted fields' bytes of the ingress value, when the grant allows.

        A grant of whole top-level fields (``bus.event.avro_reader.projection_plan``) is encoded by copying
        those fields' bytes: the same bytes fastavro would write for the projected record.
        """
        if decoded is None or not decoded.spans:
            return None
        key = (route.schema_id, decoded.schema_id)
        if key not in self._plans:
            text = self._texts.get(decoded.schema_id)
            self._plans[key] = projection_plan(json.loads(text), route.compiled.schema) if text else None
        plan = self._plans[key]
        if plan is None:
            return None
        return frame(route.schema_id, join_fields(decoded.body, decoded.spans, plan))

    def _entry(
        self,
        envelope: Envelope,
        rtype: str,
        now: datetime,
        outcome: Decision,
        *,
        decision: Deliver | None = None,
        denial: Deny | None = None,
    ) -> AuditEntry:
        agreement = decision.compiled.agreement if decision else (denial.agreement if denial else None)
        return AuditEntry(
            time=now,
            decision=outcome,
            subject=envelope.subject,
            provider=envelope.provider,
            record_type=rtype,
            event_id=envelope.id,
            event_time=envelope.time,
            reason=denial.reason.value if denial else None,
            consumer=agreement.consumer if agreement else None,
            agreement_id=agreement.id if agreement else None,
            purpose=agreement.purpose if agreement else None,
            legal_basis=agreement.legal_basis if agreement else None,
            fields=self._sent_fields(decision) if decision else (),
            replaces=agreement.replaces if agreement and decision else None,
            purpose_code=agreement.purpose_code if agreement else None,
            **(_hidden(agreement.disclosure, now) if agreement and agreement.disclosure else {}),
        )

    def _sent_fields(self, decision: Deliver) -> tuple[str, ...]:
        """``decision.fields``, with a shortcut for grants of top-level fields only."""
        if decision.tombstone:
            return ()
        compiled = decision.compiled
        flat = self._flat.get(compiled)
        if flat is None:
            flat = self._flat[compiled] = all("." not in path for path in compiled.agreement.fields)
        if flat:
            return tuple(path for path in compiled.agreement.fields if decision.sends_top_level(path))
        return decision.fields

    def _audit_output(self, entry: AuditEntry) -> Output:
        try:
            value = entry.to_avro(self._audit_id)
        except TypeError:  # a value the direct writer does not take: let fastavro say what is wrong
            value = self._serde.encode(self._audit_id, entry.to_record(), topic=topics.SystemTopic.AUDIT)
        return Output(TopicName(topics.SystemTopic.AUDIT), entry.subject.encode(), value, [])

    def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], headers: Headers, error: DeadLetter, now: datetime
    ) -> Result:
        provider = _provider_or_unknown(record.topic)
        dlq_headers = dead_letter_headers(headers, error, topic=record.topic)
        outputs = [Output(topics.dlq(provider), record.key, record.value, dlq_headers)]
        found = dict(headers)
        event_id = (
            found.get("ce_id", b"").decode("utf-8", "replace")
            or f"{record.topic}/{record.partition}/{record.offset}"
        )
        subject = (record.key or b"").decode("utf-8", "replace")
        entry = AuditEntry(
            time=now,
            decision=Decision.DEAD_LETTERED,
            subject=subject,
            provider=provider,
            record_type=record.topic.rsplit(".", 1)[-1],
            event_id=event_id,
            event_time=now,
            reason=error.reason,
        )
        outputs.append(self._audit_output(entry))
        return Result(outputs, [entry])


def _hidden(disclosure: Disclosure, now: datetime) -> dict[str, Any]:
    """The delayed-disclosure fields of an entry under the agreement: a refusal is hidden too, since
    it would tell the citizen the same thing (that this agency asked)."""
    return {
        "hidden_until": disclosure.due(now),
        "hidden_reason": disclosure.reason,
        "hidden_legal_basis": disclosure.legal_basis,
    }


def _ingress_parts(topic: str) -> tuple[str, str]:
    try:
        ref = topics.parse(topic)
    except TopicNameError as exc:
        raise DeadLetter("envelope", "not_an_ingress_topic", str(exc)) from None
    if ref.agency is None or ref.record_type is None:
        raise DeadLetter("envelope", "not_an_ingress_topic", f"{topic} is not an ingress topic")
    return ref.agency, ref.record_type


def _provider_or_unknown(topic: str) -> str:
    try:
        return topics.parse(topic).agency or "unknown"
    except TopicNameError:
        return "unknown"


def _envelope(headers: Headers, provider: str, key: bytes | None) -> Envelope:
    try:
        envelope = Envelope.from_headers(headers)
    except EnvelopeError as exc:
        raise DeadLetter("envelope", "envelope_invalid", exc.message) from None
    if envelope.provider != provider:
        raise DeadLetter(
            "envelope",
            "source_mismatch",
            f"ce_source names {envelope.provider!r} but the topic belongs to {provider!r}",
        )
    if key is None or key.decode("utf-8", "replace") != envelope.subject:
        raise DeadLetter("envelope", "key_mismatch", "the record key must equal ce_subject")
    return envelope


def utc_now() -> datetime:
    return datetime.now(UTC)
