"""GET /v1/audit/subjects/{key}: each role's reads, plain-terms items, filters, pages, audited reads."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bus.event.envelope import ChangeKind
from bus.kafka.client import read_to_end
from bus.policy.consent import ConsentStatus
from connectors.sdk import Change
from tests.people import person
from tests.support.eventually import eventually_sync
from tests.tracker.stack import Stack

A, B, NOBODY = person(9101), person(9102), person(9103)


@pytest.fixture(scope="module")
def scenario(stack: Stack) -> Stack:
    """A (consent to health granted) and B (no consent) are created once: 2 decisions each."""
    world = stack.world
    stack.run(world.consent(A["iin"], stack.health.consumer, stack.health.purpose, ConsentStatus.GRANTED))
    stack.run(world.publish(*(Change(ChangeKind.CREATED, "person", p["iin"], p) for p in (A, B))))
    for citizen in (A, B):

        def decided(c: dict[str, Any] = citizen) -> bool:
            return len(items(stack, c["iin"], "auditor")) == 2

        eventually_sync(decided)
    return stack


def items(stack: Stack, key: str, who: str, **params: Any) -> list[dict[str, Any]]:
    response = stack.get(f"/v1/audit/subjects/{key}", who, **params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def consumers(found: list[dict[str, Any]]) -> set[str]:
    return {i["consumer"]["id"] for i in found}


@pytest.mark.parametrize("who", ["portal", "auditor", "operator", "civil"])
def test_portal_auditor_operator_and_the_provider_see_every_entry(scenario: Stack, who: str) -> None:
    stack = scenario
    assert consumers(items(stack, A["iin"], who)) == {stack.tax.consumer, stack.health.consumer}


@pytest.mark.parametrize("agency", ["tax", "health"])
def test_a_consumer_agency_sees_only_its_own_entries(scenario: Stack, agency: str) -> None:
    stack = scenario
    mine = stack.world.consumer(agency)
    assert consumers(items(stack, A["iin"], agency)) == {mine}
    # and asking for another agency's entries gives nothing rather than an error
    other = stack.health.consumer if agency == "tax" else stack.tax.consumer
    assert items(stack, A["iin"], agency, consumer=other) == []


def test_an_agency_with_no_part_in_it_sees_an_empty_list(scenario: Stack) -> None:
    assert items(scenario, A["iin"], "police") == []


@pytest.mark.parametrize("who", ["portal", "auditor", "police"])
def test_an_unknown_key_is_an_empty_list_not_a_404(scenario: Stack, who: str) -> None:
    response = scenario.get(f"/v1/audit/subjects/{NOBODY['iin']}", who)
    assert response.status_code == 200
    assert response.json() == {
        "subject": NOBODY["iin"],
        "lang": "en",
        "items": [],
        "next_cursor": None,
    }


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic ???"}])
def test_no_or_a_wrong_token_is_401(scenario: Stack, headers: dict[str, str]) -> None:
    response = httpx.get(f"{scenario.url}/v1/audit/subjects/{A['iin']}", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_each_item_says_who_received_which_fields_for_what_under_which_law(scenario: Stack) -> None:
    stack = scenario
    [tax] = items(stack, A["iin"], "portal", consumer=stack.tax.consumer)
    assert tax["decision"] == "delivered"
    assert tax["consumer"] == {"id": stack.tax.consumer, "name": "tax agency"}
    assert tax["provider"] == {"id": stack.world.provider, "name": "Civil registry"}
    assert tax["fields"] == ["iin", "surname", "given_name", "registered_address"]
    assert (tax["purpose"], tax["legal_basis"]) == (stack.tax.purpose, stack.tax.legal_basis)
    assert (tax["agreement"], tax["replaces"]) == (stack.tax.id, "certificate of residence")
    assert tax["explanation"] == (
        "tax agency received iin, surname, given_name, registered_address for “tax purpose” under "
        "Law on tax, Art. 1. You no longer need to bring the paper “certificate of residence”. "
        "Receipt not yet confirmed by the recipient."
    )
    assert tax["received_at"] is None  # the scenario's tax agency runs no receipting subscriber


def test_a_refusal_is_explained_in_the_requested_language(scenario: Stack) -> None:
    stack = scenario
    [refusal] = items(stack, B["iin"], "portal", decision="denied", lang="ru")
    assert (refusal["reason"], refusal["fields"]) == ("consent_missing", [])
    assert refusal["explanation"].startswith("Для этой передачи нужно ваше согласие")
    [kazakh] = items(stack, B["iin"], "portal", decision="denied", lang="kk")
    assert "келісім" in kazakh["explanation"]
    response = stack.get(f"/v1/audit/subjects/{B['iin']}", "portal", decision="denied")
    assert response.json()["lang"] == "en"


def test_filters_by_period_and_pages_newest_first(scenario: Stack) -> None:
    stack = scenario
    everything = items(stack, A["iin"], "auditor")
    assert [i["when"] for i in everything] == sorted((i["when"] for i in everything), reverse=True)
    first = stack.get(f"/v1/audit/subjects/{A['iin']}", "auditor", limit=1).json()
    second = stack.get(f"/v1/audit/subjects/{A['iin']}", "auditor", limit=1, cursor=first["next_cursor"])
    assert [first["items"][0]["event_id"], second.json()["items"][0]["event_id"]] == [
        i["event_id"] for i in everything
    ]
    assert second.json()["next_cursor"] is None
    assert items(stack, A["iin"], "auditor", since="2999-01-01T00:00:00Z") == []
    assert len(items(stack, A["iin"], "auditor", until="2999-01-01T00:00:00Z")) == 2


def test_a_bad_cursor_or_limit_is_422(scenario: Stack) -> None:
    stack = scenario
    assert stack.get(f"/v1/audit/subjects/{A['iin']}", "auditor", cursor="forged").status_code == 422
    assert stack.get(f"/v1/audit/subjects/{A['iin']}", "auditor", limit=0).status_code == 422


def test_every_read_is_recorded_with_who_read_what(scenario: Stack) -> None:
    stack = scenario
    # when the police agency and the portal read A's tracker
    items(stack, A["iin"], "police", decision="delivered")
    items(stack, A["iin"], "portal", lang="kk")
    # then both reads are on the reads topic, with reader, filters and how many entries were shown
    records = stack.run(read_to_end(stack.world.settings, stack.gateway.settings.reads_topic))  # type: ignore[union-attr]
    reads = [json.loads(r.value) for r in records if r.key == A["iin"].encode()]
    police = [r for r in reads if r["reader_agency"] == stack.world.consumer("police")]
    assert police, reads
    assert police[-1]["filters"]["decision"] == "delivered"
    assert police[-1]["filters"]["agency"] == stack.world.consumer("police")
    assert (police[-1]["kind"], police[-1]["returned"]) == ("tracker", 0)
    portal = [r for r in reads if r["reader_role"] == "portal"]
    assert portal, reads
    assert portal[-1]["returned"] == 2


def test_unknown_keys_are_recorded_too(scenario: Stack) -> None:
    stack = scenario
    items(stack, "no-such-subject", "auditor")
    records = stack.run(read_to_end(stack.world.settings, stack.gateway.settings.reads_topic))  # type: ignore[union-attr]
    assert any(r.key == b"no-such-subject" for r in records)
