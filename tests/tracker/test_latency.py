"""Decisions reach the tracker while everything keeps running; a consent change shows on the next event.

No wall-clock thresholds here (the machine is shared): the figures come from
``bench/tracker_latency.py``; these specs pin the properties the figures rest on.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.tracker_latency import measure, summary
from bus.event.envelope import ChangeKind
from connectors.sdk import Change
from tests.people import person
from tests.support.eventually import eventually_sync
from tests.support.world import update
from tests.tracker.stack import Stack


def health_items(stack: Stack, key: str) -> list[dict[str, Any]]:
    response = stack.get(f"/v1/audit/subjects/{key}", "portal", consumer=stack.health.consumer)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def test_a_revoke_turns_the_next_delivery_into_a_consent_revoked_refusal(stack: Stack) -> None:
    citizen = person(9301)
    consent = {"subject": citizen["iin"], "consumer": stack.health.consumer, "purpose": stack.health.purpose}
    assert stack.post("/v1/consent", "portal", {**consent, "action": "grant"}).status_code == 201
    [created] = stack.run(stack.world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen)))
    eventually_sync(lambda: any(i["event_id"] == created for i in health_items(stack, citizen["iin"])))
    # when the person revokes, and then the civil registry changes their surname
    revoked = stack.post("/v1/consent", "portal", {**consent, "action": "revoke"}).json()
    [renamed] = stack.run(stack.world.publish(update(citizen, ["surname"], surname="Renamed")))
    # then the tracker shows that change refused for consent_revoked, decided after the revoke
    refusal = eventually_sync(
        lambda: next((i for i in health_items(stack, citizen["iin"]) if i["event_id"] == renamed), None)
    )
    assert (refusal["decision"], refusal["reason"], refusal["fields"]) == ("denied", "consent_revoked", [])
    assert dt.datetime.fromisoformat(refusal["when"]) >= dt.datetime.fromisoformat(revoked["time"])
    assert refusal["explanation"] == "You had revoked your consent, so nothing was sent."


def test_each_decision_is_returned_after_it_was_made_without_stopping_the_archiver(stack: Stack) -> None:
    persons = [person(9400 + n) for n in range(5)]

    async def probe() -> list[float]:
        async with stack.world.publisher() as publisher:
            return await measure(stack.url, stack.tokens["portal"], publisher, persons, rate_per_s=20)

    latencies = stack.run(probe())
    figures = summary(latencies)
    assert len(latencies) == len(persons)
    assert all(seconds >= 0 for seconds in latencies)  # visible only once decided
    assert 0 <= figures["p50_s"] <= figures["p99_s"] <= figures["max_s"]
    assert stack.archiver is not None
    assert stack.archiver.checkpoints == 0  # nothing waited for a checkpoint
