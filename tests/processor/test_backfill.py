"""Backfill gives a new agreement the current records it is entitled to, and never overtakes live updates."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from bus.errors import ConfigError
from bus.event.envelope import ChangeKind
from bus.policy.consent import ConsentStatus
from bus.processor.backfill_request import BackfillStatus, backfill
from connectors.sdk import Change
from tests.engine import PROFILE
from tests.people import person
from tests.processes import bus
from tests.support.eventually import eventually
from tests.support.world import World, update

FIELDS = ("iin", "surname", "registered_address")
PEOPLE = 5000


async def _register_people(world: World, count: int) -> list[dict[str, Any]]:
    people = [person(n) for n in range(count)]
    async with world.processor(), world.publisher() as publisher:
        for start in range(0, count, 500):
            await publisher.publish_many(
                [Change(ChangeKind.CREATED, "person", p["iin"], p) for p in people[start : start + 500]]
            )
        await publisher.flush(timeout_s=120)
        await eventually(lambda: _audited(world, count), timeout_s=120)
    return people


async def _audited(world: World, count: int) -> bool:
    return len(await world.audit()) >= count


def _latest_by_key(records: list[Any]) -> dict[str, Any]:
    return {r.key.decode(): r for r in records}


async def test_a_new_agreement_gets_exactly_the_entitled_current_records(world: World) -> None:
    # given 5,000 citizens on record, then a women's-programme agreement (where sex = FEMALE)
    people = await _register_people(world, PEOPLE)
    women = world.agreement("women", FIELDS, where={"sex": {"eq": "FEMALE"}})
    await world.apply(women)
    progress: list[BackfillStatus] = []
    # when it is backfilled while the processor runs
    async with world.processor():
        status = await backfill(world.settings, women.id, on_progress=progress.append, timeout_s=120)
        delivered = await world.deliveries(women)
    # then exactly the women were delivered, as snapshots with only the granted fields
    expected = {p["iin"] for p in people if p["sex"] == "FEMALE"}
    assert set(_latest_by_key(delivered)) == expected
    assert len(delivered) == len(expected)
    assert all(dict(r.headers)["ce_type"].endswith(b".snapshot") for r in delivered)
    # and the counts add up and progress was reported along the way
    assert (status.total, status.scanned, status.delivered, status.denied) == (
        PEOPLE,
        PEOPLE,
        len(expected),
        PEOPLE - len(expected),
    )
    assert status.finished
    assert len(progress) >= 2


async def test_backfill_respects_consent(world: World) -> None:
    # given 300 citizens, a consent-based agreement, 20 grants and 5 of them revoked again
    people = await _register_people(world, 300)
    health = world.agreement("health", FIELDS, consent="required")
    await world.apply(health)
    for p in people[:20]:
        await world.consent(p["iin"], health.consumer, health.purpose, ConsentStatus.GRANTED)
    for p in people[:5]:
        await world.consent(p["iin"], health.consumer, health.purpose, ConsentStatus.REVOKED)
    # when the agreement is backfilled
    async with world.processor():
        status = await backfill(world.settings, health.id, timeout_s=120)
        delivered = await world.deliveries(health)
    # then only the 15 who consent now received their record, and the rest are audited denials
    assert set(_latest_by_key(delivered)) == {p["iin"] for p in people[5:20]}
    assert (status.delivered, status.denied) == (15, 285)
    reasons = {e["reason"] for e in await world.audit() if e["agreement_id"] == health.id and e["reason"]}
    assert reasons == {"consent_missing", "consent_revoked"}


async def test_a_live_update_during_backfill_is_never_overtaken_by_an_older_snapshot(world: World) -> None:
    # given 2,000 citizens and a new agreement
    people = await _register_people(world, 2000)
    everyone = world.agreement("everyone", FIELDS)
    await world.apply(everyone)
    movers = people[::10]
    # when the backfill runs while 200 citizens move house three times
    async with world.processor(), world.publisher() as publisher:
        filling = asyncio.create_task(backfill(world.settings, everyone.id, timeout_s=120))
        for building in ("101", "102", "103"):
            await publisher.publish_many(
                [
                    update(
                        p,
                        ["registered_address"],
                        registered_address={**p["registered_address"], "building": building},
                    )
                    for p in movers
                ]
            )
        await filling
        await publisher.flush(timeout_s=60)
        await eventually(lambda: _count_at_least(world, everyone.delivery_topic, 2000 + 3 * len(movers)))
        delivered = await world.deliveries(everyone)
    # then on the topic every citizen's versions only go forward, and the last one is the newest move
    versions: dict[str, list[int]] = defaultdict(list)
    for record in delivered:
        versions[record.key.decode()].append(int(dict(record.headers)["bus_sequence"]))
    assert all(seq == sorted(seq) for seq in versions.values())
    assert all(versions[p["iin"]][-1] == 4 for p in movers)


def _move(citizen: dict[str, Any], building: str) -> Change:
    address = {**citizen["registered_address"], "building": building}
    return update(citizen, ["registered_address"], registered_address=address)


async def _count_at_least(world: World, topic: str, count: int) -> bool:
    return len(await world.records(topic)) >= count


async def test_rerunning_a_backfill_reproduces_the_same_event_ids(world: World) -> None:
    # given 100 citizens and an agreement backfilled once
    await _register_people(world, 100)
    tax = world.agreement("tax", FIELDS)
    await world.apply(tax)
    async with world.processor():
        await backfill(world.settings, tax.id, timeout_s=60)
        first = {dict(r.headers)["ce_id"] for r in await world.deliveries(tax)}
        # when it is backfilled again
        await backfill(world.settings, tax.id, timeout_s=60)
        both = [dict(r.headers)["ce_id"] for r in await world.deliveries(tax)]
    # then the second run repeated exactly the same ids (receivers drop them as duplicates)
    assert len(first) == 100
    assert len(both) == 200
    assert set(both) == first


async def test_an_agreement_that_is_not_active_cannot_be_backfilled(world: World) -> None:
    # given a revoked agreement
    gone = world.agreement("gone", FIELDS)
    await world.apply(gone, revoke=[gone.id])
    # when it is backfilled
    # then the error says it was revoked
    with pytest.raises(ConfigError, match="was revoked"):
        await backfill(world.settings, gone.id)


async def test_cli_shows_progress_and_a_summary(world: World) -> None:
    # given 50 citizens and a new agreement, with the processor running
    await _register_people(world, 50)
    tax = world.agreement("tax", FIELDS)
    await world.apply(tax)
    async with world.processor():
        # when an operator runs `bus backfill`
        result = await asyncio.to_thread(
            bus, "backfill", tax.id, "--bootstrap", world.settings.bootstrap, "--profile", PROFILE
        )
    # then it finishes with the counts
    assert result.returncode == 0, result.stderr
    assert "scanned 50, delivered 50, denied 0" in result.stdout
