"""Compiled agreements: the derived delivery schema, projection, where-matching and grants."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.errors import ConfigError, RecordInvalidError
from bus.policy.agreement import Agreement, load_agreements
from bus.policy.compile import CompiledAgreement, changed_paths, compile_agreement, compile_for_version
from tests.people import person

REPO = Path(__file__).resolve().parents[2]
PERSON: dict[str, Any] = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text(encoding="utf-8"))
DOCUMENT = {
    "type": "ID_CARD",
    "number": "045123456",
    "issued_on": date(2021, 3, 1),
    "expires_on": date(2031, 3, 1),
    "issuer": "MVD RK",
}


def agreement(*fields: str, **overrides: Any) -> Agreement:
    values: dict[str, Any] = {
        "id": "civil-to-tax",
        "provider": "civil-registry",
        "consumer": "tax",
        "record_type": "person",
        "fields": fields,
        "purpose": "taxpayer registration",
        "legal_basis": "Tax Code of the Republic of Kazakhstan, Art. 24",
        "valid_from": date(2026, 1, 1),
    }
    values.update(overrides)
    return Agreement.model_validate(values)


def compiled(*fields: str, **overrides: Any) -> CompiledAgreement:
    return compile_agreement(agreement(*fields, **overrides), PERSON)


def field_of(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [f for f in schema["fields"] if f["name"] == name]
    [field] = found
    return field


def nested_record(schema: dict[str, Any], name: str) -> dict[str, Any]:
    records: list[dict[str, Any]] = [branch for branch in field_of(schema, name)["type"] if branch != "null"]
    [record] = records
    return record


def round_trip(schema: dict[str, Any], record: dict[str, Any]) -> Any:
    parsed = fastavro.parse_schema(json.loads(json.dumps(schema)))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, parsed)


def assert_valid_for_both_avro_libraries(schema: dict[str, Any]) -> None:
    fastavro.parse_schema(json.loads(json.dumps(schema)))
    avro.schema.parse(json.dumps(schema))


# --- the derived schema -------------------------------------------------------------------------


def test_the_derived_schema_keeps_only_granted_fields_in_provider_order() -> None:
    # given a grant listed out of schema order
    made = compiled("registered_address", "surname", "iin")
    # when compiled
    # then only those fields remain, in the provider's order
    assert [f["name"] for f in made.schema["fields"]] == ["iin", "surname", "registered_address"]


def test_the_derived_schema_keeps_the_providers_full_record_name() -> None:
    made = compiled("iin")
    assert (made.schema["name"], made.schema["namespace"]) == ("Person", "gov.civil")


def test_the_record_doc_says_which_agreement_it_projects_for() -> None:
    made = compiled("iin")
    assert "Projection of gov.civil.Person for agreement civil-to-tax" in made.schema["doc"]


def test_field_docs_are_kept() -> None:
    made = compiled("iin", "registered_address.region")
    assert field_of(made.schema, "iin")["doc"] == field_of(PERSON, "iin")["doc"]
    assert nested_record(made.schema, "registered_address")["fields"][0]["doc"] == (
        "Oblast or city of republican significance."
    )


def test_an_optional_field_stays_optional_with_its_null_default() -> None:
    patronymic = field_of(compiled("patronymic").schema, "patronymic")
    assert patronymic["type"] == ["null", "string"]
    assert "default" in patronymic
    assert patronymic["default"] is None


def test_a_required_field_stays_required() -> None:
    iin = field_of(compiled("iin").schema, "iin")
    assert iin["type"] == "string"
    assert "default" not in iin


def test_a_partly_granted_nested_record_keeps_only_the_granted_sub_fields_and_stays_optional() -> None:
    # given a grant of two address sub-fields
    made = compiled("registered_address.region", "registered_address.street")
    # when compiled
    address_field = field_of(made.schema, "registered_address")
    address = nested_record(made.schema, "registered_address")
    # then the address is still an optional record, with the provider's name, holding only those two
    assert address_field["type"][0] == "null"
    assert address_field["default"] is None
    assert address["name"] == "RegisteredAddress"
    assert [f["name"] for f in address["fields"]] == ["region", "street"]


def test_a_wholly_granted_nested_record_keeps_every_sub_field() -> None:
    made = compiled("registered_address")
    original = nested_record(PERSON, "registered_address")
    assert [f["name"] for f in nested_record(made.schema, "registered_address")["fields"]] == [
        f["name"] for f in original["fields"]
    ]


def test_an_enum_inside_a_partly_granted_record_is_kept_whole() -> None:
    made = compiled("document.type")
    [document_type] = nested_record(made.schema, "document")["fields"]
    assert document_type["type"]["symbols"] == [
        "ID_CARD",
        "PASSPORT",
        "BIRTH_CERTIFICATE",
        "RESIDENCE_PERMIT",
        "OTHER",
    ]


def test_the_full_grant_derives_a_schema_both_avro_libraries_accept() -> None:
    every_field = tuple(f["name"] for f in PERSON["fields"])
    assert_valid_for_both_avro_libraries(compiled(*every_field).schema)


def test_compiling_does_not_change_the_provider_schema() -> None:
    before = json.dumps(PERSON, sort_keys=True)
    compiled("iin", "registered_address.region", "document")
    assert json.dumps(PERSON, sort_keys=True) == before


def test_a_path_missing_from_the_schema_fails_compilation_with_the_agreement_and_path() -> None:
    with pytest.raises(
        ConfigError, match=r"agreement 'civil-to-tax'.*field path 'tax_number' does not exist"
    ):
        compiled("iin", "tax_number")


def test_a_compiled_agreement_can_be_built_from_an_agreement_and_a_schema_directly() -> None:
    made = agreement("iin")
    direct = CompiledAgreement(made, {"type": "record", "name": "Person", "fields": []})
    assert direct.project({"iin": "1", "phone": "2"}) == {"iin": "1"}


# --- named types defined once ------------------------------------------------------------------

TWO_ADDRESSES: dict[str, Any] = {
    "type": "record",
    "name": "Employee",
    "namespace": "gov.test",
    "fields": [
        {"name": "iin", "type": "string"},
        {
            "name": "home",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [
                    {"name": "region", "type": "string"},
                    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["URBAN", "RURAL"]}},
                ],
            },
        },
        {"name": "work", "type": ["null", "Address"], "default": None},
        {"name": "kind", "type": "Kind"},
    ],
}


def employee_agreement(*fields: str) -> Agreement:
    return agreement(*fields, provider="hr-registry", record_type="employee")


def test_a_type_defined_in_an_ungranted_field_is_defined_where_first_granted() -> None:
    # given a grant of the second use of Address and of the enum defined inside the first
    made = compile_agreement(employee_agreement("work", "kind"), TWO_ADDRESSES)
    # when the derived schema is parsed
    assert_valid_for_both_avro_libraries(made.schema)
    # then the work field carries the full Address definition
    [work_type] = [b for b in field_of(made.schema, "work")["type"] if b != "null"]
    assert work_type["name"] == "Address"


def test_a_type_used_twice_alike_is_referenced_by_name_the_second_time() -> None:
    made = compile_agreement(employee_agreement("home", "work"), TWO_ADDRESSES)
    assert_valid_for_both_avro_libraries(made.schema)
    assert field_of(made.schema, "work")["type"] == ["null", "gov.test.Address"]


def test_a_type_projected_differently_in_two_places_gets_a_name_per_variant() -> None:
    # given Address granted partly in one place and whole in another
    made = compile_agreement(employee_agreement("home.region", "work"), TWO_ADDRESSES)
    # when the derived schema is parsed
    assert_valid_for_both_avro_libraries(made.schema)
    # then a record written through it keeps both shapes
    record = {"home": {"region": "Akmola"}, "work": {"region": "Astana", "kind": "URBAN"}}
    assert round_trip(made.schema, record) == record


# --- projection ---------------------------------------------------------------------------------


def test_projection_keeps_only_granted_paths() -> None:
    # given a person with a phone and a document, and a grant of the IIN and the address region
    made = compiled("iin", "registered_address.region")
    citizen = person(1, phone="+77010000001", document=DOCUMENT)
    # when projected
    projected = made.project(citizen)
    # then only those values are left
    assert projected == {"iin": citizen["iin"], "registered_address": {"region": "Akmola"}}


def test_a_null_nested_record_stays_null() -> None:
    made = compiled("iin", "registered_address.region")
    assert made.project(person(1, registered_address=None))["registered_address"] is None


def test_a_field_absent_from_the_record_stays_absent() -> None:
    made = compiled("iin", "citizenship")
    assert made.project({"iin": "1"}) == {"iin": "1"}


def test_projection_copies_rather_than_shares_nested_values() -> None:
    citizen = person(1)
    projected = compiled("registered_address").project(citizen)
    projected["registered_address"]["region"] = "changed"
    assert citizen["registered_address"]["region"] == "Akmola"


def test_a_plain_value_where_a_record_was_expected_is_refused_not_leaked() -> None:
    made = compiled("registered_address.region")
    with pytest.raises(RecordInvalidError, match="registered_address: expected a nested record or null"):
        made.project({"registered_address": "Akmola, Kosshy, Respublika 1"})


def test_a_projected_record_encodes_with_the_derived_schema() -> None:
    made = compiled("iin", "surname", "birth_date", "sex", "registered_address.region", "document")
    citizen = person(2, document=DOCUMENT)
    projected = made.project(citizen)
    assert round_trip(made.schema, projected) == projected


# --- where and grants ---------------------------------------------------------------------------


def test_without_where_every_record_matches() -> None:
    assert compiled("iin").matches(person(1))


def test_where_matches_a_record_meeting_every_condition() -> None:
    made = compiled("iin", where={"registered_address.region": {"in": ["Akmola"]}, "sex": {"eq": "MALE"}})
    assert made.matches(person(1))


def test_where_refuses_a_record_failing_one_condition() -> None:
    made = compiled("iin", where={"registered_address.region": {"in": ["Akmola"]}, "sex": {"eq": "FEMALE"}})
    assert not made.matches(person(1))


def test_a_where_path_through_a_null_record_reads_as_null() -> None:
    made = compiled("iin", where={"registered_address.region": {"in": ["Akmola"]}})
    assert not made.matches(person(1, registered_address=None))
    assert compiled("iin", where={"registered_address.region": {"exists": False}}).matches(
        person(1, registered_address=None)
    )


@pytest.mark.parametrize(
    ("grant", "changed", "overlaps"),
    [
        ("registered_address", "registered_address.street", True),
        ("registered_address.region", "registered_address", True),
        ("registered_address", "registered_address", True),
        ("registered_address", "phone", False),
        ("registered_address.region", "registered_address.street", False),
        ("document", "document_number", False),
    ],
)
def test_a_change_is_granted_when_its_path_overlaps_a_grant(grant: str, changed: str, overlaps: bool) -> None:
    assert compiled(grant).grants(changed) is overlaps


# --- changed paths -----------------------------------------------------------------------------


def test_identical_records_have_no_changed_paths() -> None:
    assert changed_paths(person(1), person(1)) == ()


def test_a_changed_leaf_is_named() -> None:
    assert changed_paths(person(1), person(1, phone="+77010000001")) == ("phone",)


def test_a_changed_nested_leaf_is_named_with_its_dotted_path() -> None:
    moved = person(1)
    moved["registered_address"] = {**moved["registered_address"], "street": "Abai"}
    assert changed_paths(person(1), moved) == ("registered_address.street",)


def test_a_nested_record_that_appears_or_disappears_is_its_own_path() -> None:
    assert changed_paths(person(1), person(1, document=DOCUMENT)) == ("document",)
    assert changed_paths(person(1), person(1, registered_address=None)) == ("registered_address",)


def test_without_a_previous_record_every_non_null_field_has_changed() -> None:
    assert changed_paths(None, {"iin": "1", "phone": None, "document": DOCUMENT}) == ("iin", "document")


def test_a_field_missing_on_one_side_reads_as_null() -> None:
    assert changed_paths({"iin": "1"}, {"iin": "1", "phone": None}) == ()
    assert changed_paths({"iin": "1", "phone": "+7"}, {"iin": "1"}) == ("phone",)


# --- any grant: Hypothesis ---------------------------------------------------------------------

NESTED = {
    f["name"]: [sub["name"] for sub in branch["fields"]]
    for f in PERSON["fields"]
    if isinstance(f["type"], list)
    for branch in f["type"]
    if isinstance(branch, dict) and branch.get("type") == "record"
}


@st.composite
def person_grants(draw: st.DrawFn) -> tuple[str, ...]:
    """A valid allow-list over the person record: each field left out, granted whole, or in part."""
    paths: list[str] = []
    for field in PERSON["fields"]:
        name = field["name"]
        choice = draw(st.sampled_from(["out", "whole", "part"] if name in NESTED else ["out", "whole"]))
        if choice == "whole":
            paths.append(name)
        elif choice == "part":
            subs = draw(st.lists(st.sampled_from(NESTED[name]), min_size=1, unique=True))
            paths += [f"{name}.{sub}" for sub in subs]
    if not paths:
        paths.append(draw(st.sampled_from([f["name"] for f in PERSON["fields"]])))
    return tuple(draw(st.permutations(paths)))


@st.composite
def people(draw: st.DrawFn) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if draw(st.booleans()):
        overrides["document"] = DOCUMENT
    if draw(st.booleans()):
        overrides["registered_address"] = None
    if draw(st.booleans()):
        overrides["phone"] = "+77010000001"
    return person(draw(st.integers(min_value=0, max_value=5000)), **overrides)


@settings(max_examples=150, deadline=None)
@given(grant=person_grants(), citizen=people())
def test_any_grant_derives_a_valid_schema_that_its_projection_encodes_with(
    grant: tuple[str, ...], citizen: dict[str, Any]
) -> None:
    # given any allow-list of person field paths
    made = compile_agreement(agreement(*grant), PERSON)
    # when the derived schema is parsed and a projected person written and read back
    assert_valid_for_both_avro_libraries(made.schema)
    projected = made.project(citizen)
    # then the record survives the round trip unchanged
    assert round_trip(made.schema, projected) == projected


def test_every_deploy_agreement_derives_a_schema_both_avro_libraries_accept() -> None:
    schemas = {path.stem: json.loads(path.read_text()) for path in (REPO / "schemas").rglob("*.avsc")}
    for made in load_agreements(REPO / "deploy" / "agreements"):
        assert_valid_for_both_avro_libraries(compile_agreement(made, schemas[made.record_type]).schema)


def test_a_schema_version_without_a_granted_field_projects_to_the_granted_fields_it_has() -> None:
    # given a provider schema version that no longer has given_name, which the agreement grants
    version = {**PERSON, "fields": [f for f in PERSON["fields"] if f["name"] != "given_name"]}
    # when the agreement is compiled for that version
    built, missing = compile_for_version(
        agreement("iin", "given_name", "registered_address.building"), version
    )
    # then the missing grant is named and the delivery schema holds the rest
    assert missing == ("given_name",)
    assert [f["name"] for f in built.schema["fields"]] == ["iin", "registered_address"]


def test_a_schema_version_without_a_where_path_cannot_be_compiled() -> None:
    # given a provider schema version without sex, on which the agreement's where condition is
    version = {**PERSON, "fields": [f for f in PERSON["fields"] if f["name"] != "sex"]}
    women = agreement("iin", "surname", where={"sex": {"eq": "FEMALE"}})
    # when / then it is refused, naming the agreement and the path: an unchecked condition is never met
    with pytest.raises(ConfigError, match=r"civil-to-tax.*'sex'"):
        compile_for_version(women, version)
