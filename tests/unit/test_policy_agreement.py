"""Agreements: the YAML document, loading a folder, and fitting the provider's schema (DESIGN §5)."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bus.errors import ConfigError
from bus.policy.agreement import Agreement, Condition, ConsentMode, load_agreements, schema_problems

REPO = Path(__file__).resolve().parents[2]
DEPLOY_AGREEMENTS = REPO / "deploy" / "agreements"

TAX_YAML = """\
id: civil-to-tax
provider: civil-registry
consumer: tax
record_type: person
fields: [iin, surname, given_name, patronymic, registered_address]
purpose: taxpayer registration
legal_basis: Tax Code of the Republic of Kazakhstan, Art. 24 (taxpayer registration)
valid_from: 2026-01-01
valid_until: 2028-12-31
consent: none
replaces: certificate of registered address
"""


def agreement(**overrides: Any) -> Agreement:
    fields: dict[str, Any] = {
        "id": "civil-to-tax",
        "provider": "civil-registry",
        "consumer": "tax",
        "record_type": "person",
        "fields": ("iin", "registered_address"),
        "purpose": "taxpayer registration",
        "legal_basis": "Tax Code of the Republic of Kazakhstan, Art. 24",
        "valid_from": date(2026, 1, 1),
    }
    fields.update(overrides)
    return Agreement.model_validate(fields)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def yaml_with(**changes: str) -> str:
    """TAX_YAML with some top-level lines replaced (value "" drops the line)."""
    lines = []
    for line in TAX_YAML.splitlines():
        key = line.split(":", 1)[0]
        if key in changes:
            if changes[key]:
                lines.append(f"{key}: {changes[key]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def load_error(folder: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_agreements(folder)
    return str(caught.value)


def canonical_schemas() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (REPO / "schemas").rglob("*.avsc")
    }


# --- the document -------------------------------------------------------------------------------


def test_a_complete_yaml_agreement_loads_with_every_field(tmp_path: Path) -> None:
    # given one agreement file named after its id
    write(tmp_path, "civil-to-tax.yaml", TAX_YAML)
    # when the folder is loaded
    [loaded] = load_agreements(tmp_path)
    # then every field is read, with dates as dates and consent as its enum
    assert loaded.id == "civil-to-tax"
    assert loaded.fields == ("iin", "surname", "given_name", "patronymic", "registered_address")
    assert loaded.valid_from == date(2026, 1, 1)
    assert loaded.valid_until == date(2028, 12, 31)
    assert loaded.consent is ConsentMode.NONE
    assert loaded.replaces == "certificate of registered address"
    assert loaded.where is None


def test_consent_defaults_to_none_and_valid_until_to_open_ended() -> None:
    # given an agreement that says nothing about consent or an end date
    # when it is validated
    made = agreement()
    # then no consent is needed and it does not expire
    assert made.consent is ConsentMode.NONE
    assert made.valid_until is None


def test_the_delivery_topic_and_subject_follow_the_naming_rules() -> None:
    # given an agreement for the tax agency
    made = agreement()
    # when its topic and subject are asked for
    # then they are deliver.<consumer>.<id> and its TopicNameStrategy value subject
    assert made.delivery_topic == "deliver.tax.civil-to-tax"
    assert made.subject == "deliver.tax.civil-to-tax-value"


def test_an_agreement_is_immutable() -> None:
    made = agreement()
    with pytest.raises(ValidationError):
        made.consumer = "police"  # type: ignore[misc]


def test_agency_ids_are_checked_with_the_topic_naming_rules() -> None:
    # given a consumer id with an upper-case letter
    # when the agreement is validated
    with pytest.raises(ValidationError) as caught:
        agreement(consumer="Tax")
    # then the consumer field is named, with the rule
    [error] = caught.value.errors()
    assert error["loc"] == ("consumer",)
    assert "agency id 'Tax' is not valid" in error["msg"]


def test_an_agency_cannot_share_with_itself() -> None:
    with pytest.raises(ValidationError) as caught:
        agreement(consumer="civil-registry")
    [error] = caught.value.errors()
    assert error["loc"] == ("consumer",)
    assert "consumer is the provider" in error["msg"]


def test_fields_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="at least one field path"):
        agreement(fields=())


def test_a_field_path_may_not_be_listed_twice() -> None:
    with pytest.raises(ValidationError, match="'iin' is listed twice"):
        agreement(fields=("iin", "surname", "iin"))


def test_a_path_inside_a_granted_path_is_refused_as_redundant() -> None:
    with pytest.raises(ValidationError, match=r"'registered_address' already grants everything under it"):
        agreement(fields=("registered_address.region", "registered_address"))


def test_a_name_that_merely_starts_like_a_granted_path_is_not_inside_it() -> None:
    made = agreement(fields=("document", "document_number"))
    assert made.fields == ("document", "document_number")


@pytest.mark.parametrize("path", ["", "registered_address.", ".iin", "registered-address", "1st"])
def test_a_malformed_field_path_is_refused(path: str) -> None:
    with pytest.raises(ValidationError, match="is not a dotted field path"):
        agreement(fields=("iin", path))


@pytest.mark.parametrize("field", ["purpose", "legal_basis", "replaces"])
def test_texts_must_not_be_blank(field: str) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        agreement(**{field: "   "})


def test_valid_until_may_equal_valid_from() -> None:
    made = agreement(valid_from=date(2026, 1, 1), valid_until=date(2026, 1, 1))
    assert made.valid_until == made.valid_from


# --- conditions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "value", "holds"),
    [
        ({"eq": "Akmola"}, "Akmola", True),
        ({"eq": "Akmola"}, "Astana", False),
        ({"ne": "Akmola"}, "Astana", True),
        ({"ne": "Akmola"}, "Akmola", False),
        ({"in": ["Akmola", "Astana"]}, "Astana", True),
        ({"in": ["Akmola", "Astana"]}, "Almaty", False),
        ({"not_in": ["Akmola"]}, "Almaty", True),
        ({"not_in": ["Akmola"]}, "Akmola", False),
        ({"exists": True}, "+77010000000", True),
        ({"exists": True}, None, False),
        ({"exists": False}, None, True),
        ({"eq": None}, None, True),
        ({"eq": date(2000, 1, 1)}, date(2000, 1, 1), True),
    ],
)
def test_each_condition_operator_decides_as_documented(
    condition: dict[str, Any], value: Any, holds: bool
) -> None:
    assert Condition.model_validate(condition).holds(value) is holds


@pytest.mark.parametrize(
    "where",
    [
        {"registered_address.region": {"in": ["Akmola", "Astana"]}},
        {"phone": {"eq": None}},
        {"birth_date": {"ne": date(1990, 5, 14)}},
        {"document": {"exists": True}, "sex": {"not_in": ["MALE"]}},
    ],
)
def test_an_agreement_survives_the_json_round_trip_of_bus_agreements(where: dict[str, Any]) -> None:
    # given an agreement with where conditions
    made = agreement(where=where, valid_until=date(2027, 12, 31), replaces="address certificate")
    # when it is written to JSON (as on bus.agreements) and read back
    text = made.model_dump_json()
    again = Agreement.model_validate_json(text)
    # then it is the same agreement, and each condition is written with only its operator
    assert again == made
    assert json.loads(text)["where"] == json.loads(json.dumps(where, default=date.isoformat))


def test_a_date_condition_means_the_same_after_a_json_round_trip() -> None:
    made = agreement(where={"birth_date": {"eq": date(1990, 5, 14)}})
    where = Agreement.model_validate_json(made.model_dump_json()).where
    assert where is not None
    [condition] = where.values()
    assert condition.holds(date(1990, 5, 14))
    assert not condition.holds(date(1990, 5, 15))


def test_a_condition_needs_exactly_one_operator() -> None:
    with pytest.raises(ValidationError, match="give exactly one operator"):
        Condition.model_validate({"eq": "a", "ne": "b"})
    with pytest.raises(ValidationError, match="got none"):
        Condition.model_validate({})


def test_in_needs_a_list_not_null() -> None:
    with pytest.raises(ValidationError, match="operator in needs a value"):
        Condition.model_validate({"in": None})


def test_a_condition_is_also_built_by_python_name() -> None:
    assert Condition(in_=["Akmola"]).operator == "in"


# --- loading a folder ---------------------------------------------------------------------------


def test_agreements_load_sorted_by_file_name(tmp_path: Path) -> None:
    # given three agreement files written out of order, one of them .yml
    for agreement_id in ["c-agreement", "a-agreement", "b-agreement"]:
        suffix = ".yml" if agreement_id == "b-agreement" else ".yaml"
        write(tmp_path, agreement_id + suffix, yaml_with(id=agreement_id))
    # when the folder is loaded
    loaded = load_agreements(tmp_path)
    # then they come back in file-name order
    assert [a.id for a in loaded] == ["a-agreement", "b-agreement", "c-agreement"]


def test_files_that_are_not_yaml_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "civil-to-tax.yaml", TAX_YAML)
    write(tmp_path, "README.md", "# notes")
    assert [a.id for a in load_agreements(tmp_path)] == ["civil-to-tax"]


def test_an_empty_folder_holds_no_agreements(tmp_path: Path) -> None:
    assert load_agreements(tmp_path) == []


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    assert "does not exist" in load_error(tmp_path / "nowhere")


def test_the_file_name_must_be_the_agreement_id(tmp_path: Path) -> None:
    # given a file whose stem differs from the id inside it
    write(tmp_path, "tax.yaml", TAX_YAML)
    # when the folder is loaded
    error = load_error(tmp_path)
    # then the error names the file, the field and the fix
    assert "tax.yaml" in error
    assert "field 'id'" in error
    assert "rename the file to civil-to-tax.yaml" in error


def test_a_duplicate_id_names_both_files(tmp_path: Path) -> None:
    # given the same agreement id in a .yaml and a .yml file
    first = write(tmp_path, "civil-to-tax.yaml", TAX_YAML)
    second = write(tmp_path, "civil-to-tax.yml", TAX_YAML)
    # when the folder is loaded
    error = load_error(tmp_path)
    # then the later file and the field are named, and where the id was first defined
    assert f"{second}: field 'id': agreement 'civil-to-tax' is already defined in {first}" in error


def test_provider_equal_to_consumer_names_the_file_and_the_consumer_field(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", yaml_with(consumer="civil-registry"))
    error = load_error(tmp_path)
    assert f"{path}: field 'consumer'" in error
    assert "consumer is the provider" in error
    assert "it must differ from the provider" in error


def test_valid_until_before_valid_from_names_the_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", yaml_with(valid_until="2025-12-31"))
    error = load_error(tmp_path)
    assert f"{path}: field 'valid_until': 2025-12-31 is before valid_from 2026-01-01" in error
    assert "on or after valid_from" in error


def test_an_unknown_consent_mode_names_the_file_field_and_choices(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", yaml_with(consent="sometimes"))
    error = load_error(tmp_path)
    assert f"{path}: field 'consent'" in error
    assert "'sometimes'" in error
    assert "use none or required" in error


def test_a_bad_where_operator_names_the_file_path_and_operator(tmp_path: Path) -> None:
    # given a where condition with an operator the bus does not know
    text = TAX_YAML + "where:\n  registered_address.region:\n    regex: Ak.*\n"
    path = write(tmp_path, "civil-to-tax.yaml", text)
    # when the folder is loaded
    error = load_error(tmp_path)
    # then the file, the where path and the operator are named, with the operators to use
    assert f"{path}: field \"where['registered_address.region'].regex\"" in error
    assert "unknown operator 'regex'" in error
    assert "eq, ne, in, not_in, exists" in error


def test_a_misspelt_field_is_refused_not_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", TAX_YAML + "legal_bassis: typo\n")
    error = load_error(tmp_path)
    assert f"{path}: field 'legal_bassis': unknown field" in error


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", yaml_with(legal_basis=""))
    assert f"{path}: field 'legal_basis': is required but missing" in load_error(tmp_path)


def test_a_bad_field_path_is_named_by_its_position(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", yaml_with(fields="[iin, iin]"))
    assert f"{path}: field 'fields': 'iin' is listed twice" in load_error(tmp_path)


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", "id: civil-to-tax\nfields: [iin\n")
    error = load_error(tmp_path)
    assert f"{path}: is not valid YAML at line" in error


def test_a_yaml_list_is_not_an_agreement(tmp_path: Path) -> None:
    path = write(tmp_path, "civil-to-tax.yaml", "- id: civil-to-tax\n")
    assert f"{path}: must hold one agreement as a YAML mapping" in load_error(tmp_path)


def test_problems_in_several_files_are_reported_together(tmp_path: Path) -> None:
    # given two broken files
    bad_consent = write(tmp_path, "a.yaml", yaml_with(id="a", consent="maybe"))
    bad_dates = write(tmp_path, "b.yaml", yaml_with(id="b", valid_until="2020-01-01"))
    # when the folder is loaded
    error = load_error(tmp_path)
    # then one error lists both
    assert "2 problems" in error
    assert f"{bad_consent}: field 'consent'" in error
    assert f"{bad_dates}: field 'valid_until'" in error


# --- fitting the provider's schema --------------------------------------------------------------


def test_paths_that_exist_in_the_schema_have_no_problems(person_schema: dict[str, Any]) -> None:
    made = agreement(
        fields=("iin", "registered_address.region", "document.type"),
        where={"registered_address.region": {"in": ["Akmola"]}, "sex": {"eq": "FEMALE"}},
    )
    assert schema_problems(made, person_schema) == []


def test_an_unknown_field_is_named_with_the_agreement_and_path(person_schema: dict[str, Any]) -> None:
    # given a grant of a field the person record does not have
    made = agreement(fields=("iin", "tax_number"))
    # when checked against the person schema
    [problem] = schema_problems(made, person_schema)
    # then the agreement, the path and the record's real fields are named
    assert "agreement 'civil-to-tax'" in problem
    assert "field path 'tax_number' does not exist" in problem
    assert "record gov.civil.Person has no field 'tax_number'" in problem
    assert "registered_address" in problem


def test_an_unknown_sub_field_of_an_optional_record_is_named(person_schema: dict[str, Any]) -> None:
    [problem] = schema_problems(agreement(fields=("registered_address.zip",)), person_schema)
    assert "record gov.civil.RegisteredAddress has no field 'zip'" in problem


def test_a_path_inside_a_plain_field_is_refused(person_schema: dict[str, Any]) -> None:
    [problem] = schema_problems(agreement(fields=("phone.country",)), person_schema)
    assert "'phone' is of type [null, string], not a record" in problem


def test_an_unknown_where_path_is_named(person_schema: dict[str, Any]) -> None:
    made = agreement(where={"registered_address.oblast": {"eq": "Akmola"}})
    [problem] = schema_problems(made, person_schema)
    assert "where path 'registered_address.oblast' does not exist" in problem


def test_a_where_value_outside_an_enum_is_named(person_schema: dict[str, Any]) -> None:
    made = agreement(where={"sex": {"in": ["FEMALE", "female"]}})
    [problem] = schema_problems(made, person_schema)
    assert "where path 'sex' compares with ['female']" in problem


def test_a_schema_that_is_not_a_record_is_a_problem() -> None:
    assert schema_problems(agreement(), {"type": "string"}) == [
        "agreement 'civil-to-tax': the provider schema is not an Avro record schema"
    ]


def test_the_deploy_agreements_load_and_fit_the_canonical_schemas() -> None:
    # given the example agreements shipped in deploy/agreements and the canonical schemas
    schemas = canonical_schemas()
    # when the folder is loaded
    loaded = load_agreements(DEPLOY_AGREEMENTS)
    # then there are some, every record type has a schema, and every path exists in it
    assert len(loaded) >= 7
    for made in loaded:
        assert made.record_type in schemas, made.id
        assert schema_problems(made, schemas[made.record_type]) == [], made.id


def test_the_deploy_agreements_include_consent_where_and_replaces_examples() -> None:
    loaded = load_agreements(DEPLOY_AGREEMENTS)
    assert any(a.consent is ConsentMode.REQUIRED for a in loaded)
    assert any(a.where for a in loaded)
    assert any(a.replaces for a in loaded)
    assert all(a.legal_basis and a.purpose and a.valid_until for a in loaded)
