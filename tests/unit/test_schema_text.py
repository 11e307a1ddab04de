"""Schema text: parsing, checking and normalising Avro schemas for the registry."""

from __future__ import annotations

import hashlib
import json
import random
import warnings
from typing import Any

import avro.schema
import pytest
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given
from hypothesis import strategies as st

from bus.registry.errors import InvalidSchema
from bus.registry.schema_text import ParsedSchema, parse_avro, parse_schema_type

SUBJECT = "ingress.civil-registry.person-value"


def record(*fields: dict[str, Any], name: str = "Person", **props: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **props}


def field(name: str, type_: Any, **props: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **props}


def parse(schema: Any) -> ParsedSchema:
    return parse_avro(json.dumps(schema), subject=SUBJECT)


def rejection(schema: Any) -> InvalidSchema:
    text = schema if isinstance(schema, str) else json.dumps(schema)
    with pytest.raises(InvalidSchema) as caught:
        parse_avro(text, subject=SUBJECT)
    return caught.value


# --- identity: text and fingerprint ------------------------------------------------------


def test_whitespace_and_key_order_do_not_change_text_or_fingerprint() -> None:
    compact = '{"type":"record","name":"P","fields":[{"name":"a","type":"int"}]}'
    spaced = '{\n  "fields": [ {"type": "int", "name": "a"} ],\n  "name": "P",\n  "type": "record"\n}'
    assert parse_avro(compact) == parse_avro(spaced)
    assert parse_avro(compact).fingerprint == parse_avro(spaced).fingerprint


def test_text_is_compact_json_with_sorted_keys() -> None:
    parsed = parse_avro('{ "type": "record", "name": "P", "fields": [ {"type": "int", "name": "a"} ] }')
    assert parsed.text == '{"fields":[{"name":"a","type":"int"}],"name":"P","type":"record"}'


def test_field_order_is_part_of_the_text() -> None:
    ab = parse(record(field("a", "int"), field("b", "int")))
    ba = parse(record(field("b", "int"), field("a", "int")))
    assert ab.fingerprint != ba.fingerprint


def test_fingerprint_is_sha256_of_text() -> None:
    parsed = parse(record(field("a", "int")))
    assert parsed.fingerprint == hashlib.sha256(parsed.text.encode("utf-8")).hexdigest()


def test_doc_change_makes_another_schema_with_the_same_canonical_form() -> None:
    plain = parse(record(field("a", "int")))
    documented = parse(record(field("a", "int", doc="The a.")))
    assert plain.fingerprint != documented.fingerprint
    assert plain.canonical_form == documented.canonical_form


def test_parsed_schemas_compare_and_hash_by_text_alone() -> None:
    first, second = parse(record(field("a", "int"))), parse(record(field("a", "int")))
    assert first.avro is not second.avro
    assert first == second
    assert len({first, second}) == 1
    assert "avro=" not in repr(first)


def shuffled(node: Any, rng: random.Random) -> Any:
    if isinstance(node, dict):
        items = list(node.items())
        rng.shuffle(items)
        return {key: shuffled(value, rng) for key, value in items}
    if isinstance(node, list):
        return [shuffled(item, rng) for item in node]
    return node


@given(seed=st.integers(), indent=st.one_of(st.none(), st.integers(0, 4)))
def test_any_key_order_and_indentation_give_the_same_fingerprint(
    person_schema: dict[str, Any], seed: int, indent: int | None
) -> None:
    text = json.dumps(shuffled(person_schema, random.Random(seed)), indent=indent)
    assert parse_avro(text).fingerprint == parse_avro(json.dumps(person_schema)).fingerprint


# --- what the parsed schema tells ---------------------------------------------------------


def test_full_name_of_a_record_includes_its_namespace(person_schema: dict[str, Any]) -> None:
    assert parse(person_schema).full_name == "gov.civil.Person"


def test_unnamed_schema_has_no_full_name() -> None:
    assert parse(["null", "string"]).full_name is None


def test_quoted_primitive_name_is_a_schema() -> None:
    parsed = parse_avro('"string"')
    assert (parsed.text, parsed.canonical_form, parsed.full_name) == ('"string"', '"string"', None)


def test_avro_attribute_is_the_avro_package_schema() -> None:
    parsed = parse(record(field("a", "int")))
    assert isinstance(parsed.avro, avro.schema.RecordSchema)
    assert parsed.avro.fields[0].type.type == "int"


def test_project_schema_parses(person_schema: dict[str, Any]) -> None:
    assert parse(person_schema).avro.type == "record"


# --- Parsing Canonical Form --------------------------------------------------------------


def test_canonical_form_keeps_only_what_decoding_needs(person_schema: dict[str, Any]) -> None:
    canonical = json.loads(parse(person_schema).canonical_form)
    assert "doc" not in canonical
    assert canonical["name"] == "gov.civil.Person"
    assert canonical["fields"][3] == {"name": "patronymic", "type": ["null", "string"]}


def test_canonical_form_writes_a_logical_type_as_its_primitive() -> None:
    parsed = parse(record(field("born", {"type": "int", "logicalType": "date"})))
    assert (
        parsed.canonical_form == '{"name":"Person","type":"record","fields":[{"name":"born","type":"int"}]}'
    )


def test_canonical_form_refers_to_a_fixed_type_used_again_by_name() -> None:
    digest = {"type": "fixed", "name": "Digest", "size": 32}
    parsed = parse(record(field("a", digest), field("b", {"type": "map", "values": "Digest"})))
    assert json.loads(parsed.canonical_form)["fields"][1]["type"] == {"type": "map", "values": "Digest"}


def test_canonical_form_keeps_non_ascii_names_as_text() -> None:
    parsed = parse(record(field("аты", "string"), name="Тұлға"))
    assert (
        parsed.canonical_form == '{"name":"Тұлға","type":"record","fields":[{"name":"аты","type":"string"}]}'
    )


def test_empty_namespace_puts_a_nested_type_in_the_null_namespace() -> None:
    sex = {"type": "enum", "name": "Sex", "namespace": "", "symbols": ["MALE", "FEMALE"]}
    parsed = parse(record(field("sex", sex), namespace="gov.civil"))
    assert json.loads(parsed.canonical_form)["fields"][0]["type"]["name"] == "Sex"


def test_canonical_form_agrees_with_fastavro(person_schema: dict[str, Any]) -> None:
    assert parse(person_schema).canonical_form == to_parsing_canonical_form(person_schema)


# --- refusals: JSON ----------------------------------------------------------------------


def test_invalid_schema_is_confluent_422_42201() -> None:
    error = rejection("{")
    assert (error.status, error.error_code) == (422, 42201)


def test_invalid_json_names_the_subject_and_the_position() -> None:
    error = rejection('{"type": "record",\n "name": }')
    assert SUBJECT in error.message
    assert "not valid JSON" in error.message
    assert "line 2 column 10" in error.message
    assert error.hint


def test_unquoted_type_name_is_not_json() -> None:
    assert "not valid JSON" in rejection("string").message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_number_constants_are_refused(constant: str) -> None:
    text = '{"type":"record","name":"P","fields":[{"name":"x","type":"double","default":CONSTANT}]}'
    text = text.replace("CONSTANT", constant)
    assert f"{constant} is not a JSON value" in rejection(text).message


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    assert "nested too deeply" in rejection("[" * 100_000).message


# --- refusals: Avro ----------------------------------------------------------------------


def test_unknown_type_carries_the_avro_message() -> None:
    error = rejection(record(field("a", "strin")))
    assert SUBJECT in error.message
    assert "is not a valid Avro schema" in error.message
    assert "strin" in error.message
    assert error.hint


def test_record_without_fields_is_refused() -> None:
    assert "fields" in rejection({"type": "record", "name": "P"}).message


def test_duplicate_field_names_are_refused() -> None:
    assert "already in use" in rejection(record(field("a", "int"), field("a", "long"))).message


def test_long_avro_messages_are_shortened() -> None:
    huge = record(field("a", {"type": "nope", "doc": "x" * 10_000}))
    assert len(rejection(huge).message) < 1_000


# --- refusals: names ---------------------------------------------------------------------


def test_names_may_use_any_alphabet_as_in_java_avro() -> None:
    parsed = parse(record(field("туған_күні", "int"), name="Тұлға", namespace="kz.азаматтық"))
    assert parsed.full_name == "kz.азаматтық.Тұлға"


@pytest.mark.parametrize("name", ["x-y", "1st", "", "a b"])
def test_invalid_field_name_is_refused(name: str) -> None:
    assert "field" in rejection(record(field(name, "int"))).message.lower()


@pytest.mark.parametrize("namespace", ["my-agency", "a..b", "1gov"])
def test_invalid_namespace_is_refused(namespace: str) -> None:
    assert "record name" in rejection(record(field("a", "int"), namespace=namespace)).message


def test_invalid_enum_symbol_is_refused() -> None:
    sex = {"type": "enum", "name": "Sex", "symbols": ["MALE", "NOT-KNOWN"]}
    assert "symbol 'NOT-KNOWN'" in rejection(sex).message


def test_enum_symbols_must_be_an_array() -> None:
    assert "symbols must be an array" in rejection({"type": "enum", "name": "E", "symbols": "AB"}).message


def test_enum_default_must_be_one_of_its_symbols() -> None:
    sex = {"type": "enum", "name": "Sex", "symbols": ["MALE", "FEMALE"], "default": "OTHER"}
    assert "not one of its symbols" in rejection(sex).message


@pytest.mark.parametrize("aliases", ["Old", [1], ["old-name"]])
def test_aliases_must_be_an_array_of_names(aliases: Any) -> None:
    assert "aliases" in rejection(record(field("a", "int"), aliases=aliases)).message


# --- refusals: field defaults ------------------------------------------------------------

SEX = {"type": "enum", "name": "Sex", "symbols": ["MALE", "FEMALE"]}
DIGEST = {"type": "fixed", "name": "Digest", "size": 4}
ADDRESS = record(field("city", "string"), field("flat", ["null", "string"], default=None), name="Address")


@pytest.mark.parametrize(
    ("type_", "default"),
    [
        pytest.param("int", "a", id="int-string"),
        pytest.param("int", 1.5, id="int-fraction"),
        pytest.param("int", 2**31, id="int-too-big"),
        pytest.param("int", True, id="int-boolean"),
        pytest.param("long", 2**63, id="long-too-big"),
        pytest.param("double", "abc", id="double-non-numeric-string"),
        pytest.param("boolean", 0, id="boolean-number"),
        pytest.param("string", None, id="string-null"),
        pytest.param("bytes", 7, id="bytes-number"),
        pytest.param("null", 0, id="null-number"),
        pytest.param(SEX, "OTHER", id="enum-unknown-symbol"),
        pytest.param(DIGEST, "abc", id="fixed-wrong-length"),
        pytest.param({"type": "array", "items": "int"}, [1, "2"], id="array-bad-item"),
        pytest.param({"type": "map", "values": "int"}, {"a": "1"}, id="map-bad-value"),
        pytest.param(ADDRESS, {"flat": None}, id="record-missing-field-without-default"),
        pytest.param(ADDRESS, {"city": 1}, id="record-bad-field"),
        pytest.param(["null", "string"], 1, id="union-no-branch-matches"),
    ],
)
def test_default_that_does_not_match_its_type_is_refused(type_: Any, default: Any) -> None:
    error = rejection(record(field("x", type_, default=default)))
    assert "field 'x' of record 'Person' has default" in error.message
    assert error.error_code == 42201


def test_default_refusal_shows_the_default_and_the_type() -> None:
    assert (
        'has default "a", which is not a valid int'
        in rejection(record(field("x", "int", default="a"))).message
    )


def test_default_of_a_field_in_a_nested_record_is_checked() -> None:
    inner = record(field("n", "int", default="z"), name="Inner")
    assert "field 'n' of record 'Inner'" in rejection(record(field("inner", inner))).message


@pytest.mark.parametrize(
    ("type_", "default"),
    [
        pytest.param("int", -(2**31), id="int-minimum"),
        pytest.param("long", 2**40, id="long"),
        pytest.param("float", 1, id="float-from-integer"),
        pytest.param("double", "NaN", id="double-textual-as-in-java"),
        pytest.param("boolean", False, id="boolean"),
        pytest.param("bytes", "\u00ff\u0000", id="bytes"),
        pytest.param("null", None, id="null"),
        pytest.param(SEX, "FEMALE", id="enum"),
        pytest.param(DIGEST, "abcd", id="fixed"),
        pytest.param({"type": "array", "items": "int"}, [1, 2], id="array"),
        pytest.param({"type": "map", "values": "int"}, {"a": 1}, id="map"),
        pytest.param(ADDRESS, {"city": "Astana"}, id="record-using-field-default"),
        pytest.param(["null", "string"], None, id="union-first-branch"),
        pytest.param(["null", "string"], "n/a", id="union-other-branch-as-in-java"),
        pytest.param({"type": "int", "logicalType": "date"}, 0, id="logical-type"),
    ],
)
def test_default_that_matches_its_type_is_accepted(type_: Any, default: Any) -> None:
    assert parse(record(field("x", type_, default=default))).full_name == "Person"


# --- logical types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"type": "string", "logicalType": "postal-code"}, id="unknown"),
        pytest.param({"type": "string", "logicalType": "date"}, id="on-wrong-type"),
        pytest.param({"type": "bytes", "logicalType": "decimal", "precision": -1}, id="bad-decimal"),
    ],
)
def test_unusable_logical_type_is_ignored_silently(schema: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = parse(schema)
    assert parsed.canonical_form == json.dumps(schema["type"])


# --- schema types ------------------------------------------------------------------------


@pytest.mark.parametrize("schema_type", [None, "AVRO", "avro"])
def test_avro_or_no_schema_type_is_accepted(schema_type: str | None) -> None:
    parse_schema_type(schema_type)


@pytest.mark.parametrize("schema_type", ["JSON", "PROTOBUF", "XML"])
def test_other_schema_types_are_refused(schema_type: str) -> None:
    with pytest.raises(InvalidSchema) as caught:
        parse_schema_type(schema_type)
    assert caught.value.message == (
        f"schema type {schema_type} is not supported: this registry stores Avro only"
    )
    assert caught.value.error_code == 42201
    assert caught.value.hint
