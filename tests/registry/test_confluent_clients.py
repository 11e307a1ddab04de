"""Confluent's own SchemaRegistryClient, AvroSerializer and AvroDeserializer work unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from bus.event.serde import AvroSerde
from bus.ids import SchemaId

V1 = {
    "type": "record",
    "name": "Citizen",
    "namespace": "gov.test",
    "fields": [{"name": "iin", "type": "string"}, {"name": "name", "type": "string"}],
}
V2 = {**V1, "fields": [*V1["fields"], {"name": "phone", "type": ["null", "string"], "default": None}]}
INCOMPATIBLE = {**V1, "fields": [*V1["fields"], {"name": "age", "type": "int"}]}


@pytest.fixture
def client(registry_url: str, operator_token: str) -> Iterator[SchemaRegistryClient]:
    config = {"url": registry_url, "basic.auth.user.info": f"operator:{operator_token}"}
    with SchemaRegistryClient(config) as client:
        yield client


@pytest.fixture
def subject(unique: str) -> str:
    return f"ingress.agency-{unique}.citizen-value"


def avro(schema: dict[str, Any]) -> Schema:
    return Schema(json.dumps(schema), "AVRO")


def test_register_returns_an_id_and_re_registering_returns_the_same(
    client: SchemaRegistryClient, subject: str
) -> None:
    first = client.register_schema(subject, avro(V1))
    again = client.register_schema(subject, Schema(json.dumps(V1, indent=4), "AVRO"))
    assert first == again
    assert client.get_versions(subject) == [1]


def test_same_schema_under_two_subjects_gets_the_same_id(client: SchemaRegistryClient, unique: str) -> None:
    a = client.register_schema(f"ingress.a-{unique}.citizen-value", avro(V2))
    b = client.register_schema(f"ingress.b-{unique}.citizen-value", avro(V2))
    assert a == b


def test_lookup_fetch_by_id_and_latest_version(client: SchemaRegistryClient, subject: str) -> None:
    schema_id = client.register_schema(subject, avro(V1))
    client.register_schema(subject, avro(V2))
    found = client.lookup_schema(subject, avro(V1))
    latest = client.get_latest_version(subject)
    assert (found.schema_id, found.version) == (schema_id, 1)
    fetched = client.get_schema(schema_id).schema_str
    assert fetched is not None, f"schema {schema_id} came back without schema_str"
    assert json.loads(fetched) == V1
    assert latest.version == 2
    latest_str = latest.schema.schema_str
    assert latest_str is not None, f"latest version of {subject} came back without schema_str"
    assert json.loads(latest_str) == V2


def test_set_and_get_subject_compatibility(client: SchemaRegistryClient, subject: str) -> None:
    client.register_schema(subject, avro(V1))
    client.set_compatibility(subject, "FULL")
    assert client.get_compatibility(subject) == "FULL"


def test_incompatible_change_is_rejected_with_409(client: SchemaRegistryClient, subject: str) -> None:
    client.register_schema(subject, avro(V1))
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema(subject, avro(INCOMPATIBLE))
    assert info.value.http_status_code == 409
    assert info.value.error_code == 409
    assert not client.test_compatibility(subject, avro(INCOMPATIBLE))
    assert client.test_compatibility(subject, avro(V2))


def test_delete_soft_then_permanent(client: SchemaRegistryClient, subject: str) -> None:
    schema_id = client.register_schema(subject, avro(V1))
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    assert client.get_schema(schema_id) is not None  # soft-deleted ids stay readable
    assert client.delete_subject(subject, permanent=True) == [1]
    with pytest.raises(SchemaRegistryError) as info:
        client.get_versions(subject)
    assert info.value.error_code == 40401


def test_permanent_delete_without_soft_delete_is_40405(client: SchemaRegistryClient, subject: str) -> None:
    client.register_schema(subject, avro(V1))
    with pytest.raises(SchemaRegistryError) as info:
        client.delete_subject(subject, permanent=True)
    assert info.value.error_code == 40405


def test_value_serialized_by_confluent_decodes_with_bus_serde(
    client: SchemaRegistryClient, subject: str
) -> None:
    # given Confluent's AvroSerializer registering through our registry
    topic = subject.removesuffix("-value")
    serializer = AvroSerializer(client, json.dumps(V1))
    payload = serializer(
        {"iin": "900514301239", "name": "Nurlan"}, SerializationContext(topic, MessageField.VALUE)
    )
    assert payload is not None
    # when bus/event/serde.py decodes it with the registry as its lookup
    decoded = AvroSerde(lambda schema_id: client.get_schema(schema_id).schema_str).decode(
        payload, topic=topic
    )
    # then the record is intact
    assert decoded is not None
    assert decoded.record == {"iin": "900514301239", "name": "Nurlan"}


def test_value_serialized_by_bus_serde_decodes_with_confluent(
    client: SchemaRegistryClient, subject: str
) -> None:
    topic = subject.removesuffix("-value")
    schema_id = SchemaId(client.register_schema(subject, avro(V2)))
    payload = AvroSerde(lambda i: client.get_schema(i).schema_str).encode(
        schema_id, {"iin": "851122404567", "name": "Aigerim", "phone": "+77071234567"}, topic=topic
    )
    record = AvroDeserializer(client)(payload, SerializationContext(topic, MessageField.VALUE))
    assert record == {"iin": "851122404567", "name": "Aigerim", "phone": "+77071234567"}
