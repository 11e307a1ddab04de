"""Kill -9 mid-stream loses nothing; two workers share the work; new ingress topics are found."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from typing import Any

import httpx

from bus.event.envelope import ChangeKind, Envelope
from bus.event.topics import spec_for
from bus.kafka.client import create_topics
from connectors.sdk import Change
from tests.conftest import REPO
from tests.engine import AUTHENTICATES, PROFILE
from tests.people import person
from tests.processes import bus_env
from tests.support.eventually import eventually
from tests.support.world import World, processor_key_file, update

TAX_FIELDS = ("iin", "surname", "registered_address")


def address_changes(people: list[dict[str, Any]], rounds: int) -> list[Change]:
    return [
        update(p, ["registered_address"], registered_address={**p["registered_address"], "building": str(r)})
        for r in range(rounds)
        for p in people
    ]


async def delivered_ids(world: World, agreement: Any) -> list[str]:
    return [Envelope.from_headers(m.headers).id for m in await world.deliveries(agreement)]


async def test_kill_9_mid_stream_then_restart_loses_no_delivery(world: World, kafka_bootstrap: str) -> None:
    # given 20,000 address changes for 200 citizens, all entitled to the tax agreement
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    async with world.publisher() as publisher:
        ids: list[str] = []
        changes = address_changes([person(n) for n in range(200)], 100)
        for start in range(0, len(changes), 1000):
            ids += await publisher.publish_many(changes[start : start + 1000])
    argv = [
        "bus",
        "processor",
        "run",
        "--group",
        f"bus-processor-{world.unique}",
        "--topics",
        rf"^ingress\.{world.provider}\..*",
        "--registry",
        world.registry_url,
        "--bootstrap",
        kafka_bootstrap,
        "--profile",
        PROFILE,
        "--signing-key",
        str(processor_key_file()),
    ]
    env = {**bus_env(argv, None), "BUS_OPERATOR_TOKEN": world.operator_token}
    # when the processor is killed with SIGKILL while it works through them
    with subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        await eventually(lambda: _at_least(world, tax, 2000), timeout_s=60)
        os.kill(proc.pid, signal.SIGKILL)
    seen_before_restart = len(await delivered_ids(world, tax))
    # and started again
    with subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        await eventually(lambda: _all_delivered(world, tax, set(ids)), timeout_s=120)
        proc.terminate()
    # then every entitled change was delivered: on Kafka exactly once (one transaction per batch),
    # on tansu at least once, where repeats only carry an already-seen ce_id
    got = await delivered_ids(world, tax)
    assert seen_before_restart < len(ids)
    assert set(got) == set(ids)
    if AUTHENTICATES:
        assert len(got) == len(ids)


async def _at_least(world: World, agreement: Any, count: int) -> bool:
    return len(await world.deliveries(agreement)) >= count


async def _all_delivered(world: World, agreement: Any, ids: set[str]) -> bool:
    return set(await delivered_ids(world, agreement)) >= ids


async def test_two_workers_share_partitions_and_deliver_what_one_would(world: World) -> None:
    # given 3,000 changes over 300 citizens on a 6-partition ingress topic
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    ids = await world.publish(*address_changes([person(n) for n in range(300)], 10))
    # when two workers of one group process them
    group = f"bus-processor-pair-{world.unique}"
    async with world.processor(group) as first, world.processor(group) as second:

        async def shared_and_done() -> bool:  # on Kafka the rebalance may finish after the work does
            return bool(first.assignment and second.assignment) and await _all_delivered(world, tax, set(ids))

        await eventually(shared_and_done, timeout_s=90)
        assignments = (first.assignment, second.assignment)
    # then both held partitions and together delivered every change once
    assert all(assignments)
    assert not assignments[0] & assignments[1]
    got = await delivered_ids(world, tax)
    assert sorted(got) == sorted(ids)


async def test_a_new_ingress_topic_is_picked_up_within_ten_seconds(
    world: World, registry_url: str, operator_token: str
) -> None:
    # given a running processor
    async with world.processor():
        await asyncio.sleep(1)
        # when the provider starts publishing a new record type on a new topic
        topic = f"ingress.{world.provider}.citizen"
        schema = (REPO / "schemas" / "civil" / "person.avsc").read_text()
        httpx.post(
            f"{registry_url}/subjects/{topic}-value/versions",
            json={"schema": schema},
            headers={"Authorization": f"Bearer {operator_token}"},
        ).raise_for_status()
        await create_topics(world.settings, [spec_for(topic)])
        citizen = person(30)
        await world.publish(Change(ChangeKind.CREATED, "citizen", citizen["iin"], citizen))
        # then its first event is decided on within 10 s
        audit = await eventually(world.audit, timeout_s=10)
    assert [e["record_type"] for e in audit] == ["citizen"]
