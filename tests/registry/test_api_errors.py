"""Bad input gets the right Confluent status and error_code, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

RECORD = json.dumps(
    {"type": "record", "name": "R", "namespace": "gov.test", "fields": [{"name": "a", "type": "string"}]}
)


@pytest.fixture
def http(registry_url: str, operator_token: str) -> Iterator[httpx.Client]:
    headers = {
        "Authorization": f"Bearer {operator_token}",
        "Content-Type": "application/vnd.schemaregistry.v1+json",
    }
    with httpx.Client(base_url=registry_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def subject(http: httpx.Client, unique: str) -> str:
    name = f"ingress.errors-{unique}.r-value"
    assert http.post(f"/subjects/{name}/versions", json={"schema": RECORD}).status_code == 200
    return name


def assert_error(response: httpx.Response, status: int, error_code: int) -> None:
    assert (response.status_code, response.json()["error_code"]) == (status, error_code), response.text
    assert response.json()["message"]


def test_invalid_json_body_is_400(http: httpx.Client, unique: str) -> None:
    assert_error(http.post(f"/subjects/ingress.x-{unique}.r-value/versions", content=b"{not json"), 400, 400)


def test_body_without_schema_is_42201(http: httpx.Client, unique: str) -> None:
    assert_error(
        http.post(f"/subjects/ingress.x-{unique}.r-value/versions", json={"scheme": "x"}), 422, 42201
    )


@pytest.mark.parametrize(
    "schema",
    [
        '{"type": "record"',
        '{"type": "recrod", "name": "X", "fields": []}',
        '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "int", "default": "x"}]}',
        "42",
    ],
)
def test_invalid_avro_is_42201(http: httpx.Client, unique: str, schema: str) -> None:
    assert_error(
        http.post(f"/subjects/ingress.x-{unique}.r-value/versions", json={"schema": schema}), 422, 42201
    )


def test_non_avro_schema_type_is_42201(http: httpx.Client, unique: str) -> None:
    response = http.post(
        f"/subjects/ingress.x-{unique}.r-value/versions", json={"schema": "{}", "schemaType": "JSON"}
    )
    assert_error(response, 422, 42201)
    assert "Avro" in response.json()["message"]


def test_unknown_subject_is_40401(http: httpx.Client, unique: str) -> None:
    assert_error(http.get(f"/subjects/ingress.none-{unique}.r-value/versions"), 404, 40401)


def test_unknown_version_is_40402(http: httpx.Client, subject: str) -> None:
    assert_error(http.get(f"/subjects/{subject}/versions/9"), 404, 40402)


@pytest.mark.parametrize("version", ["0", "-2", "one", "99999999999"])
def test_invalid_version_is_42202(http: httpx.Client, subject: str, version: str) -> None:
    assert_error(http.get(f"/subjects/{subject}/versions/{version}"), 422, 42202)


def test_unknown_schema_id_is_40403(http: httpx.Client) -> None:
    assert_error(http.get("/schemas/ids/987654"), 404, 40403)


def test_lookup_of_an_unregistered_schema_is_40403(http: httpx.Client, subject: str) -> None:
    other = json.dumps({"type": "record", "name": "Other", "fields": []})
    assert_error(http.post(f"/subjects/{subject}", json={"schema": other}), 404, 40403)


def test_bad_compatibility_level_is_42203(http: httpx.Client, subject: str) -> None:
    assert_error(http.put(f"/config/{subject}", json={"compatibility": "SIDEWAYS"}), 422, 42203)


def test_subject_without_own_config_is_40408(http: httpx.Client, subject: str) -> None:
    assert_error(http.get(f"/config/{subject}"), 404, 40408)
    assert http.get(f"/config/{subject}", params={"defaultToGlobal": "True"}).status_code == 200


def test_oversized_body_is_413(http: httpx.Client, unique: str) -> None:
    response = http.post(
        f"/subjects/ingress.x-{unique}.r-value/versions", content=b'{"schema": "' + b"x" * (2 << 20) + b'"}'
    )
    assert_error(response, 413, 413)


def test_soft_deleting_twice_is_40404(http: httpx.Client, subject: str) -> None:
    assert http.delete(f"/subjects/{subject}").json() == [1]
    assert_error(http.delete(f"/subjects/{subject}"), 404, 40404)


def test_soft_deleting_a_version_twice_is_40406(http: httpx.Client, subject: str) -> None:
    assert http.delete(f"/subjects/{subject}/versions/1").json() == 1
    assert_error(http.delete(f"/subjects/{subject}/versions/1"), 404, 40406)


def test_permanently_deleting_a_live_version_is_40407(http: httpx.Client, subject: str) -> None:
    assert_error(http.delete(f"/subjects/{subject}/versions/1", params={"permanent": "true"}), 404, 40407)


def test_deleted_only_and_deleted_flags_in_both_spellings(http: httpx.Client, subject: str) -> None:
    http.delete(f"/subjects/{subject}")
    assert subject not in http.get("/subjects").json()
    assert subject in http.get("/subjects", params={"deleted": "True"}).json()
    assert subject in http.get("/subjects", params={"deletedOnly": "true"}).json()
    assert subject in http.get("/subjects", params={"deleted_only": "true"}).json()


def test_verbose_compatibility_explains_why(http: httpx.Client, subject: str) -> None:
    breaking = json.dumps(
        {"type": "record", "name": "R", "namespace": "gov.test", "fields": [{"name": "a", "type": "int"}]}
    )
    response = http.post(
        f"/compatibility/subjects/{subject}/versions/latest",
        params={"verbose": "true"},
        json={"schema": breaking},
    )
    assert response.json()["is_compatible"] is False
    assert any("version 1" in m for m in response.json()["messages"])


def test_raw_schema_endpoints_and_types(http: httpx.Client, subject: str) -> None:
    latest = http.get(f"/subjects/{subject}/versions/latest").json()
    assert json.loads(http.get(f"/subjects/{subject}/versions/1/schema").text) == json.loads(RECORD)
    assert json.loads(http.get(f"/schemas/ids/{latest['id']}/schema").text) == json.loads(RECORD)
    assert {"subject": subject, "version": 1} in http.get(f"/schemas/ids/{latest['id']}/versions").json()
    assert http.get("/schemas/types").json() == ["AVRO"]
    assert http.get("/mode").json() == {"mode": "READWRITE"}


def test_associations_lookup_is_404_so_clients_fall_back(http: httpx.Client) -> None:
    assert http.get("/associations/resources/topic-x").status_code == 404


def test_responses_use_the_schema_registry_media_type(http: httpx.Client, subject: str) -> None:
    assert http.get("/subjects").headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")


def test_openapi_docs_are_served(registry_url: str) -> None:
    assert httpx.get(f"{registry_url}/docs").status_code == 200
    assert "/subjects/{subject}/versions" in httpx.get(f"{registry_url}/openapi.json").json()["paths"]
