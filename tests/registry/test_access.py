"""Reads are open; writes need a token, and an agency writes only its own ingress subjects."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.kafka.client import KafkaSettings

SCHEMA = json.dumps({"type": "record", "name": "Thing", "namespace": "gov.test", "fields": []})


@pytest.fixture
async def agency(kafka_settings: KafkaSettings, unique: str, registry_url: str) -> tuple[str, str]:
    """A fresh agency in the directory, and its token (visible to the registry once followed)."""
    agency_id, token = f"agency-{unique}", new_token()
    await put_agency(
        kafka_settings, AgencyEntry(id=agency_id, name="Test agency", token_hashes=(hash_token(token),))
    )
    async with httpx.AsyncClient(base_url=registry_url) as client:
        for _ in range(100):  # the registry follows bus.agencies; give it a moment
            probe = await client.post(
                f"/subjects/ingress.{agency_id}.thing-value/versions",
                json={"schema": SCHEMA},
                headers=bearer(token),
            )
            if probe.status_code != 401:
                break
            await asyncio.sleep(0.05)
    return agency_id, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


def register(url: str, subject: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/subjects/{subject}/versions", json={"schema": SCHEMA}, headers=headers)


def test_write_without_token_is_401(registry_url: str, unique: str) -> None:
    response = register(registry_url, f"ingress.x-{unique}.thing-value", {})
    assert (response.status_code, response.json()["error_code"]) == (401, 401)


def test_write_with_an_unknown_token_is_401(registry_url: str, unique: str) -> None:
    assert register(registry_url, f"ingress.x-{unique}.thing-value", bearer("forged")).status_code == 401


def test_reads_need_no_token(registry_url: str) -> None:
    assert httpx.get(f"{registry_url}/subjects").status_code == 200


def test_agency_writes_its_own_ingress_subject(registry_url: str, agency: tuple[str, str]) -> None:
    agency_id, token = agency
    assert register(registry_url, f"ingress.{agency_id}.thing-value", bearer(token)).status_code == 200


def test_agency_writes_with_confluent_basic_auth(registry_url: str, agency: tuple[str, str]) -> None:
    agency_id, token = agency
    assert (
        register(registry_url, f"ingress.{agency_id}.other-value", basic(agency_id, token)).status_code == 200
    )


def test_basic_auth_with_another_agency_id_is_401(registry_url: str, agency: tuple[str, str]) -> None:
    agency_id, token = agency
    assert register(registry_url, f"ingress.{agency_id}.thing-value", basic("tax", token)).status_code == 401


def test_agency_may_not_write_another_agencys_subject(registry_url: str, agency: tuple[str, str]) -> None:
    _, token = agency
    response = register(registry_url, "ingress.civil-registry.person-value", bearer(token))
    assert (response.status_code, response.json()["error_code"]) == (403, 40301)
    assert "civil-registry.person" in response.json()["message"]


def test_agency_may_not_write_delivery_subjects(registry_url: str, agency: tuple[str, str]) -> None:
    agency_id, token = agency
    assert (
        register(registry_url, f"deliver.{agency_id}.some-agreement-value", bearer(token)).status_code == 403
    )


def test_operator_writes_delivery_subjects(registry_url: str, operator_token: str, unique: str) -> None:
    assert (
        register(registry_url, f"deliver.tax-{unique}.agreement-value", bearer(operator_token)).status_code
        == 200
    )


def test_agency_may_not_change_global_config(registry_url: str, agency: tuple[str, str]) -> None:
    _, token = agency
    response = httpx.put(f"{registry_url}/config", json={"compatibility": "NONE"}, headers=bearer(token))
    assert response.status_code == 403
