"""The catalogue folded from registry subjects and agreements: pure specs, the repository's own schemas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bus.catalogue.build import Registered, build_catalogue, field_docs
from bus.catalogue.render import markdown
from bus.policy.agreement import load_agreements

REPO = Path(__file__).resolve().parents[2]
PERSON = (REPO / "schemas" / "civil" / "person.avsc").read_text()
AGREEMENTS = load_agreements(REPO / "deploy" / "agreements")
NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)


def test_nested_fields_are_listed_by_their_dotted_path_with_their_docs() -> None:
    fields = {f.path: f for f in field_docs(json.loads(PERSON))}
    assert fields["registered_address"].optional
    assert fields["registered_address.region"].doc == "Oblast or city of republican significance."
    assert fields["registered_address.region"].type == "string"
    assert fields["birth_date"].type == "date"
    assert not fields["iin"].optional


def test_agreements_are_listed_under_the_record_type_they_share() -> None:
    registered = [Registered("ingress.civil-registry.person-value", 7, 3, PERSON, "FULL_TRANSITIVE")]
    catalogue = build_catalogue(registered, AGREEMENTS, names={"tax": "State Revenue Committee"}.get, now=NOW)
    [person] = catalogue.record_types
    assert (person.provider, person.record_type, person.version, person.schema_id) == (
        "civil-registry",
        "person",
        3,
        7,
    )
    assert person.compatibility == "FULL_TRANSITIVE"
    assert person.name == "gov.civil.Person"
    assert [a.id for a in person.agreements] == sorted(
        a.id for a in AGREEMENTS if (a.provider, a.record_type) == ("civil-registry", "person")
    )
    tax = next(a for a in person.agreements if a.consumer == "tax")
    assert tax.consumer_name == "State Revenue Committee"
    assert tax.delivery_topic == "deliver.tax.civil-to-tax-taxpayer"


def test_agreements_on_a_type_without_a_registered_schema_are_listed_apart() -> None:
    registered = [Registered("ingress.civil-registry.person-value", 1, 1, PERSON, "BACKWARD")]
    catalogue = build_catalogue(registered, AGREEMENTS, now=NOW)
    assert {a.record_type for a in catalogue.unregistered_agreements} == {"land_parcel", "vehicle"}


def test_subjects_other_than_ingress_values_are_not_record_types() -> None:
    registered = [
        Registered("deliver.tax.civil-to-tax-taxpayer-value", 1, 1, PERSON, "NONE"),
        Registered("ingress.civil-registry.person-key", 2, 1, '"string"', "BACKWARD"),
        Registered("bus.audit-value", 3, 1, PERSON, "BACKWARD"),
    ]
    assert build_catalogue(registered, [], now=NOW).record_types == ()


def test_an_agreement_outside_its_validity_is_shown_as_not_in_force() -> None:
    expired = AGREEMENTS[0].model_copy(update={"valid_until": dt.date(2027, 5, 31)})
    catalogue = build_catalogue([], [expired], now=NOW)
    [entry] = catalogue.unregistered_agreements
    assert not entry.in_force


def test_markdown_escapes_pipes_inside_table_cells() -> None:
    piped = AGREEMENTS[0].model_copy(update={"purpose": "audit | review"})
    registered = [Registered(f"ingress.{piped.provider}.{piped.record_type}-value", 1, 1, PERSON, "BACKWARD")]
    text = markdown(build_catalogue(registered, [piped], now=NOW))
    assert "audit \\| review" in text
    assert "| `registered_address.region` | string | Oblast or city of republican significance. |" in text


def test_an_ingress_value_schema_that_is_not_a_record_is_listed_without_fields() -> None:
    registered = [Registered("ingress.tax.note-value", 9, 1, '["null", "string"]', "BACKWARD")]
    [note] = build_catalogue(registered, [], now=NOW).record_types
    assert (note.fields, note.name, note.avro_schema) == ((), "[null, string]", {"type": ["null", "string"]})
