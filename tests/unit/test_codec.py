"""Generated Avro readers agree with fastavro, and byte-level projections equal re-encoding."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.event.avro_reader import Unsupported, compile_reader, join_fields, projection_plan
from bus.event.serde import AvroSerde
from bus.ids import SchemaId
from bus.metrics import AVRO_READER_FALLBACKS
from bus.policy.agreement import Agreement
from bus.policy.compile import compile_agreement
from tests.conftest import REPO
from tests.people import person

SCHEMAS = sorted((REPO / "schemas").glob("*/*.avsc"))
PERSON = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
KITCHEN_SINK: dict[str, Any] = {
    "type": "record",
    "name": "Sink",
    "namespace": "test",
    "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "precise", "type": "double"},
        {"name": "blob", "type": "bytes"},
        {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 3}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
        {"name": "again", "type": ["null", "Colour", "test.Code"]},
        {
            "name": "child",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Child",
                    "fields": [{"name": "day", "type": {"type": "int", "logicalType": "date"}}],
                },
            ],
        },
        {"name": "children", "type": {"type": "array", "items": "Child"}},
    ],
}
SINK_VALUE = {
    "flag": True,
    "small": -5,
    "big": 2**40,
    "ratio": 0.5,
    "precise": -1.25,
    "blob": b"\x00\xff",
    "code": b"abc",
    "tags": ["a", "ä€"],
    "attrs": {"x": None, "y": -3},
    "colour": "BLUE",
    "again": "GREEN",
    "child": {"day": dt.date(1969, 12, 31)},
    "children": [{"day": dt.date(2026, 11, 23)}, {"day": dt.date(1, 1, 1)}],
}


def encode(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


def fastavro_outcome(schema: dict[str, Any], body: bytes) -> object:
    stream = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(stream, fastavro.parse_schema(schema), None)
    except Exception:
        return "error"
    return record if stream.tell() == len(body) else "error"


def test_person_and_kitchen_sink_decode_as_fastavro_does() -> None:
    for schema, record in [(PERSON, person(3)), (KITCHEN_SINK, SINK_VALUE)]:
        body = encode(schema, record)
        decoded, spans, end = compile_reader(schema)(body)
        assert (decoded, end, spans[0], spans[-1]) == (
            fastavro_outcome(schema, body),
            len(body),
            0,
            len(body),
        )


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.stem)
def test_every_canonical_schema_compiles(path: Any) -> None:
    compile_reader(json.loads(path.read_text()))


def test_unsupported_logical_types_stay_with_fastavro() -> None:
    schema = {
        "type": "record",
        "name": "T",
        "fields": [{"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
    }
    with pytest.raises(Unsupported):
        compile_reader(schema)


@settings(max_examples=500, deadline=None)
@given(
    which=st.sampled_from(["person", "sink"]),
    cut=st.integers(min_value=0, max_value=200),
    flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3),
    tail=st.binary(max_size=4),
)
def test_mangled_bodies_decode_as_fastavro_does_or_are_left_to_it(
    which: str, cut: int, flips: list[tuple[int, int]], tail: bytes
) -> None:
    schema, record = (
        (PERSON, person(7, phone="+77010000000")) if which == "person" else (KITCHEN_SINK, SINK_VALUE)
    )
    body = bytearray(encode(schema, record))
    for position, value in flips:
        if body:
            body[position % len(body)] = value
    mangled = bytes(body[: cut % (len(body) + 1)]) + tail
    try:
        decoded, _, end = compile_reader(schema)(mangled)
    except Exception:
        return  # the caller then asks fastavro, which decides
    if end == len(mangled):
        assert decoded == fastavro_outcome(schema, mangled)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=80))
def test_random_bytes_decode_as_fastavro_does_or_are_left_to_it(body: bytes) -> None:
    try:
        decoded, _, end = compile_reader(PERSON)(body)
    except Exception:
        return
    if end == len(body):
        assert decoded == fastavro_outcome(PERSON, body)


def agreement(fields: tuple[str, ...]) -> Agreement:
    return Agreement(
        id="a",
        provider="civil",
        consumer="tax",
        record_type="person",
        fields=fields,
        purpose="p",
        legal_basis="l",
        valid_from=dt.date(2026, 1, 1),
    )


@pytest.mark.parametrize(
    "fields",
    [
        ("iin", "surname"),
        ("iin", "birth_date", "sex", "registered_address"),
        ("iin", "surname", "given_name", "patronymic", "registered_address", "document"),
        tuple(f["name"] for f in PERSON["fields"]),
    ],
)
def test_whole_field_projections_are_the_fields_bytes(fields: tuple[str, ...]) -> None:
    compiled = compile_agreement(agreement(fields), PERSON)
    plan = projection_plan(PERSON, compiled.schema)
    assert plan is not None
    record = person(11, patronymic="Ivanovich")
    record["document"] = {
        "type": "PASSPORT",
        "number": "N1",
        "issued_on": dt.date(2020, 1, 2),
        "expires_on": None,
        "issuer": "MVD",
    }
    body = encode(PERSON, record)
    _, spans, _ = compile_reader(PERSON)(body)
    assert join_fields(body, spans, plan) == encode(compiled.schema, compiled.project(record))


def test_nested_grants_are_not_sliced() -> None:
    compiled = compile_agreement(agreement(("iin", "registered_address.region")), PERSON)
    assert projection_plan(PERSON, compiled.schema) is None


def test_a_schema_the_reader_cannot_compile_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given: a schema with a logical type the generated reader leaves to fastavro
    schema = {
        "type": "record",
        "name": "T",
        "fields": [{"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
    }
    serde = AvroSerde({SchemaId(41): schema}.get)
    before = AVRO_READER_FALLBACKS.labels("Unsupported")._value.get()
    # when: the schema is looked up several times
    with caplog.at_level(logging.WARNING, logger="bus.event.serde"):
        for _ in range(3):
            serde.schema(SchemaId(41), topic="ingress.civil.person")
    # then: one fallback counted, one warning naming the schema id and topic
    assert AVRO_READER_FALLBACKS.labels("Unsupported")._value.get() == before + 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "schema id 41" in warnings[0]
    assert "ingress.civil.person" in warnings[0]
