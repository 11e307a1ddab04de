"""Confluent wire format with fastavro (DESIGN §3)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.errors import (
    AvroDecodeError,
    EmptyPayloadError,
    MagicByteError,
    RecordMismatchError,
    TruncatedPayloadError,
    UnknownSchemaIdError,
    WireFormatError,
)
from bus.event.serde import AvroSerde, frame, unframe
from bus.ids import SchemaId
from tests.conftest import REPO

TOPIC = "ingress.civil-registry.person"
PERSON_ID = SchemaId(7)


@pytest.fixture
def serde(person_schema: dict[str, Any]) -> AvroSerde:
    return AvroSerde({PERSON_ID: person_schema}.get)


@pytest.fixture
def person() -> dict[str, Any]:
    return {
        "iin": "900514301239",
        "surname": "Abenov",
        "given_name": "Nurlan",
        "patronymic": None,
        "birth_date": dt.date(1990, 5, 14),
        "sex": "MALE",
        "citizenship": "KAZ",
        "registered_address": None,
        "phone": "+77011234567",
        "document": None,
    }


def test_encoded_value_has_confluent_header(serde: AvroSerde, person: dict[str, Any]) -> None:
    payload = serde.encode(PERSON_ID, person, topic=TOPIC)
    assert payload[0] == 0
    assert struct.unpack(">I", payload[1:5])[0] == PERSON_ID


def test_decode_returns_what_was_encoded(serde: AvroSerde, person: dict[str, Any]) -> None:
    decoded = serde.decode(serde.encode(PERSON_ID, person, topic=TOPIC), topic=TOPIC)
    assert decoded is not None
    assert (decoded.schema_id, decoded.record) == (PERSON_ID, person)


def test_missing_optional_fields_take_their_defaults(serde: AvroSerde, person: dict[str, Any]) -> None:
    del person["phone"], person["citizenship"]
    decoded = serde.decode(serde.encode(PERSON_ID, person))
    assert decoded is not None
    assert (decoded.record["phone"], decoded.record["citizenship"]) == (None, "KAZ")


def test_null_value_is_a_tombstone(serde: AvroSerde) -> None:
    assert serde.decode(None, topic=TOPIC) is None


def test_lookup_is_called_once_per_schema_id(person_schema: dict[str, Any], person: dict[str, Any]) -> None:
    calls: list[int] = []

    def lookup(schema_id: SchemaId) -> dict[str, Any]:
        calls.append(schema_id)
        return person_schema

    serde = AvroSerde(lookup)
    for _ in range(3):
        serde.decode(serde.encode(PERSON_ID, person))
    assert calls == [PERSON_ID]


def test_empty_payload_is_rejected_naming_the_topic(serde: AvroSerde) -> None:
    with pytest.raises(EmptyPayloadError, match=TOPIC):
        serde.decode(b"", topic=TOPIC)


def test_wrong_magic_byte_is_rejected(serde: AvroSerde) -> None:
    with pytest.raises(MagicByteError, match="0x7b"):
        serde.decode(b'{"iin": "1"}', topic=TOPIC)


def test_payload_shorter_than_header_is_truncated(serde: AvroSerde) -> None:
    with pytest.raises(TruncatedPayloadError, match="shorter than the 5-byte"):
        serde.decode(b"\x00\x00\x00", topic=TOPIC)


def test_truncated_body_is_rejected(serde: AvroSerde, person: dict[str, Any]) -> None:
    payload = serde.encode(PERSON_ID, person)
    with pytest.raises(TruncatedPayloadError, match=f"schema id {PERSON_ID}"):
        serde.decode(payload[:20], topic=TOPIC)


def test_unknown_schema_id_is_named(serde: AvroSerde) -> None:
    with pytest.raises(UnknownSchemaIdError, match="schema id 99 used on topic") as info:
        serde.decode(frame(99, b"\x02"), topic=TOPIC)
    assert info.value.schema_id == 99


def test_leftover_bytes_mean_a_different_schema(serde: AvroSerde, person: dict[str, Any]) -> None:
    with pytest.raises(AvroDecodeError, match="left over"):
        serde.decode(serde.encode(PERSON_ID, person) + b"\x00\x00", topic=TOPIC)


def test_encode_names_the_mismatching_field(serde: AvroSerde, person: dict[str, Any]) -> None:
    person["birth_date"] = "14 May 1990"
    with pytest.raises(RecordMismatchError, match="birth_date"):
        serde.encode(PERSON_ID, person, topic=TOPIC)


def test_encode_names_a_missing_required_field(serde: AvroSerde, person: dict[str, Any]) -> None:
    del person["surname"]
    with pytest.raises(RecordMismatchError, match="surname"):
        serde.encode(PERSON_ID, person, topic=TOPIC)


def test_encode_rejects_fields_the_schema_lacks(serde: AvroSerde, person: dict[str, Any]) -> None:
    person["favourite_colour"] = "blue"
    with pytest.raises(RecordMismatchError, match="favourite_colour"):
        serde.encode(PERSON_ID, person, topic=TOPIC)


def test_unframe_splits_header_and_body() -> None:
    assert unframe(frame(258, b"body")) == (258, b"body")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_wire_format_errors(payload: bytes) -> None:
    serde = AvroSerde({PERSON_ID: _PERSON_SCHEMA}.get)
    with contextlib.suppress(WireFormatError):
        serde.decode(payload, topic=TOPIC)


@given(st.binary(max_size=120))
def test_arbitrary_bodies_under_a_known_id_decode_or_fail_typed(body: bytes) -> None:
    serde = AvroSerde({PERSON_ID: _PERSON_SCHEMA}.get)
    try:
        decoded = serde.decode(frame(PERSON_ID, body), topic=TOPIC)
    except WireFormatError:
        return
    assert decoded is not None
    assert isinstance(decoded.record["iin"], str)


_PERSON_SCHEMA: dict[str, Any] = json.loads((REPO / "schemas/civil/person.avsc").read_text())


def test_problems_lists_every_bad_field(serde: AvroSerde, person: dict[str, Any]) -> None:
    # given a record with a wrong type, a missing required field and an unknown field
    person["birth_date"] = "14 May 1990"
    del person["surname"]
    person["shoe_size"] = 42
    # when its problems are listed
    problems = dict(serde.problems(PERSON_ID, person))
    # then each is named
    assert set(problems) == {"birth_date", "surname", "shoe_size"}
    assert problems["surname"] == "required field is missing"


def test_a_valid_record_has_no_problems(serde: AvroSerde, person: dict[str, Any]) -> None:
    assert serde.problems(PERSON_ID, person) == []


def test_problems_name_a_bad_array_item_by_its_index_and_check_a_reused_named_type() -> None:
    # given a schema whose array holds records, and a named enum used twice (defined once, then referenced)
    schema = {
        "type": "record",
        "name": "Household",
        "fields": [
            {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
            {"name": "other_kind", "type": "Kind"},
            {
                "name": "members",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "Member",
                        "fields": [{"name": "iin", "type": "string"}],
                    },
                },
            },
        ],
    }
    serde = AvroSerde({SchemaId(1): schema}.get)
    record = {"kind": "A", "other_kind": "B", "members": [{"iin": "1"}, {"iin": 2}]}
    # when the record is checked / then only the bad item's field is named, by its full path
    assert [path for path, _ in serde.problems(SchemaId(1), record)] == ["members[1].iin"]


def test_a_nullable_field_without_a_default_is_still_required() -> None:
    # given a schema whose nullable field has no default (fastavro alone would accept its absence as null)
    schema = {
        "type": "record",
        "name": "Note",
        "fields": [{"name": "id", "type": "string"}, {"name": "text", "type": ["null", "string"]}],
    }
    serde = AvroSerde({SchemaId(1): schema}.get)
    # when a record without it is checked / then it is named as missing
    assert serde.problems(SchemaId(1), {"id": "n-1"}) == [("text", "required field is missing")]
    assert serde.problems(SchemaId(1), {"id": "n-1", "text": None}) == []
