"""AsyncAPI 3.0 per agency, from the repository's schemas and agreements: valid, and exactly its ACLs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from bus.acl.rules import rules_for
from bus.catalogue.asyncapi import DELIVERY_REQUIRED, Server, asyncapi_document, to_yaml
from bus.catalogue.build import Registered, build_catalogue
from bus.catalogue.model import Catalogue
from bus.policy.agreement import Agreement, load_agreements
from bus.registry.catalogue import load_catalogue
from tests.catalogue.asyncapi_check import OfficialParser, avro_errors, ref_errors, schema_errors

REPO = Path(__file__).resolve().parents[2]
AGREEMENTS = load_agreements(REPO / "deploy" / "agreements")
TODAY = dt.date(2027, 6, 1)
KAFKA = Server("kafka-1:9093,kafka-2:9093", "https://registry:8081", "SASL_SSL", "SCRAM-SHA-512")
AGENCIES = sorted({a.provider for a in AGREEMENTS} | {a.consumer for a in AGREEMENTS})


def _catalogue(agreements: list[Agreement] = AGREEMENTS) -> Catalogue:
    registered = [
        Registered(entry.subject, number, 1, json.dumps(json.loads(entry.text)), "BACKWARD")
        for number, entry in enumerate(load_catalogue(REPO / "schemas"), start=1)
    ]
    return build_catalogue(registered, agreements, now=dt.datetime.combine(TODAY, dt.time(), dt.UTC))


def _document(
    agency: str, agreements: list[Agreement] = AGREEMENTS, server: Server = KAFKA
) -> dict[str, Any]:
    rules = rules_for(agreements, agencies=AGENCIES, today=TODAY)
    return asyncapi_document(agency, rules, _catalogue(agreements), agreements, server)


def _channels(document: dict[str, Any], action: str) -> set[str]:
    """The addresses of the channels the operations of ``action`` point at (pointers checked)."""
    assert ref_errors(document) == []
    return {
        document["channels"][op["channel"]["$ref"].removeprefix("#/channels/")]["address"]
        for op in document["operations"].values()
        if op["action"] == action
    }


@pytest.mark.parametrize("agency", AGENCIES)
def test_every_agency_document_validates_against_the_asyncapi_3_schema(
    agency: str, asyncapi_schema: Draft7Validator
) -> None:
    document = yaml.safe_load(to_yaml(_document(agency)))
    assert schema_errors(asyncapi_schema, document) == []
    assert avro_errors(document) == []
    assert ref_errors(document) == []


def test_the_official_parser_accepts_every_agency_document(
    official_parser: OfficialParser, tmp_path: Path
) -> None:
    files = []
    for agency in AGENCIES:
        files.append(tmp_path / f"{agency}.yaml")
        files[-1].write_text(to_yaml(_document(agency)))
    reports = official_parser.parse(files)
    assert [(Path(r["file"]).stem, r["errors"]) for r in reports] == [(a, []) for a in AGENCIES]
    tax = next(r for r in reports if Path(r["file"]).stem == "tax")
    document = _document("tax")
    assert set(tax["channels"].values()) == _channels(document, "receive") | _channels(document, "send")


def test_a_consumer_receives_exactly_the_delivery_topics_of_its_agreements_and_sends_only_receipts() -> None:
    document = _document("tax")
    assert _channels(document, "receive") == {
        "bus.agreements",
        "deliver.tax.civil-to-tax-taxpayer",
        "deliver.tax.land-to-tax-property",
    }
    assert _channels(document, "send") == {"bus.receipts"}


def test_a_provider_sends_to_each_of_its_registered_types() -> None:
    document = _document("civil-registry")
    assert _channels(document, "send") == {
        "ingress.civil-registry.person",
        "ingress.civil-registry.address",
        "bus.receipts",
    }
    assert _channels(document, "receive") == {"bus.agreements"}


def test_an_agency_without_an_agreement_in_force_is_offered_no_consumer_group() -> None:
    receive = _document("civil-registry")["operations"]["receive.bus.agreements"]
    assert "bindings" not in receive  # its ACLs grant no bus-sub.civil-registry. group


def test_a_provider_schema_that_is_not_a_record_has_no_fields_and_breaks_no_document(
    asyncapi_schema: Draft7Validator,
) -> None:
    registered = [Registered("ingress.tax.note-value", 99, 1, '"string"', "BACKWARD")]
    catalogue = build_catalogue(registered, AGREEMENTS, now=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    [note] = catalogue.record_types
    assert (note.fields, note.name) == ((), "string")
    rules = rules_for(AGREEMENTS, ["tax"], agencies=AGENCIES, today=TODAY)
    document = asyncapi_document("tax", rules, catalogue, AGREEMENTS, KAFKA)
    assert document["channels"]["ingress.tax.note"]["messages"]["change"]["payload"]["schema"] == {
        "type": "string"
    }
    assert schema_errors(asyncapi_schema, document) == []


def test_an_agreement_the_latest_schema_cannot_serve_is_described_not_fatal() -> None:
    where = {"no_such_field": {"eq": "x"}}
    dropped = [
        Agreement.model_validate({**a.model_dump(), "where": where}) if a.id == "civil-to-tax-taxpayer" else a
        for a in AGREEMENTS
    ]
    message = _document("tax", dropped)["channels"]["deliver.tax.civil-to-tax-taxpayer"]["messages"]["update"]
    assert "payload" not in message
    assert "no_such_field" in message["description"]


def test_an_agreement_not_yet_in_force_gives_its_consumer_no_channel() -> None:
    later = [
        a.model_copy(update={"valid_from": TODAY + dt.timedelta(days=1)}) if a.consumer == "police" else a
        for a in AGREEMENTS
    ]
    assert _channels(_document("police", later), "receive") == {"bus.agreements"}


def test_a_delivery_message_carries_the_agreements_projection_and_the_delivery_headers() -> None:
    document = _document("tax")
    channel = document["channels"]["deliver.tax.civil-to-tax-taxpayer"]
    message = channel["messages"]["update"]
    fields = [f["name"] for f in message["payload"]["schema"]["fields"]]
    assert fields == ["iin", "surname", "given_name", "patronymic", "registered_address"]  # as granted
    headers = document["components"]["schemas"][message["headers"]["$ref"].split("/")[-1]]
    assert headers["required"] == list(DELIVERY_REQUIRED)
    assert message["bindings"]["kafka"]["schemaIdPayloadEncoding"] == "confluent"
    assert channel["bindings"]["kafka"]["partitions"] == 6


def test_receiving_names_the_agencys_consumer_group_prefix_and_the_server_its_scram_login() -> None:
    document = _document("tax")
    operation = document["operations"]["receive.deliver.tax.civil-to-tax-taxpayer"]
    assert operation["bindings"]["kafka"]["groupId"]["pattern"] == "^bus-sub\\.tax\\."
    assert document["servers"]["bus"]["protocol"] == "kafka-secure"
    assert document["components"]["securitySchemes"]["agencyLogin"]["type"] == "scramSha512"


def test_a_broker_that_authenticates_nobody_gets_no_security_scheme(asyncapi_schema: Draft7Validator) -> None:
    document = _document("tax", server=Server("127.0.0.1:9092", "http://127.0.0.1:8081"))
    assert "security" not in document["servers"]["bus"]
    assert "securitySchemes" not in document["components"]
    assert document["servers"]["bus"]["protocol"] == "kafka"
    assert schema_errors(asyncapi_schema, document) == []


def test_the_checks_catch_a_broken_document(asyncapi_schema: Draft7Validator) -> None:
    document = _document("tax")
    channel = document["channels"]["deliver.tax.civil-to-tax-taxpayer"]
    channel["bindings"]["kafka"]["partitions"] = 0
    channel["messages"]["update"]["payload"]["schema"]["fields"][0]["type"] = "lnog"
    assert schema_errors(asyncapi_schema, document) == [
        "$.channels['deliver.tax.civil-to-tax-taxpayer'].bindings.kafka.partitions: "
        "0 is less than the minimum of 1"
    ]
    [problem] = avro_errors(document)
    assert "lnog" in problem
