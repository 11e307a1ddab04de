"""Whatever arrives on an ingress topic, the processor decides with a reason and delivers only what it may.

Inputs: arbitrary bytes; Confluent frames truncated or mutated and then properly signed (a
provider with a bug, or a malicious one holding its key); mutated Avro bodies of every canonical
schema; valid events with adversarial headers (missing, duplicated, oversized, non-UTF-8, wrong
types). ``tests/fuzz/bench.py: judge`` states the property.
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from bus.event.serde import unframe
from tests.fuzz.bench import (
    CANONICAL,
    NOW,
    PERSON,
    PERSON_VERSIONS,
    consumer_record,
    encode,
    judge,
    pipeline,
    records_of,
    signed_headers,
)
from tests.fuzz.profile import fuzz_settings
from tests.people import person

SIGNED_NAMES = ["ce_source", "ce_id", "ce_type", "ce_time", "ce_subject", "bus_sequence", "bus_changed"]
ALL_NAMES = [
    *SIGNED_NAMES,
    "ce_specversion",
    "content-type",
    "bus_signature",
    "bus_sig_proof",
    "bus_sig_key",
    "bus_agreement",
    "bus_dlq_reason",
    "x-other",
]
NON_UTF8 = [b"\xff\xfe", b"\xc3\x28", b"\x80"]
WRONG_TYPES = [b"", b"-1", b"1e9", b"0x10", b" 7", b"abc", b"null", b"[]", b"2026-13-45T99:99:99Z"]
# what the processor's subscription pattern can match: every canonical type, an unknown provider and type
topics = st.sampled_from(
    [*(c.topic for c in CANONICAL.values()), "ingress.other.person", "ingress.civil.pet"]
)


def test_the_bench_delivers_a_valid_signed_change() -> None:
    # the control case: without it, "nothing delivered" would prove nothing
    citizen = person(1)
    value = encode(PERSON, citizen)
    headers = signed_headers(value, citizen["iin"], changed=["surname", "phone"])
    record = consumer_record(PERSON.topic, citizen["iin"].encode(), value, headers)
    assert judge("control", record, pipeline().process(record, NOW), signed=headers) == "delivered"


@fuzz_settings(2.0)
@given(
    topic=topics,
    key=st.one_of(st.none(), st.binary(max_size=24)),
    value=st.one_of(st.none(), st.binary(max_size=200)),
    headers=st.lists(st.tuples(st.sampled_from(ALL_NAMES), st.binary(max_size=80)), max_size=16),
)
def test_arbitrary_bytes_are_decided_with_a_reason_and_never_delivered(
    topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    # given any key, value and headers on any topic; when the processor sees them
    record = consumer_record(topic, key, value, headers)
    outcome = judge("arbitrary_bytes", record, pipeline().process(record, NOW))
    # then they are dead-lettered with a reason (an unsigned input is never delivered)
    assert outcome == "dead_lettered"


frame_mutations = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 200)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, 200), st.integers(1, 255)), min_size=1)),
    st.tuples(st.just("schema_id"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("magic"), st.integers(1, 255)),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("insert"), st.tuples(st.integers(0, 200), st.binary(min_size=1, max_size=8))),
)


def mutate_frame(value: bytes, mutation: tuple[str, Any]) -> bytes:
    kind, arg = mutation
    if kind == "truncate":
        return value[: arg % (len(value) + 1)]
    if kind == "flip":
        if not value:
            return value
        data = bytearray(value)
        for position, mask in arg:
            data[position % len(data)] ^= mask
        return bytes(data)
    if kind == "schema_id":
        assert isinstance(arg, int), f"schema_id mutation wants an int, got {arg!r}"
        return value[:1] + arg.to_bytes(4, "big") + value[5:]
    if kind == "magic":
        return bytes([arg]) + value[1:]
    if kind == "append":
        assert isinstance(arg, bytes), f"append mutation wants bytes, got {arg!r}"
        return value + arg
    position, extra = arg
    assert isinstance(extra, bytes), f"insert mutation wants bytes, got {extra!r}"
    position %= len(value) + 1
    return value[:position] + extra + value[position:]


@fuzz_settings()
@given(n=st.integers(0, 5000), mutations=st.lists(frame_mutations, min_size=1, max_size=3))
def test_truncated_or_mutated_frames_signed_by_the_provider_never_deliver_a_bad_record(
    n: int, mutations: list[tuple[str, Any]]
) -> None:
    # given a person record whose Confluent frame was damaged and then signed by its provider
    citizen = person(n)
    value = encode(PERSON, citizen)
    for mutation in mutations:
        value = mutate_frame(value, mutation)
    headers = signed_headers(value, citizen["iin"])
    record = consumer_record(PERSON.topic, citizen["iin"].encode(), value, headers)
    # when the processor sees it; then it is decided with a reason, and delivered only if still valid
    judge("mutated_frames", record, pipeline().process(record, NOW), signed=headers)


@fuzz_settings()
@given(data=st.data(), canonical=st.sampled_from(list(CANONICAL.values())))
def test_mutated_avro_bodies_of_every_canonical_schema_are_decided_with_a_reason(
    data: st.DataObject, canonical: Any
) -> None:
    # given a record of any canonical type (random fields, so identifiers are mostly invalid) ...
    fields = data.draw(records_of(canonical))
    if canonical is PERSON and data.draw(st.booleans()):
        fields = person(data.draw(st.integers(0, 5000)))  # ... or a valid person, to reach the policy
    value = encode(canonical, fields)
    schema_id, body = unframe(value)
    # ... whose Avro body may be mutated, then signed by the provider
    if data.draw(st.booleans()):
        position = data.draw(st.integers(0, max(0, len(body) - 1)))
        body = (
            body[:position]
            + data.draw(st.binary(max_size=6))
            + body[position + data.draw(st.integers(0, 6)) :]
        )
        value = value[:5] + body
    key = data.draw(st.text(min_size=1, max_size=20))
    headers = signed_headers(
        value, key, canonical=canonical, changed=data.draw(st.none() | st.just(["phone"]))
    )
    record = consumer_record(canonical.topic, key.encode(), value, headers)
    # when the processor sees it; then it is decided with a reason and delivered only if allowed
    judge("mutated_bodies", record, pipeline().process(record, NOW), signed=headers)
    assert schema_id == canonical.schema_id


header_ops = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(ALL_NAMES), st.just(b"")),
    st.tuples(st.just("duplicate_after"), st.sampled_from(ALL_NAMES), st.binary(max_size=60)),
    st.tuples(st.just("duplicate_before"), st.sampled_from(ALL_NAMES), st.binary(max_size=60)),
    st.tuples(
        st.just("oversize"), st.sampled_from(ALL_NAMES), st.integers(1, 64).map(lambda k: b"9" * 1024 * k)
    ),
    st.tuples(
        st.just("non_utf8"), st.sampled_from(ALL_NAMES), st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\x80"])
    ),
    st.tuples(
        st.just("wrong_type"),
        st.sampled_from(ALL_NAMES),
        st.sampled_from(
            [b"", b"-1", b"1e9", b"0x10", b" 7", b"abc", b"null", b"[]", b"2026-13-45T99:99:99Z"]
        ),
    ),
)


def apply_header_op(headers: list[tuple[str, bytes]], op: tuple[str, str, bytes]) -> list[tuple[str, bytes]]:
    kind, name, value = op
    if kind == "drop":
        return [(k, v) for k, v in headers if k != name]
    if kind == "duplicate_after":
        return [*headers, (name, value)]
    if kind == "duplicate_before":
        return [(name, value), *headers]
    if kind == "non_utf8":
        garbled = [(k, value + v if k == name else v) for k, v in headers]
    else:
        garbled = [(k, value if k == name else v) for k, v in headers]
    return garbled if name in dict(headers) else [*garbled, (name, value)]


@fuzz_settings()
@given(n=st.integers(0, 5000), ops=st.lists(header_ops, min_size=1, max_size=4))
def test_adversarial_headers_never_change_what_is_delivered_or_to_whom(
    n: int, ops: list[tuple[str, str, bytes]]
) -> None:
    # given a valid signed event whose headers were dropped, duplicated, oversized or garbled
    citizen = person(n)
    value = encode(PERSON, citizen)
    signed = signed_headers(value, citizen["iin"], changed=["surname"])
    headers = list(signed)
    for op in ops:
        headers = apply_header_op(headers, op)
    assume(headers != signed)
    record = consumer_record(PERSON.topic, citizen["iin"].encode(), value, headers)
    # when the processor sees it
    outcome = judge("adversarial_headers", record, pipeline().process(record, NOW), signed=signed)
    # then a delivery (only when the signed content is intact) carries the signed identity
    if outcome == "delivered":
        assert {k: v for k, v in headers if k in SIGNED_NAMES} == {
            k: v for k, v in signed if k in SIGNED_NAMES
        }


def _written_with(version: Any, citizen: dict[str, Any], surname: str | None) -> dict[str, Any]:
    names = {f["name"] for f in version.schema["fields"]}
    return {k: v for k, v in {**citizen, "surname": surname, "nickname": None}.items() if k in names}


def test_an_event_written_with_a_later_version_is_delivered_in_that_versions_projection() -> None:
    # given the provider's later person version in which surname is optional, and an event with it null
    version = PERSON_VERSIONS["surname_optional_nickname_added"]
    citizen = person(2)
    value = encode(version, _written_with(version, citizen, None))
    headers = signed_headers(value, citizen["iin"], canonical=version, changed=["surname"])
    record = consumer_record(version.topic, citizen["iin"].encode(), value, headers)
    # when the processor sees it; then it is delivered (not a processing_error), surname null
    result = pipeline().process(record, NOW)
    assert judge("schema_versions", record, result, signed=headers) == "delivered"
    [tax] = [o.value for o in result.outputs if o.topic == "deliver.tax.tax-person"]
    assert tax is not None
    assert unframe(tax)[0] != PERSON.schema_id


@fuzz_settings(0.5)
@given(
    data=st.data(),
    version=st.sampled_from([PERSON, *PERSON_VERSIONS.values()]),
    n=st.integers(0, 5000),
    valid=st.sampled_from([True, True, False]),  # mostly valid persons, to reach the policy
)
def test_events_written_with_any_version_of_the_providers_schema_are_decided_with_a_reason(
    data: st.DataObject, version: Any, n: int, valid: bool
) -> None:
    # given an event written with the provider's first or any later person version (valid persons
    # with any surname, or arbitrary records of that version), signed by the provider
    citizen = person(n)
    if valid:
        optional = version is PERSON_VERSIONS["surname_optional_nickname_added"]
        surname = data.draw(st.none() | st.text(max_size=20)) if optional else citizen["surname"]
        fields = _written_with(version, citizen, surname)
    else:
        fields = data.draw(records_of(version))
    value = encode(version, fields)
    key = str(fields.get("iin") or "k")
    headers = signed_headers(
        value, key, canonical=version, changed=data.draw(st.none() | st.just(["surname", "phone"]))
    )
    record = consumer_record(version.topic, key.encode(), value, headers)
    # when the processor sees it; then it is decided with a reason, in the projection of its version
    judge("schema_versions", record, pipeline().process(record, NOW), signed=headers)
