"""HTTP ingestion for systems without the SDK: validation, auth, idempotency, batches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from bus.broker.ports import free_port
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.envelope import Envelope
from bus.event.signed_event import verify_event
from bus.event.signing import Verifier, key_id_for, private_key_from_pem, public_key_text
from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics, read_to_end
from tests.engine import PROFILE
from tests.people import person
from tests.processes import running_bus


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in record.items()}


@pytest.fixture(scope="session")
def gateway(
    kafka_bootstrap: str, registry_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """A real gateway process; yields its URL and its signing key file."""
    key_file = tmp_path_factory.mktemp("gateway") / "gateway-key.pem"
    port = free_port()
    args = (
        "gateway",
        "serve",
        "--port",
        str(port),
        "--registry",
        registry_url,
        "--key-file",
        str(key_file),
        "--bootstrap",
        kafka_bootstrap,
        "--profile",
        PROFILE,
    )
    with running_bus(*args) as (_, out):
        out.wait_for("gateway ready at")
        yield f"http://127.0.0.1:{port}", key_file


@pytest.fixture
def topic_configs() -> dict[str, str]:
    """Configs the agency's ingress topic is created with beyond its role's (a test may parametrize)."""
    return {}


@pytest.fixture
def agency(
    gateway: tuple[str, Path],
    kafka_settings: KafkaSettings,
    person_subject_for: Any,
    unique: str,
    topic_configs: dict[str, str],
) -> tuple[str, str, str]:
    """An agency with a token and the gateway's key registered; returns (id, token, topic)."""
    url, key_file = gateway
    agency_id, token = f"akimat-{unique}", new_token()
    topic = person_subject_for(agency_id)
    public = private_key_from_pem(key_file.read_bytes()).public_key()
    entry = AgencyEntry(
        id=agency_id,
        name="Akimat",
        token_hashes=(hash_token(token),),
        public_keys={key_id_for(public): public_key_text(public)},
    )

    async def setup() -> None:
        await put_agency(kafka_settings, entry)
        spec = spec_for(topic)
        await create_topics(kafka_settings, [replace(spec, configs={**spec.configs, **topic_configs})])

    asyncio.run(setup())
    for _ in range(100):  # the gateway follows bus.agencies
        if httpx.post(f"{url}/v1/events/person", headers=bearer(token), json={}).status_code != 401:
            break
        time.sleep(0.05)
    return agency_id, token, topic


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events_on(settings: KafkaSettings, topic: str) -> list[Any]:
    return asyncio.run(read_to_end(settings, topic))


def test_a_valid_record_is_published_signed_by_the_gateway(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, key_file = gateway
    agency_id, token, topic = agency
    record = person(1)
    # when a legacy system posts the record
    response = httpx.post(
        f"{url}/v1/events/person",
        json=as_json(record),
        headers=bearer(token),
        params={"changed": "registered_address"},
    )
    # then it is accepted, on the topic, and its signature verifies with the registered key
    assert response.status_code == 201, response.text
    [message] = events_on(kafka_settings, topic)
    envelope = Envelope.from_headers(message.headers)
    assert envelope.id == response.json()["event_id"]
    assert envelope.changed == ("registered_address",)
    public = private_key_from_pem(key_file.read_bytes()).public_key()
    verify_event(
        Verifier(lambda a, k: public if a == agency_id else None), envelope, message.headers, message.value
    )


def test_validation_errors_list_every_bad_field(
    gateway: tuple[str, Path], agency: tuple[str, str, str]
) -> None:
    url, _ = gateway
    _, token, _ = agency
    record = as_json(person(2))
    record["birth_date"] = "not a date"
    del record["surname"]
    record["favourite_colour"] = "blue"
    response = httpx.post(f"{url}/v1/events/person", json=record, headers=bearer(token))
    assert response.status_code == 422
    fields = {p["field"] for p in response.json()["problems"]}
    assert fields >= {"birth_date", "surname", "favourite_colour"}


def test_a_bad_field_inside_a_nested_record_is_named_by_its_full_path(
    gateway: tuple[str, Path], agency: tuple[str, str, str]
) -> None:
    url, _ = gateway
    _, token, _ = agency
    # given a record with a bad top-level field and a bad field inside its registered address
    record = as_json(person(11))
    record["sex"] = "UNKNOWN"
    record["registered_address"] = {**record["registered_address"], "building": 12}
    # when a legacy system posts it
    response = httpx.post(f"{url}/v1/events/person", json=record, headers=bearer(token))
    # then the 422 names the nested field by its dotted path, not by its parent
    assert response.status_code == 422, response.text
    assert [p["field"] for p in response.json()["problems"]] == ["sex", "registered_address.building"]


def test_an_iin_with_a_wrong_check_digit_is_422(
    gateway: tuple[str, Path], agency: tuple[str, str, str]
) -> None:
    url, _ = gateway
    _, token, _ = agency
    record = as_json(person(3))
    record["iin"] = record["iin"][:11] + str((int(record["iin"][11]) + 1) % 10)
    response = httpx.post(f"{url}/v1/events/person", json=record, headers=bearer(token))
    assert response.status_code == 422
    assert "check digit" in response.text


def test_an_unknown_record_type_is_404(gateway: tuple[str, Path], agency: tuple[str, str, str]) -> None:
    url, _ = gateway
    _, token, _ = agency
    assert httpx.post(f"{url}/v1/events/spaceship", json={}, headers=bearer(token)).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic ???"}])
def test_missing_or_wrong_token_is_401(gateway: tuple[str, Path], headers: dict[str, str]) -> None:
    url, _ = gateway
    assert httpx.post(f"{url}/v1/events/person", json=as_json(person(4)), headers=headers).status_code == 401


def test_three_concurrent_retries_with_one_idempotency_key_make_one_event(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, _ = gateway
    _, token, topic = agency
    record = as_json(person(5))

    async def send_three() -> list[httpx.Response]:
        async with httpx.AsyncClient() as client:
            headers = {**bearer(token), "Idempotency-Key": "change-42"}
            return list(
                await asyncio.gather(
                    *(client.post(f"{url}/v1/events/person", json=record, headers=headers) for _ in range(3))
                )
            )

    responses = asyncio.run(send_three())
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["event_id"] for r in responses}) == 1
    assert len(events_on(kafka_settings, topic)) == 1


def test_reusing_an_idempotency_key_for_another_body_is_409(
    gateway: tuple[str, Path], agency: tuple[str, str, str]
) -> None:
    url, _ = gateway
    _, token, _ = agency
    headers = {**bearer(token), "Idempotency-Key": "change-43"}
    assert httpx.post(f"{url}/v1/events/person", json=as_json(person(6)), headers=headers).status_code == 201
    assert httpx.post(f"{url}/v1/events/person", json=as_json(person(7)), headers=headers).status_code == 409


def test_a_batch_reports_each_record_and_publishes_the_good_ones(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, _ = gateway
    _, token, topic = agency
    bad = as_json(person(10))
    bad["sex"] = "UNKNOWN"
    events = [
        {"record_type": "person", "kind": "created", "record": as_json(person(8))},
        {"record_type": "person", "kind": "created", "record": bad},
        {"record_type": "person", "kind": "deleted", "key": person(9)["iin"]},
    ]
    response = httpx.post(f"{url}/v1/events:batch", json={"events": events}, headers=bearer(token))
    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == [201, 422, 201]
    assert len(events_on(kafka_settings, topic)) == 2


def test_a_record_larger_than_a_produce_request_is_413_naming_it_and_the_limit(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, _ = gateway
    _, token, topic = agency
    # given a record under the gateway's 4 MiB body limit but over the producer's 1 MiB request size
    record = as_json(person(20, surname="S" * (2 << 20)))
    # when a legacy system posts it
    response = httpx.post(f"{url}/v1/events/person", json=record, headers=bearer(token))
    # then it is refused as too large, naming the record, its topic and the limit; nothing is published
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"] == "record_too_large"
    assert record["iin"] in body["message"]
    assert topic in body["message"]
    assert "the limit is 1048576 bytes" in body["message"]
    assert events_on(kafka_settings, topic) == []


@pytest.mark.parametrize("topic_configs", [{"max.message.bytes": "100000"}])
def test_a_record_larger_than_its_topics_max_message_bytes_is_413_naming_that_limit(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, _ = gateway
    _, token, topic = agency
    # given an ingress topic that takes records of at most 100000 bytes, and a record of ~150 kB
    record = as_json(person(21, surname="S" * 150_000))
    # when a legacy system posts it
    response = httpx.post(f"{url}/v1/events/person", json=record, headers=bearer(token))
    # then the topic's own limit is named, on either broker engine, and nothing is published
    assert response.status_code == 413, response.text
    assert "the limit is 100000 bytes" in response.json()["message"]
    assert events_on(kafka_settings, topic) == []


def test_a_batch_with_one_oversize_record_publishes_the_others_and_reports_each(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, _ = gateway
    _, token, topic = agency
    # given a batch whose middle record alone is larger than a produce request may be
    huge = as_json(person(23, surname="S" * (2 << 20)))
    events = [{"record_type": "person", "kind": "created", "record": as_json(person(n))} for n in (22, 24)]
    events.insert(1, {"record_type": "person", "kind": "created", "record": huge})
    # when it is posted
    response = httpx.post(f"{url}/v1/events:batch", json={"events": events}, headers=bearer(token))
    # then each record has its own result, and exactly the accepted ones are on the topic
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 413, 201]
    assert huge["iin"] in results[1]["message"]
    on_topic = {m.key.decode() for m in events_on(kafka_settings, topic)}
    assert on_topic == {results[0]["key"], results[2]["key"]}


def test_a_batch_larger_than_one_produce_request_is_published_whole(
    gateway: tuple[str, Path], agency: tuple[str, str, str], kafka_settings: KafkaSettings
) -> None:
    url, _ = gateway
    _, token, topic = agency
    # given four records of ~600 kB each: each fits a produce request, together they do not
    events = [
        {"record_type": "person", "kind": "created", "record": as_json(person(n, surname="S" * 600_000))}
        for n in range(30, 34)
    ]
    # when they are posted as one batch
    response = httpx.post(f"{url}/v1/events:batch", json={"events": events}, headers=bearer(token))
    # then every one is accepted and published
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 4
    assert len(events_on(kafka_settings, topic)) == 4


def test_a_batch_over_1000_records_is_refused(
    gateway: tuple[str, Path], agency: tuple[str, str, str]
) -> None:
    url, _ = gateway
    _, token, _ = agency
    events = [{"record_type": "person", "kind": "deleted", "key": "900514301239"}] * 1001
    assert (
        httpx.post(f"{url}/v1/events:batch", json={"events": events}, headers=bearer(token)).status_code
        == 422
    )
