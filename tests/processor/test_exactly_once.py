"""On Kafka the processor commits each batch's outputs and input offsets in one transaction (#21):
a worker killed between its produce and its commit, or left behind as a zombie after its
partitions moved, leaves each change visible exactly once to read_committed readers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiokafka import TopicPartition
from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as RdTopicPartition

from bus.errors import BrokerError
from bus.event.envelope import Envelope
from bus.event.topics import TopicSpec
from bus.ids import TopicName
from bus.kafka.batch_writer import partition_for
from bus.kafka.client import (
    MAX_REQUEST_BYTES,
    KafkaSettings,
    create_topics,
    librdkafka_config,
    make_consumer,
    make_producer,
    read_to_end,
    topic_partitions,
)
from bus.policy.agreement import Agreement
from bus.processor.exactly_once import ExactlyOnceIngress
from bus.processor.outputs import Output
from bus.processor.service import Processor
from tests.conftest import REPO
from tests.engine import AUTHENTICATES, PROFILE
from tests.people import person
from tests.processes import bus_env
from tests.support.eventually import eventually
from tests.support.world import World, processor_key_file, update

pytestmark = pytest.mark.skipif(not AUTHENTICATES, reason="tansu's transactions are broken (DESIGN §7)")
TAX_FIELDS = ("iin", "surname", "registered_address")


def _worker(
    world: World, step: str, instance: str, *, fencing: str = "on", **env: str
) -> subprocess.Popen[str]:
    """``bus processor run`` stopped at ``step`` of its first transaction (transaction_worker.py)."""
    args = [
        "processor", "run", "--group", f"bus-processor-{world.unique}", "--topics",
        rf"^ingress\.{world.provider}\..*", "--registry", world.registry_url, "--bootstrap",
        world.settings.bootstrap, "--profile", PROFILE, "--ops-port", "0", "--instance", instance,
    ]  # fmt: skip
    argv = [sys.executable, "-m", "tests.processor.transaction_worker", step, fencing, *args]
    extra = {
        "BUS_OPERATOR_TOKEN": world.operator_token,
        "BUS_PROCESSOR_SIGNING_KEY": str(processor_key_file()),
        **env,
    }
    return subprocess.Popen(
        argv, cwd=REPO, env=bus_env(args, extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


async def _published(world: World, count: int) -> tuple[Agreement, list[str]]:
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    people = [person(n) for n in range(count)]
    changes = [update(p, ["registered_address"], registered_address=p["registered_address"]) for p in people]
    return tax, await world.publish(*changes)


async def _malformed(world: World, count: int) -> None:
    """Records no publisher SDK would write: no envelope, bytes that are not Avro."""
    producer = make_producer(world.settings)
    await producer.start()
    try:
        for n in range(count):
            await producer.send_and_wait(world.topic, key=f"bad-{n}".encode(), value=b"not avro")
    finally:
        await producer.stop()


async def _delivered(world: World, agreement: Agreement) -> list[str]:
    return [Envelope.from_headers(m.headers).id for m in await world.deliveries(agreement)]


def _admin_config(world: World) -> dict[str, object]:
    assert world.admin is not None, "Kafka runs with ACLs: the probe reads as the administrator"
    return librdkafka_config(world.admin)


async def _uncommitted(world: World, topic: str) -> int:
    """How many records a read_uncommitted reader finds: the aborted transactions' ones too."""
    assert world.admin is not None, "Kafka runs with ACLs: the probe reads as the administrator"
    consumer = make_consumer(world.admin, isolation_level="read_uncommitted", fetch_max_wait_ms=10)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in await topic_partitions(consumer, topic)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        seen = 0
        for tp, end in ends.items():
            while await consumer.position(tp) < end:
                seen += len((await consumer.getmany(tp, timeout_ms=500)).get(tp, []))
        return seen
    finally:
        await consumer.stop()


def _stopped_at_step(proc: subprocess.Popen[str]) -> str:
    output, _ = proc.communicate(timeout=90)
    assert proc.returncode == 9, output[-3000:]
    assert "transaction open" in output, output[-3000:]
    return output


async def test_a_worker_killed_between_produce_and_commit_leaves_each_change_seen_once(world: World) -> None:
    # given 600 entitled changes and 10 malformed records on the ingress topic, taken 50 at a time
    tax, ids = await _published(world, 600)
    await _malformed(world, 10)
    # when one worker slot is killed six times inside a transaction (its 1st, 2nd or 3rd: outputs on
    # the broker, offsets sent or not, never committed), each time restarted under the same instance
    for nth in (1, 2, 3):
        for step in ("offsets", "commit"):
            _stopped_at_step(_worker(world, f"{step}:{nth}", "slot", BUS_PROCESSOR_MAX_BATCH="50"))
    survivor = _worker(world, "none", "slot")
    try:
        await eventually(lambda: _all(world, tax, ids), timeout_s=90)
    finally:
        _stopped(survivor)
    # then a read_committed reader sees each change exactly once, each malformed record dead-lettered
    # once, and one audit entry per decision,
    got = await _delivered(world, tax)
    assert sorted(got) == sorted(ids)
    assert sorted(r.key for r in await world.dead_letters()) == sorted(f"bad-{n}".encode() for n in range(10))
    decisions = Counter(e["event_id"] for e in await world.audit())
    assert set(ids) <= set(decisions)
    assert len(decisions) == len(ids) + 10  # the dead letters are decisions too
    assert set(decisions.values()) == {1}
    # although the aborted transactions' deliveries are in the log (a read_uncommitted reader sees them)
    assert await _uncommitted(world, tax.delivery_topic) > len(ids)


async def _all(world: World, agreement: Agreement, ids: list[str]) -> bool:
    return set(await _delivered(world, agreement)) >= set(ids)


async def _zombie_run(world: World, fencing: str) -> tuple[list[str], list[str], str]:
    """A paused inside its first transaction, SIGSTOPped past its session; B takes over; A resumes."""
    tax, ids = await _published(world, 200)
    # A's transaction outlives the pause (B's state reload waits up to 25 s for it, then reads to
    # where it begins); B keeps the default transaction timeout
    session = {"BUS_PROCESSOR_SESSION_TIMEOUT_MS": "6000"}
    zombie = _worker(
        world, "pause", "a", fencing=fencing, BUS_PROCESSOR_TRANSACTION_TIMEOUT_MS="180000", **session
    )
    assert zombie.stdout is not None
    for line in zombie.stdout:
        if "transaction open" in line:
            break
    os.kill(zombie.pid, signal.SIGSTOP)
    successor = _worker(world, "none", "b", fencing=fencing, **session)
    try:
        await eventually(lambda: _committed_offsets(world), timeout_s=120)  # B owns and committed
        os.kill(zombie.pid, signal.SIGCONT)
        # B's commits become visible once A's transaction ends: aborted (fenced) or committed (not)
        await eventually(lambda: _all(world, tax, ids), timeout_s=60)
    finally:
        os.kill(zombie.pid, signal.SIGCONT)
        zombie_output = _stopped(zombie)
        _stopped(successor)
    return ids, await _delivered(world, tax), zombie_output


def _stopped(proc: subprocess.Popen[str]) -> str:
    """SIGTERM (if still running) and the rest of its output."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()[0]


async def _committed_offsets(world: World) -> bool:
    consumer = Consumer({**_admin_config(world), "group.id": f"bus-processor-{world.unique}"})
    try:
        topic = world.topic
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([RdTopicPartition(topic, p) for p in partitions], timeout=10)
        return sum(max(tp.offset, 0) for tp in committed) > 0
    finally:
        consumer.close()


async def test_a_zombie_worker_resumed_after_a_takeover_is_fenced_and_never_seen(world: World) -> None:
    # given worker A stopped (SIGSTOP) with its first transaction open, past its 6 s session,
    # and worker B of the same group that took its partitions over and committed
    # when A resumes and tries to commit its transaction
    ids, got, zombie_output = await _zombie_run(world, fencing="on")
    # then the coordinator refused it (a fenced producer, a stale generation, or a member the group
    # already removed, depending on how far the rebalance got), and a read_committed reader sees
    # each change exactly once
    refusals = ("fenced", "generation", "unknown_member_id")
    assert any(r in zombie_output.lower() for r in refusals), zombie_output[-3000:]
    assert sorted(got) == sorted(ids)


async def test_without_fencing_the_zombie_spec_sees_a_zombie_commit(world: World) -> None:
    # given the same run, but A sends its offsets with the group id only (no generation), as
    # aiokafka 0.14 does: the coordinator cannot tell that A lost its partitions
    ids, got, _ = await _zombie_run(world, fencing="off")
    # then A's commit goes through and some changes are delivered twice: the spec above can fail
    assert set(got) == set(ids)
    assert len(got) > len(ids)


@pytest.fixture
async def transactional(
    world: World, kafka_settings: KafkaSettings
) -> AsyncIterator[tuple[ExactlyOnceIngress, str]]:
    """The exactly-once engine's I/O alone, and a 6-partition topic for it (as the administrator:
    these specs are about the engine, not about grants)."""
    assert world.admin is not None
    topic = f"test.transactional.{world.unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(topic), 6)])
    ingress = ExactlyOnceIngress(
        world.admin, group_id=f"test-{world.unique}", instance=None, pattern="^test-nothing$",
        session_timeout_ms=10_000, transaction_timeout_ms=10_000,
    )  # fmt: skip
    await ingress.start()
    try:
        yield ingress, topic
    finally:
        await ingress.stop()


async def test_the_transactional_producer_puts_each_key_where_the_ingress_publisher_does(
    world: World, transactional: tuple[ExactlyOnceIngress, str]
) -> None:
    # given the exactly-once engine's producer and a 6-partition topic
    ingress, topic = transactional
    keys = [f"subject-{n}".encode() for n in range(200)]
    # when it writes one record per key in a transaction
    await ingress.write([Output(TopicName(topic), key, b"v", []) for key in keys], {})
    # then each key is on the partition the publisher SDK's murmur2 partitioner picks, so ingress,
    # state and delivery partitions stay paired whichever engine wrote them
    assert world.admin is not None
    records = await read_to_end(world.admin, topic)
    assert {(r.key, r.partition) for r in records} == {(k, partition_for(k, range(6))) for k in keys}


async def test_a_batch_queued_behind_a_failed_transaction_is_never_committed(
    world: World, transactional: tuple[ExactlyOnceIngress, str]
) -> None:
    # given a batch whose transaction fails (a record larger than any request), and the next batch
    # already queued behind it (processed on the failed batch's state; its offsets cover both)
    ingress, topic = transactional
    failing = ingress.write([Output(TopicName(topic), b"k", b"x" * (MAX_REQUEST_BYTES + 1), [])], {})
    following = ingress.write([Output(TopicName(topic), b"k", b"fine", [])], {})
    # when both are awaited
    outcomes = await asyncio.gather(failing, following, return_exceptions=True)
    # then both fail, the first naming what happened, and nothing of either is readable
    assert all(isinstance(o, BrokerError) for o in outcomes), outcomes
    assert "could not commit a batch of 1 outputs" in str(outcomes[0])
    assert world.admin is not None
    assert await read_to_end(world.admin, topic) == []


async def test_a_worker_fenced_by_a_newer_one_of_its_instance_fails_its_batch_and_stops_cleanly(
    world: World, kafka_settings: KafkaSettings
) -> None:
    # given two engines under one instance, the second started after the first (it fences it)
    admin = world.admin
    assert admin is not None
    topic = f"test.fenced.{world.unique}"
    await create_topics(kafka_settings, [TopicSpec(TopicName(topic), 1)])

    def engine() -> ExactlyOnceIngress:
        return ExactlyOnceIngress(
            admin, group_id=f"test-{world.unique}", instance="same", pattern="^test-nothing$",
            session_timeout_ms=10_000, transaction_timeout_ms=10_000,
        )  # fmt: skip

    older, newer = engine(), engine()
    await older.start()
    await newer.start()
    try:
        # when the older one writes a batch
        with pytest.raises(BrokerError, match="was fenced") as refused:
            await older.write([Output(TopicName(topic), b"k", b"zombie", [])], {})
    finally:
        # then its batch is refused as fenced, and it still stops (its producer closed, its threads gone)
        await older.stop()
        await newer.stop()
    assert "another worker owns this work now" in refused.value.hint
    assert await read_to_end(admin, topic) == []


async def test_a_group_outside_the_processors_transactional_prefix_is_refused_naming_the_id(
    world: World,
) -> None:
    # given a worker under a group that the processor's ACLs do not cover (they allow bus-processor*)
    processor = Processor(world.settings, world.processor_settings(group=f"elsewhere-{world.unique}"))
    # when it starts
    try:
        with pytest.raises(BrokerError, match="could not start its transactional producer") as refused:
            await processor.start()
    finally:
        await processor.stop()
    # then the refusal names the transactional id it asked for and where the grant is seen
    assert f"elsewhere-{world.unique}." in refused.value.hint
    assert "bus acl export" in refused.value.hint
