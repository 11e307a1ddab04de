"""The fuzz suite's test bench: an in-process pipeline with routes for every canonical schema.

No broker or registry: ``Pipeline.process`` is pure once schemas are cached (as in
``tests/unit/test_pipeline_fuzz.py``). Agreements in force, all from provider ``civil``:

- per canonical type, one agreement granting its first two fields (no consent);
- for ``person`` also ``health`` (consent required; granted only for ``CONSENTED``) and
  ``police`` (expired), so an unauthorised delivery would be visible.

``judge`` holds one result against the property: the processor never fails, and the input ends
either delivered to an agreement that allows it (granted fields only, the signed envelope's
identity) or dead-lettered/denied with a reason from the closed sets — never ``processing_error``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fastavro
from aiokafka import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from bus.audit.entry import Decision
from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde, unframe
from bus.event.signed_event import Draft, Signer, compose
from bus.event.signing import Verifier, key_id_for
from bus.ids import SchemaId, TopicName
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.policy.compile import compile_agreement, compile_for_version
from bus.policy.consent import ConsentRecord, ConsentStatus, ConsentView, consent_key
from bus.policy.evaluate import DenyReason
from bus.processor.pipeline import Pipeline, Result
from bus.processor.routes import Route, Routes
from bus.processor.state import StateStore
from bus.registry.client import RegistryClient
from tests.conftest import REPO
from tests.people import person

PROVIDER = "civil"
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()  # registered for another agency only
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
TODAY = NOW.date()
CONSENTED = person(1)["iin"]
AUDIT_ID = SchemaId(1)
INPUTS: Counter[str] = Counter()  # inputs judged, per test (tests/fuzz/conftest.py prints the total)
DEAD_LETTER_REASONS = {
    "not_an_ingress_topic",
    "envelope_invalid",
    "source_mismatch",
    "key_mismatch",
    "tombstone_not_delete",
    "delete_with_value",
    "schema_id_unknown",
    "schema_not_for_topic",
    "identifier_invalid",
    "wire_format_invalid",
    "payload_empty",
    "magic_byte_wrong",
    "payload_truncated",
    "avro_body_invalid",
    "record_schema_mismatch",
}


@dataclass(frozen=True)
class Canonical:
    """A canonical record type: its ingress topic, schema and the schema id it is registered under."""

    record_type: str
    schema: dict[str, Any]
    schema_id: SchemaId

    @property
    def topic(self) -> str:
        return f"ingress.{PROVIDER}.{self.record_type}"

    @property
    def record_name(self) -> str:
        return f"{self.schema['namespace']}.{self.schema['name']}"


def _canonical() -> dict[str, Canonical]:
    found = {}
    for n, path in enumerate(sorted((REPO / "schemas").glob("*/*.avsc")), start=10):
        found[path.stem] = Canonical(path.stem, json.loads(path.read_text()), SchemaId(n))
    return found


CANONICAL = _canonical()
PERSON = CANONICAL["person"]


def _person_version(schema_id: int, change: str) -> Canonical:
    """A later version of the person schema, as a provider would register it (BACKWARD-compatible)."""
    fields = [dict(f) for f in PERSON.schema["fields"]]
    if change == "surname_optional_nickname_added":
        surname = next(f for f in fields if f["name"] == "surname")
        surname.update(type=["null", "string"], default=None)
        fields.append({"name": "nickname", "type": ["null", "string"], "default": None})
    elif change == "phone_removed":  # granted to health-person: delivered without it, agreement flagged
        fields = [f for f in fields if f["name"] != "phone"]
    else:
        raise AssertionError(change)
    return Canonical("person", {**PERSON.schema, "fields": fields}, SchemaId(schema_id))


PERSON_VERSIONS = {
    "surname_optional_nickname_added": _person_version(50, "surname_optional_nickname_added"),
    "phone_removed": _person_version(51, "phone_removed"),
}
"""Provider schema evolution (issue #25 item 2): events may be written with any of these versions."""


def _agreement(name: str, canonical: Canonical, fields: Sequence[str], **overrides: Any) -> Agreement:
    values: dict[str, Any] = {
        "id": name,
        "provider": PROVIDER,
        "consumer": name.split("-")[0],
        "record_type": canonical.record_type,
        "fields": tuple(fields),
        "purpose": f"{name} purpose",
        "legal_basis": "Law, Art. 1",
        "valid_from": TODAY - dt.timedelta(days=30),
    }
    values.update(overrides)
    return Agreement(**values)


def agreements() -> list[tuple[Agreement, Canonical]]:
    found = []
    for canonical in CANONICAL.values():
        first_two = [f["name"] for f in canonical.schema["fields"][:2]]
        found.append(
            (_agreement(f"tax-{canonical.record_type.replace('_', '')}", canonical, first_two), canonical)
        )
    found.append((_agreement("health-person", PERSON, ["iin", "phone"], consent="required"), PERSON))
    found.append(
        (
            _agreement("police-person", PERSON, ["iin", "surname"], valid_until=TODAY - dt.timedelta(days=1)),
            PERSON,
        )
    )
    return found


class FixedRoutes(Routes):
    """Every agreement above, compiled, with derived schema ids (no registry calls); the person
    agreements also per later person version, as ``Routes.add_writers`` prepares them."""

    def __init__(self) -> None:
        super().__init__(AgreementsView(), RegistryClient("http://127.0.0.1:9"))
        self.routes: list[Route] = []
        for n, (agreement, canonical) in enumerate(agreements(), start=100):
            compiled = compile_agreement(agreement, canonical.schema)
            self.routes.append(
                Route(compiled, SchemaId(n), canonical.record_name, TopicName(agreement.delivery_topic))
            )
        derived = 200
        for version in PERSON_VERSIONS.values():
            for base in self.for_type(PROVIDER, "person"):
                compiled, missing = compile_for_version(base.compiled.agreement, version.schema)
                self._writers[(compiled.agreement.id, version.schema_id)] = Route(
                    compiled, SchemaId(derived), base.record_name, base.topic, missing
                )
                derived += 1

    def for_type(self, provider: str, record_type: str) -> list[Route]:
        return [
            r
            for r in self.routes
            if (r.compiled.agreement.provider, r.compiled.agreement.record_type) == (provider, record_type)
        ]

    def all_routes(self) -> list[Route]:
        return list(self.routes)


_BUILT: list[Pipeline] = []


def pipeline() -> Pipeline:
    """The bench's pipeline with empty state (built once: compiling routes and parsing schemas is slow)."""
    if not _BUILT:
        _BUILT.append(_build())
    _BUILT[0]._state.clear()
    return _BUILT[0]


ROUTES = FixedRoutes()
DELIVERY_SCHEMAS = ROUTES.delivery_schemas()


def _build() -> Pipeline:
    """A pipeline whose verifier knows ``KEY`` for ``civil`` and ``OTHER_KEY`` for ``other`` only."""
    routes = ROUTES
    registry = RegistryClient("http://127.0.0.1:9")  # never called: every schema is cached
    civil_key, other_key = key_id_for(KEY.public_key()), key_id_for(OTHER_KEY.public_key())

    def public_key(agency: str, key_id: str) -> Any:
        if agency == PROVIDER and key_id == civil_key:
            return KEY.public_key()
        if agency == "other" and key_id == other_key:
            return OTHER_KEY.public_key()
        return None

    consent = ConsentView()
    health = next(r.compiled.agreement for r in routes.routes if r.compiled.agreement.id == "health-person")
    granted = ConsentRecord(
        subject=CONSENTED,
        consumer=health.consumer,
        purpose=health.purpose,
        status=ConsentStatus.GRANTED,
        time=NOW - dt.timedelta(days=1),
    )
    consent.apply(
        consent_key(CONSENTED, health.consumer, health.purpose).encode(), granted.model_dump_json().encode()
    )
    built = Pipeline(
        registry=registry,
        verifier=Verifier(public_key),
        routes=routes,
        consent=consent,
        state=StateStore(),
        audit_schema_id=AUDIT_ID,
    )
    writers = [*CANONICAL.values(), *PERSON_VERSIONS.values()]
    built._texts.update({c.schema_id: json.dumps(c.schema) for c in writers})
    built._texts.update({i: json.dumps(schema) for i, schema in routes.delivery_schemas().items()})
    built._subjects.update({c.schema_id: frozenset({f"{c.topic}-value"}) for c in writers})
    return built


def encode(canonical: Canonical, record: dict[str, Any]) -> bytes:
    return AvroSerde({canonical.schema_id: canonical.schema}.get).encode(canonical.schema_id, record)


def signed_headers(
    value: bytes | None,
    key: str,
    *,
    canonical: Canonical = PERSON,
    kind: ChangeKind = ChangeKind.UPDATED,
    sequence: int = 1,
    changed: Sequence[str] | None = None,
    signer: Ed25519PrivateKey = KEY,
    provider: str = PROVIDER,
) -> list[tuple[str, bytes]]:
    [envelope] = compose(
        provider,
        "gbd",
        Signer.of(signer),
        [
            Draft(
                kind, canonical.record_name, key, value, sequence, changed, time=NOW - dt.timedelta(seconds=1)
            )
        ],
    )
    return envelope.to_headers()


def consumer_record(
    topic: str, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]], offset: int = 0
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, 0, 0, list(headers))


# -- records of any canonical schema ------------------------------------------------------
def _strategy(avro_type: Any, names: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(avro_type, list):
        return st.one_of([_strategy(t, names) for t in avro_type])
    if isinstance(avro_type, str):
        simple: dict[str, st.SearchStrategy[Any]] = {
            "null": st.none(),
            "string": st.text(max_size=30),
            "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1),
            "double": st.floats(allow_nan=False),
            "boolean": st.booleans(),
        }
        if avro_type in simple:
            return simple[avro_type]
        return _strategy(names[avro_type], names)
    kind, logical = avro_type["type"], avro_type.get("logicalType")
    if logical == "date":
        return st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
    if kind == "enum":
        names[f"{avro_type.get('namespace', '')}.{avro_type['name']}".lstrip(".")] = avro_type
        names[avro_type["name"]] = avro_type
        return st.sampled_from(avro_type["symbols"])
    if kind == "record":
        names[avro_type["name"]] = avro_type
        return st.fixed_dictionaries({f["name"]: _strategy(f["type"], names) for f in avro_type["fields"]})
    if isinstance(kind, str) and kind in ("null", "string", "int", "long", "double", "boolean"):
        return _strategy(kind, names)
    raise AssertionError(f"no strategy for {avro_type!r}")


def records_of(canonical: Canonical) -> st.SearchStrategy[dict[str, Any]]:
    """Schema-valid records of ``canonical`` (identifiers mostly invalid: the validator's job)."""
    return _strategy(canonical.schema, {})


# -- the property ---------------------------------------------------------------------------
def _decode(schema: dict[str, Any], framed: bytes) -> dict[str, Any]:
    decoded = fastavro.schemaless_reader(io.BytesIO(framed[5:]), fastavro.parse_schema(schema), None)
    assert isinstance(decoded, dict)
    return decoded


def judge(
    test: str, record: ConsumerRecord[Any, Any], result: Result, *, signed: Sequence[tuple[str, bytes]] = ()
) -> str:
    """Check one input's outcome; returns ``delivered``, ``denied``, ``dead_lettered`` or ``stale``.

    ``signed`` are the headers as the provider signed them, when the test knows them: a delivery
    must then carry that identity (ce_id, ce_subject, ce_source), whatever else was sent.
    """
    INPUTS[test] += 1
    if result.stale:
        assert result.outputs == []
        assert result.audit == []
        return "stale"
    routes = {r.topic: r for r in ROUTES.routes}
    deliveries = [o for o in result.outputs if o.topic.startswith("deliver.")]
    dead = [o for o in result.outputs if o.topic.startswith("dlq.")]
    assert not (deliveries and dead), "an input was both delivered and dead-lettered"
    if dead:
        [letter] = dead
        reasons = dict(letter.headers)
        reason = reasons["bus_dlq_reason"].decode()
        assert reason != "processing_error", reasons.get("bus_dlq_detail", b"").decode()
        assert reason in DEAD_LETTER_REASONS or reason.startswith("signature_"), reason
        assert (letter.key, letter.value) == (record.key, record.value), "a dead letter must keep the input"
        assert [e.decision for e in result.audit] == [Decision.DEAD_LETTERED]
        assert result.audit[0].reason == reason
        return "dead_lettered"
    # decided: one audit entry per agreement of the type (or one no_agreement), each with a reason
    decisions = {e.agreement_id: e for e in result.audit}
    assert result.audit, "a decided input must be audited"
    for entry in result.audit:
        if entry.decision is Decision.DENIED:
            assert entry.reason in {r.value for r in DenyReason}, entry.reason
    for output in deliveries:
        route = routes[output.topic]
        agreement = route.compiled.agreement
        entry = decisions[agreement.id]
        assert entry.decision is Decision.DELIVERED
        assert agreement.valid_until is None or agreement.valid_until >= TODAY, "expired agreement delivered"
        if agreement.consent == "required":
            assert output.key == CONSENTED.encode(), "consent-required delivery without consent"
        headers = dict(output.headers)
        assert headers["bus_agreement"].decode() == agreement.id
        if signed:
            original = dict(signed)
            for name in ("ce_id", "ce_subject", "ce_source"):
                assert headers[name] == original[name], f"{name} differs from what was signed"
        if output.value is not None:
            granted = {path.split(".")[0] for path in agreement.fields}
            schema_id, _ = unframe(output.value)  # the projection of the version it was written with
            projected = _decode(DELIVERY_SCHEMAS[schema_id], output.value)
            assert set(projected) <= granted, f"{set(projected) - granted} not granted to {agreement.id}"
    return "delivered" if deliveries else "denied"
