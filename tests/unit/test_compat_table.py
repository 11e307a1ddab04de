"""Compatibility levels, as Confluent documents them, over Avro's schema resolution rules.

BACKWARD: the new schema reads data written with the previous version (delete fields, add
fields that have defaults). FORWARD: the previous version reads data written with the new
schema (add fields, delete fields that have defaults). FULL: both. The ``_TRANSITIVE`` levels
check every previous version instead of only the latest one.

Each row's expectation follows the Avro specification's resolution rules: a reader field
missing from the writer needs a default, a writer field missing from the reader is ignored,
int is promoted to long (not back), a writer enum symbol the reader lacks fails unless the
reader enum has a default, and every branch of a writer union must be readable.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest

from bus.registry.compat import CompatibilityLevel, check_compatibility, parse_level
from bus.registry.errors import InvalidCompatibilityLevel
from bus.registry.schema_text import ParsedSchema, parse_avro

NONE = CompatibilityLevel.NONE
BACKWARD = CompatibilityLevel.BACKWARD
BACKWARD_TRANSITIVE = CompatibilityLevel.BACKWARD_TRANSITIVE
FORWARD = CompatibilityLevel.FORWARD
FORWARD_TRANSITIVE = CompatibilityLevel.FORWARD_TRANSITIVE
FULL = CompatibilityLevel.FULL
FULL_TRANSITIVE = CompatibilityLevel.FULL_TRANSITIVE

Schema = Any


def person(*fields: dict[str, Any]) -> Schema:
    return {"type": "record", "name": "Person", "namespace": "gov.civil", "fields": list(fields)}


def field(name: str, type_: Any, **props: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **props}


def sex(*symbols: str, **props: Any) -> Schema:
    return {"type": "enum", "name": "Sex", "symbols": list(symbols), **props}


IIN = field("iin", "string")
IIN_AS_INT = field("iin", "int")
PHONE = field("phone", "string")
PHONE_OPTIONAL = field("phone", "string", default="")

WITH_IIN = person(IIN)
WITH_PHONE = person(IIN, PHONE)
WITH_OPTIONAL_PHONE = person(IIN, PHONE_OPTIONAL)
IIN_NUMBER = person(IIN_AS_INT)
AGE_INT = person(IIN, field("age", "int"))
AGE_LONG = person(IIN, field("age", "long"))
SEX_TWO = person(IIN, field("sex", sex("MALE", "FEMALE")))
SEX_THREE = person(IIN, field("sex", sex("MALE", "FEMALE", "UNKNOWN")))
SEX_TWO_DEFAULT = person(IIN, field("sex", sex("MALE", "FEMALE", default="MALE")))
SEX_THREE_DEFAULT = person(IIN, field("sex", sex("MALE", "FEMALE", "UNKNOWN", default="MALE")))
CONTACT_NARROW = person(IIN, field("contact", ["null", "string"], default=None))
CONTACT_WIDE = person(IIN, field("contact", ["null", "string", "long"], default=None))
PHONE_AS_INT = person(IIN, field("phone", "int"))
OPTIONAL_PHONE_AS_INT = person(IIN, field("phone", "int", default=0))

# Histories of two versions for the transitive cases, oldest first.
PHONE_GAINS_DEFAULT = [WITH_IIN, WITH_OPTIONAL_PHONE]  # v2 adds phone with a default
REQUIRED_PHONE_GAINS_DEFAULT = [WITH_PHONE, WITH_OPTIONAL_PHONE]  # v1 requires phone, v2 does not
PHONE_DELETED = [WITH_PHONE, WITH_IIN]  # v1 has phone as string, v2 deletes it


class Case(NamedTuple):
    name: str
    level: CompatibilityLevel
    previous: list[Schema]  # oldest first; versions are numbered from 1
    new: Schema
    compatible: bool


# fmt: off
CASES = [
    # A new field with a default: new readers fill it in, old readers skip it.
    Case("add field with default", NONE, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    Case("add field with default", BACKWARD, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    Case("add field with default", BACKWARD_TRANSITIVE, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    Case("add field with default", FORWARD, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    Case("add field with default", FORWARD_TRANSITIVE, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    Case("add field with default", FULL, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    Case("add field with default", FULL_TRANSITIVE, [WITH_IIN], WITH_OPTIONAL_PHONE, True),
    # A new field without a default: the new reader has nothing to put in it for old data.
    Case("add field without default", NONE, [WITH_IIN], WITH_PHONE, True),
    Case("add field without default", BACKWARD, [WITH_IIN], WITH_PHONE, False),
    Case("add field without default", BACKWARD_TRANSITIVE, [WITH_IIN], WITH_PHONE, False),
    Case("add field without default", FORWARD, [WITH_IIN], WITH_PHONE, True),
    Case("add field without default", FORWARD_TRANSITIVE, [WITH_IIN], WITH_PHONE, True),
    Case("add field without default", FULL, [WITH_IIN], WITH_PHONE, False),
    Case("add field without default", FULL_TRANSITIVE, [WITH_IIN], WITH_PHONE, False),
    # Removing a field that has a default: old readers use the default.
    Case("remove field with default", NONE, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    Case("remove field with default", BACKWARD, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    Case("remove field with default", BACKWARD_TRANSITIVE, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    Case("remove field with default", FORWARD, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    Case("remove field with default", FORWARD_TRANSITIVE, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    Case("remove field with default", FULL, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    Case("remove field with default", FULL_TRANSITIVE, [WITH_OPTIONAL_PHONE], WITH_IIN, True),
    # Removing a field without a default: old readers have nothing to put in it.
    Case("remove field without default", NONE, [WITH_PHONE], WITH_IIN, True),
    Case("remove field without default", BACKWARD, [WITH_PHONE], WITH_IIN, True),
    Case("remove field without default", BACKWARD_TRANSITIVE, [WITH_PHONE], WITH_IIN, True),
    Case("remove field without default", FORWARD, [WITH_PHONE], WITH_IIN, False),
    Case("remove field without default", FORWARD_TRANSITIVE, [WITH_PHONE], WITH_IIN, False),
    Case("remove field without default", FULL, [WITH_PHONE], WITH_IIN, False),
    Case("remove field without default", FULL_TRANSITIVE, [WITH_PHONE], WITH_IIN, False),
    # int is promoted to long when read: a long reader reads int data, not the other way round.
    Case("int promoted to long", NONE, [AGE_INT], AGE_LONG, True),
    Case("int promoted to long", BACKWARD, [AGE_INT], AGE_LONG, True),
    Case("int promoted to long", BACKWARD_TRANSITIVE, [AGE_INT], AGE_LONG, True),
    Case("int promoted to long", FORWARD, [AGE_INT], AGE_LONG, False),
    Case("int promoted to long", FORWARD_TRANSITIVE, [AGE_INT], AGE_LONG, False),
    Case("int promoted to long", FULL, [AGE_INT], AGE_LONG, False),
    Case("int promoted to long", FULL_TRANSITIVE, [AGE_INT], AGE_LONG, False),
    # long narrowed to int: an int reader cannot read long data.
    Case("long narrowed to int", NONE, [AGE_LONG], AGE_INT, True),
    Case("long narrowed to int", BACKWARD, [AGE_LONG], AGE_INT, False),
    Case("long narrowed to int", BACKWARD_TRANSITIVE, [AGE_LONG], AGE_INT, False),
    Case("long narrowed to int", FORWARD, [AGE_LONG], AGE_INT, True),
    Case("long narrowed to int", FORWARD_TRANSITIVE, [AGE_LONG], AGE_INT, True),
    Case("long narrowed to int", FULL, [AGE_LONG], AGE_INT, False),
    Case("long narrowed to int", FULL_TRANSITIVE, [AGE_LONG], AGE_INT, False),
    # An enum symbol added: old readers without an enum default cannot read it.
    Case("enum symbol added", NONE, [SEX_TWO], SEX_THREE, True),
    Case("enum symbol added", BACKWARD, [SEX_TWO], SEX_THREE, True),
    Case("enum symbol added", BACKWARD_TRANSITIVE, [SEX_TWO], SEX_THREE, True),
    Case("enum symbol added", FORWARD, [SEX_TWO], SEX_THREE, False),
    Case("enum symbol added", FORWARD_TRANSITIVE, [SEX_TWO], SEX_THREE, False),
    Case("enum symbol added", FULL, [SEX_TWO], SEX_THREE, False),
    Case("enum symbol added", FULL_TRANSITIVE, [SEX_TWO], SEX_THREE, False),
    # An enum symbol added when the enum has a default: old readers read it as the default.
    Case("enum symbol added, has default", NONE, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    Case("enum symbol added, has default", BACKWARD, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    Case("enum symbol added, has default", BACKWARD_TRANSITIVE, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    Case("enum symbol added, has default", FORWARD, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    Case("enum symbol added, has default", FORWARD_TRANSITIVE, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    Case("enum symbol added, has default", FULL, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    Case("enum symbol added, has default", FULL_TRANSITIVE, [SEX_TWO_DEFAULT], SEX_THREE_DEFAULT, True),
    # An enum symbol removed: the new reader cannot read old data holding it.
    Case("enum symbol removed", NONE, [SEX_THREE], SEX_TWO, True),
    Case("enum symbol removed", BACKWARD, [SEX_THREE], SEX_TWO, False),
    Case("enum symbol removed", BACKWARD_TRANSITIVE, [SEX_THREE], SEX_TWO, False),
    Case("enum symbol removed", FORWARD, [SEX_THREE], SEX_TWO, True),
    Case("enum symbol removed", FORWARD_TRANSITIVE, [SEX_THREE], SEX_TWO, True),
    Case("enum symbol removed", FULL, [SEX_THREE], SEX_TWO, False),
    Case("enum symbol removed", FULL_TRANSITIVE, [SEX_THREE], SEX_TWO, False),
    # A union widened: old readers cannot read values of the new branch.
    Case("union widened", NONE, [CONTACT_NARROW], CONTACT_WIDE, True),
    Case("union widened", BACKWARD, [CONTACT_NARROW], CONTACT_WIDE, True),
    Case("union widened", BACKWARD_TRANSITIVE, [CONTACT_NARROW], CONTACT_WIDE, True),
    Case("union widened", FORWARD, [CONTACT_NARROW], CONTACT_WIDE, False),
    Case("union widened", FORWARD_TRANSITIVE, [CONTACT_NARROW], CONTACT_WIDE, False),
    Case("union widened", FULL, [CONTACT_NARROW], CONTACT_WIDE, False),
    Case("union widened", FULL_TRANSITIVE, [CONTACT_NARROW], CONTACT_WIDE, False),
    # A union narrowed: the new reader cannot read old values of the removed branch.
    Case("union narrowed", NONE, [CONTACT_WIDE], CONTACT_NARROW, True),
    Case("union narrowed", BACKWARD, [CONTACT_WIDE], CONTACT_NARROW, False),
    Case("union narrowed", BACKWARD_TRANSITIVE, [CONTACT_WIDE], CONTACT_NARROW, False),
    Case("union narrowed", FORWARD, [CONTACT_WIDE], CONTACT_NARROW, True),
    Case("union narrowed", FORWARD_TRANSITIVE, [CONTACT_WIDE], CONTACT_NARROW, True),
    Case("union narrowed", FULL, [CONTACT_WIDE], CONTACT_NARROW, False),
    Case("union narrowed", FULL_TRANSITIVE, [CONTACT_WIDE], CONTACT_NARROW, False),
    # A field's type changed from string to int: neither side can read the other.
    Case("field type string to int", NONE, [WITH_PHONE], PHONE_AS_INT, True),
    Case("field type string to int", BACKWARD, [WITH_PHONE], PHONE_AS_INT, False),
    Case("field type string to int", BACKWARD_TRANSITIVE, [WITH_PHONE], PHONE_AS_INT, False),
    Case("field type string to int", FORWARD, [WITH_PHONE], PHONE_AS_INT, False),
    Case("field type string to int", FORWARD_TRANSITIVE, [WITH_PHONE], PHONE_AS_INT, False),
    Case("field type string to int", FULL, [WITH_PHONE], PHONE_AS_INT, False),
    Case("field type string to int", FULL_TRANSITIVE, [WITH_PHONE], PHONE_AS_INT, False),
    # v1 has no phone, v2 adds it with a default, the new schema drops the default.
    # The new schema reads v2 data (it has a phone) but not v1 data (no phone, no default).
    Case("default dropped from field v1 lacks", NONE, PHONE_GAINS_DEFAULT, WITH_PHONE, True),
    Case("default dropped from field v1 lacks", BACKWARD, PHONE_GAINS_DEFAULT, WITH_PHONE, True),
    Case("default dropped from field v1 lacks", BACKWARD_TRANSITIVE, PHONE_GAINS_DEFAULT, WITH_PHONE, False),
    Case("default dropped from field v1 lacks", FORWARD, PHONE_GAINS_DEFAULT, WITH_PHONE, True),
    Case("default dropped from field v1 lacks", FORWARD_TRANSITIVE, PHONE_GAINS_DEFAULT, WITH_PHONE, True),
    Case("default dropped from field v1 lacks", FULL, PHONE_GAINS_DEFAULT, WITH_PHONE, True),
    Case("default dropped from field v1 lacks", FULL_TRANSITIVE, PHONE_GAINS_DEFAULT, WITH_PHONE, False),
    # v1 requires a phone, v2 gives it a default, the new schema removes it.
    # v2 reads new data (default), v1 cannot (required phone missing).
    Case("field v1 requires removed", NONE, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, True),
    Case("field v1 requires removed", BACKWARD, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, True),
    Case("field v1 requires removed", BACKWARD_TRANSITIVE, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, True),
    Case("field v1 requires removed", FORWARD, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, True),
    Case("field v1 requires removed", FORWARD_TRANSITIVE, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, False),
    Case("field v1 requires removed", FULL, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, True),
    Case("field v1 requires removed", FULL_TRANSITIVE, REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN, False),
    # v1 has phone as string, v2 deletes it, the new schema re-adds it as int with a default.
    # Each step reads its predecessor's data, but the new schema cannot read v1's string phone.
    Case("field deleted, re-added as int", NONE, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, True),
    Case("field deleted, re-added as int", BACKWARD, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, True),
    Case("field deleted, re-added as int", BACKWARD_TRANSITIVE, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, False),
    Case("field deleted, re-added as int", FORWARD, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, True),
    Case("field deleted, re-added as int", FORWARD_TRANSITIVE, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, False),
    Case("field deleted, re-added as int", FULL, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, True),
    Case("field deleted, re-added as int", FULL_TRANSITIVE, PHONE_DELETED, OPTIONAL_PHONE_AS_INT, False),
]
# fmt: on


def versions(schemas: list[Schema]) -> list[tuple[int, ParsedSchema]]:
    return [(number, parse_avro(json.dumps(schema))) for number, schema in enumerate(schemas, start=1)]


def check(level: CompatibilityLevel, previous: list[Schema], new: Schema) -> list[str]:
    return check_compatibility(level, parse_avro(json.dumps(new)), versions(previous))


@pytest.mark.parametrize("case", [pytest.param(case, id=f"{case.name} / {case.level}") for case in CASES])
def test_compatibility_table(case: Case) -> None:
    problems = check(case.level, case.previous, case.new)
    assert (problems == []) == case.compatible, problems


def test_table_covers_every_level_for_every_change() -> None:
    covered = {(case.name, case.level) for case in CASES}
    assert covered == {(case.name, level) for case in CASES for level in CompatibilityLevel}


@pytest.mark.parametrize(
    ("level", "history"),
    [
        (BACKWARD, [*PHONE_GAINS_DEFAULT, WITH_PHONE]),
        (FORWARD, [*REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN]),
        (FULL, [*REQUIRED_PHONE_GAINS_DEFAULT, WITH_IIN]),
        (BACKWARD, [*PHONE_DELETED, OPTIONAL_PHONE_AS_INT]),
    ],
)
def test_transitive_histories_are_reachable_one_version_at_a_time(
    level: CompatibilityLevel, history: list[Schema]
) -> None:
    for step in range(1, len(history)):
        assert check(level, history[:step], history[step]) == []


# --- messages ----------------------------------------------------------------------------


def test_backward_failure_says_the_new_schema_cannot_read_the_version() -> None:
    [problem] = check(BACKWARD, [WITH_IIN], WITH_PHONE)
    assert problem.startswith("new schema cannot read data written with version 1: ")


def test_forward_failure_says_the_version_cannot_read_the_new_schema() -> None:
    [problem] = check(FORWARD, [WITH_PHONE], WITH_IIN)
    assert problem.startswith("version 1 cannot read data written with the new schema: ")


def test_full_failure_reports_each_direction_that_fails() -> None:
    problems = check(FULL, [WITH_PHONE], PHONE_AS_INT)
    assert [problem.split(":")[0] for problem in problems] == [
        "new schema cannot read data written with version 1",
        "version 1 cannot read data written with the new schema",
    ]


def test_message_carries_the_checker_type_message_and_location() -> None:
    [problem] = check(BACKWARD, [WITH_PHONE], PHONE_AS_INT)
    assert problem == (
        "new schema cannot read data written with version 1: type_mismatch: "
        "reader type: int not compatible with writer type: string "
        "(at /fields/1/type in the new schema)"
    )


def test_missing_default_message_names_the_field() -> None:
    [problem] = check(BACKWARD, [WITH_IIN], WITH_PHONE)
    assert "reader_field_missing_default_value: phone (at /fields/1 in the new schema)" in problem


def test_forward_location_is_in_the_previous_version() -> None:
    [problem] = check(FORWARD, [SEX_TWO], SEX_THREE)
    assert "missing_enum_symbols: {'UNKNOWN'} (at /fields/1/type/symbols in version 1)" in problem


def test_transitive_failure_names_the_version_it_conflicts_with() -> None:
    problems = check(BACKWARD_TRANSITIVE, [WITH_IIN, WITH_OPTIONAL_PHONE, WITH_OPTIONAL_PHONE], WITH_PHONE)
    assert len(problems) == 1
    assert "version 1:" in problems[0]


def test_transitive_level_reports_every_conflicting_version() -> None:
    problems = check(BACKWARD_TRANSITIVE, [WITH_IIN, WITH_IIN, WITH_OPTIONAL_PHONE], WITH_PHONE)
    assert [problem.split(":")[0][-9:] for problem in problems] == ["version 1", "version 2"]


def test_several_incompatibilities_in_one_pair_make_one_message() -> None:
    before = person(field("iin", "string"), field("age", "int"))
    after = person(field("iin", "int"), field("age", "string"))
    [problem] = check(BACKWARD, [before], after)
    assert "/fields/0/type, /fields/1/type" in problem


# --- what is checked ---------------------------------------------------------------------


def test_first_version_is_compatible_at_every_level() -> None:
    for level in CompatibilityLevel:
        assert check(level, [], WITH_PHONE) == []


def test_none_checks_nothing() -> None:
    assert check(NONE, [WITH_PHONE, IIN_NUMBER], person(field("x", "boolean"))) == []


def test_plain_level_checks_only_the_latest_version() -> None:
    assert check(BACKWARD, [IIN_NUMBER, WITH_IIN], WITH_OPTIONAL_PHONE) == []


@pytest.mark.parametrize("level", list(CompatibilityLevel))
@pytest.mark.parametrize(
    "schema",
    [WITH_PHONE, SEX_THREE_DEFAULT, CONTACT_WIDE, person(field("next", ["null", "Person"], default=None))],
)
def test_a_schema_is_compatible_with_itself(level: CompatibilityLevel, schema: Schema) -> None:
    assert check(level, [schema, schema], schema) == []


def test_renamed_record_is_incompatible() -> None:
    renamed = {**WITH_IIN, "name": "Citizen"}
    [problem] = check(BACKWARD, [WITH_IIN], renamed)
    assert "name_mismatch: expected: gov.civil.Person" in problem


def test_renamed_record_with_full_alias_reads_old_data() -> None:
    renamed = {**WITH_IIN, "name": "Citizen", "aliases": ["gov.civil.Person"]}
    assert check(BACKWARD, [WITH_IIN], renamed) == []


def test_renamed_field_with_alias_reads_old_data() -> None:
    renamed = person(field("national_id", "string", aliases=["iin"]))
    assert check(BACKWARD, [WITH_IIN], renamed) == []


def test_string_and_bytes_read_each_other() -> None:
    as_bytes = person(field("iin", "bytes"))
    assert check(FULL, [WITH_IIN], as_bytes) == []


@pytest.mark.xfail(
    strict=True,
    reason="avro 1.12 compares record aliases as written; Java qualifies them with the namespace first",
)
def test_renamed_record_with_alias_in_its_namespace_reads_old_data() -> None:
    renamed = {**WITH_IIN, "name": "Citizen", "aliases": ["Person"]}
    assert check(BACKWARD, [WITH_IIN], renamed) == []


@pytest.mark.xfail(strict=True, reason='avro 1.12 cannot compare two "error" records (AvroRuntimeException)')
def test_error_type_evolves_like_a_record() -> None:
    failure = {"type": "error", "name": "Failure", "fields": [field("code", "int")]}
    with_detail = {**failure, "fields": [field("code", "int"), field("detail", "string", default="")]}
    assert check(FULL, [failure], with_detail) == []


def test_checker_failure_counts_as_incompatible() -> None:
    failure = {"type": "error", "name": "Failure", "fields": [field("code", "int")]}
    [problem] = check(BACKWARD, [failure], failure)
    assert "the avro checker failed (AvroRuntimeException: Unknown schema type: error)" in problem


# --- levels ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["BACKWARD", "backward", "Backward", " backward "])
def test_level_is_read_in_any_case(text: str) -> None:
    assert parse_level(text) is BACKWARD


def test_levels_are_spelled_as_confluent_spells_them() -> None:
    assert [str(level) for level in CompatibilityLevel] == [
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    ]


@pytest.mark.parametrize("text", ["SIDEWAYS", "", "BACKWARDS"])
def test_unknown_level_is_refused_with_the_valid_ones(text: str) -> None:
    with pytest.raises(InvalidCompatibilityLevel) as caught:
        parse_level(text)
    error = caught.value
    assert (error.status, error.error_code) == (422, 42203)
    assert repr(text) in error.message
    assert (
        "NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE"
        in error.message
    )


def test_level_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidCompatibilityLevel):
        parse_level(7)  # type: ignore[arg-type]
