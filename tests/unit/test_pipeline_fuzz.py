"""The processor never crashes on input and never delivers what it cannot verify (property tests).

The pipeline is exercised in-process (no broker: ``process`` is pure once schemas are cached);
an agreement that would deliver everything is in force, so any delivery would be visible.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aiokafka import ConsumerRecord
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from bus.audit.entry import AUDIT_SCHEMA
from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde
from bus.event.signed_event import Draft, Signer, compose
from bus.event.signing import Verifier, key_id_for
from bus.ids import SchemaId, TopicName
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.policy.compile import compile_agreement
from bus.policy.consent import ConsentView
from bus.processor.pipeline import Pipeline
from bus.processor.routes import Route, Routes
from bus.processor.state import StateStore
from bus.registry.client import RegistryClient
from tests.conftest import REPO
from tests.fuzz.profile import fuzz_settings
from tests.people import person

PROVIDER, TOPIC, PERSON_ID, AUDIT_ID, DELIVER_ID = (
    "civil",
    "ingress.civil.person",
    SchemaId(1),
    SchemaId(2),
    3,
)
KEY = Ed25519PrivateKey.generate()
PERSON_SCHEMA = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
NOW = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)


class _FixedRoutes(Routes):
    """Routes with one compiled agreement granting every top-level field (no registry calls)."""

    def __init__(self) -> None:
        super().__init__(AgreementsView(), RegistryClient("http://127.0.0.1:9"))
        agreement = Agreement(
            id="everything",
            provider=PROVIDER,
            consumer="tax",
            record_type="person",
            fields=tuple(f["name"] for f in PERSON_SCHEMA["fields"]),
            purpose="p",
            legal_basis="l",
            valid_from=dt.date(2026, 1, 1),
        )
        compiled = compile_agreement(agreement, PERSON_SCHEMA)
        self.route = Route(
            compiled, SchemaId(DELIVER_ID), "gov.civil.Person", TopicName("deliver.tax.everything")
        )

    def for_type(self, provider: str, record_type: str) -> list[Route]:
        return [self.route] if (provider, record_type) == (PROVIDER, "person") else []


def pipeline() -> Pipeline:
    routes = _FixedRoutes()
    built = Pipeline(
        registry=RegistryClient("http://127.0.0.1:9"),
        verifier=Verifier(lambda a, k: KEY.public_key() if k == key_id_for(KEY.public_key()) else None),
        routes=routes,
        consent=ConsentView(),
        state=StateStore(),
        audit_schema_id=AUDIT_ID,
    )
    built._texts.update(
        {
            PERSON_ID: json.dumps(PERSON_SCHEMA),
            AUDIT_ID: json.dumps(AUDIT_SCHEMA),
            SchemaId(DELIVER_ID): json.dumps(routes.route.compiled.schema),
        }
    )
    built._subjects[PERSON_ID] = frozenset({f"{TOPIC}-value"})
    return built


def signed(value: bytes | None, key: str, kind: ChangeKind = ChangeKind.UPDATED) -> list[tuple[str, bytes]]:
    [envelope] = compose(PROVIDER, "gbd", Signer.of(KEY), [Draft(kind, "gov.civil.Person", key, value, 1)])
    return envelope.to_headers()


def record(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(TOPIC, 0, 0, 0, 0, key, value, None, 0, 0, headers)


def delivered(result: Any) -> list[Any]:
    return [o for o in result.outputs if o.topic.startswith("deliver.")]


def test_a_valid_signed_change_is_delivered() -> None:
    # the control case: the harness does deliver a proper event
    citizen = person(1)
    value = AvroSerde({PERSON_ID: PERSON_SCHEMA}.get).encode(PERSON_ID, citizen)
    result = pipeline().process(record(citizen["iin"].encode(), value, signed(value, citizen["iin"])), NOW)
    assert len(delivered(result)) == 1


header_names = st.sampled_from(
    [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "content-type",
        "bus_sequence",
        "bus_changed",
        "bus_signature",
        "bus_sig_proof",
        "bus_sig_key",
        "x-other",
    ]
)


@fuzz_settings(0.4)  # tests/fuzz runs the same attacks at full size beside it
@given(
    key=st.one_of(st.none(), st.binary(max_size=20)),
    value=st.one_of(st.none(), st.binary(max_size=120)),
    headers=st.lists(st.tuples(header_names, st.binary(max_size=60)), max_size=14),
)
def test_arbitrary_input_never_raises_and_is_never_delivered(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    result = pipeline().process(record(key, value, headers), NOW)
    assert delivered(result) == []
    assert result.stale or any(o.topic == f"dlq.{PROVIDER}" for o in result.outputs)


@fuzz_settings(0.4)  # tests/fuzz runs the same attacks at full size beside it
@given(data=st.data())
def test_any_mutation_of_a_signed_event_is_dead_lettered(data: st.DataObject) -> None:
    # given a valid signed event, with one header value or the value bytes changed
    citizen = person(2)
    value = AvroSerde({PERSON_ID: PERSON_SCHEMA}.get).encode(PERSON_ID, citizen)
    headers = signed(value, citizen["iin"])
    target = data.draw(st.integers(min_value=-1, max_value=len(headers) - 1))
    replacement = data.draw(st.binary(max_size=80))
    if target == -1:
        value_in = replacement
        headers_in = headers
    else:
        value_in = value
        headers_in = [(n, replacement if i == target else v) for i, (n, v) in enumerate(headers)]
    if (value_in, headers_in) == (value, headers):
        return
    # when the pipeline sees it
    result = pipeline().process(record(citizen["iin"].encode(), value_in, headers_in), NOW)
    # then nothing is delivered, unless the change was to a header the signature does not cover
    uncovered = {"ce_specversion", "content-type"}
    if target >= 0 and headers[target][0] in uncovered:
        return
    assert delivered(result) == []


def test_a_record_from_a_topic_the_bus_cannot_name_is_dead_lettered_with_that_reason() -> None:
    # given a valid signed change read from a topic the ingress pattern admits but no agency owns
    citizen = person(3)
    value = AvroSerde({PERSON_ID: PERSON_SCHEMA}.get).encode(PERSON_ID, citizen)
    odd = ConsumerRecord(
        "ingress.-civil.person", 0, 0, 0, 0, citizen["iin"].encode(), value, None, 0, 0,
        signed(value, citizen["iin"]),
    )  # fmt: skip
    # when the pipeline sees it
    result = pipeline().process(odd, NOW)
    # then it is dead-lettered as not an ingress topic, bytes intact, and nothing is delivered
    [letter] = [o for o in result.outputs if o.topic.startswith("dlq.")]
    assert dict(letter.headers)["bus_dlq_reason"] == b"not_an_ingress_topic"
    assert letter.value == value
    assert delivered(result) == []
