"""The subscriber SDK hands each entitled update to the agency once, in per-subject order."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from bus.errors import AccessDeniedError, ConfigError
from bus.event.envelope import ChangeKind
from bus.kafka.client import make_producer
from bus.subscriber import Subscriber, Undeliverable, Update
from connectors.sdk import Change
from tests.engine import tokens_decide
from tests.people import person
from tests.subscriber.subscriber_process import run_subscriber
from tests.support.eventually import eventually
from tests.support.world import World, processor_signed, update

TAX_FIELDS = ("iin", "surname", "given_name", "registered_address")
SUBJECTS = 200
VERSIONS = 50


def _moves(version: int) -> list[Change]:
    """Every subject moves to building ``version`` (one update per subject)."""
    return [
        update(
            p,
            ["registered_address"],
            registered_address={**p["registered_address"], "building": str(version)},
        )
        for p in (person(n) for n in range(SUBJECTS))
    ]


async def _subscriber(world: World, name: str, token: str, tmp: Path) -> Subscriber:
    return Subscriber(
        world.consumer(name),
        token,
        bootstrap=world.logins.get(world.consumer(name), world.settings),
        registry=world.registry_url,
        store_path=tmp / f"{name}.sqlite",
    )


async def test_ten_thousand_updates_arrive_once_each_in_order_across_a_crash(
    world: World, tmp_path: Path
) -> None:
    # given 10,000 tax deliveries: 200 citizens, 50 moves each
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    async with world.processor(), world.publisher() as publisher:
        for version in range(1, VERSIONS + 1):
            await publisher.publish_many(_moves(version))
        await publisher.flush(timeout_s=120)
        await eventually(lambda: _count_is(world, tax.delivery_topic, SUBJECTS * VERSIONS), timeout_s=120)
    out = tmp_path / "handled.txt"
    # when the subscriber is SIGKILLed right after its 3,333rd ack, then restarted to the end
    crashed, finished = (run_subscriber(world, token, tax.id, tmp_path, n) for n in (3333, 0))
    # then the first run died by the kill, the second caught up
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    assert finished.returncode == 0, finished.stderr[-2000:]
    lines = [line.split() for line in out.read_text().splitlines()]
    ids = [event_id for event_id, _, _ in lines]
    # and every update was handed over exactly once
    assert len(ids) == SUBJECTS * VERSIONS
    assert len(set(ids)) == len(ids)
    # and each citizen's updates came in publication order
    sequences: dict[str, list[int]] = defaultdict(list)
    for _, subject, sequence in lines:
        sequences[subject].append(int(sequence))
    assert len(sequences) == SUBJECTS
    assert all(seq == sorted(seq) and len(seq) == VERSIONS for seq in sequences.values())


async def _count_is(world: World, topic: str, expected: int) -> bool:
    return len(await world.records(topic)) >= expected


async def test_update_carries_subject_fields_agreement_and_legal_basis(world: World, tmp_path: Path) -> None:
    # given a tax agreement and one delivered move
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    citizen = person(7)
    async with world.processor():
        [event_id] = await world.publish(
            update(
                citizen,
                ["registered_address"],
                registered_address={**citizen["registered_address"], "building": "9"},
            )
        )
        await eventually(lambda: world.deliveries(tax))
    # when the tax agency reads its updates
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        items = [item async for item in subscriber.updates(tax.id, follow=False)]
    # then it gets one typed update with only its fields and the law that allows it
    [item] = items
    assert isinstance(item, Update)
    assert (item.subject, item.kind, item.event_id) == (citizen["iin"], ChangeKind.UPDATED, event_id)
    assert item.record is not None
    assert set(item.record) == set(TAX_FIELDS)
    assert item.record["registered_address"]["building"] == "9"
    assert item.changed == ["registered_address"]
    assert (item.agreement, item.legal_basis) == (tax.id, tax.legal_basis)


async def test_acked_updates_are_not_handed_over_again(world: World, tmp_path: Path) -> None:
    # given one delivered update that the agency read and acked
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    async with world.processor():
        await world.publish(update(person(8), ["surname"], surname="New"))
        await eventually(lambda: world.deliveries(tax))
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        async for item in subscriber.updates(tax.id, follow=False):
            await item.ack()
    # when it reads again
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        again = [item async for item in subscriber.updates(tax.id, follow=False)]
    # then nothing is handed over
    assert again == []


async def test_a_retransmitted_event_id_is_suppressed(world: World, tmp_path: Path) -> None:
    # given a delivery that reached the topic twice with the same ce_id (a processor retry)
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    async with world.processor():
        await world.publish(update(person(9), ["surname"], surname="Twice"))
        [delivered] = await eventually(lambda: world.deliveries(tax))
    await _produce(world, tax.delivery_topic, delivered.key, delivered.value, list(delivered.headers))
    # when the agency runs a handler over its updates
    seen: list[str] = []

    async def handler(u: Update) -> None:
        seen.append(u.event_id)

    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        stats = await subscriber.run(tax.id, handler, follow=False)
    # then the handler saw it once
    assert len(seen) == 1
    assert stats.handled == 1


async def test_a_failing_handler_is_retried_then_the_update_is_parked_and_the_rest_go_on(
    world: World, tmp_path: Path
) -> None:
    # given two delivered updates, and a handler that always fails on the first citizen
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    bad, good = person(10), person(11)
    async with world.processor():
        await world.publish(
            update(bad, ["surname"], surname="Bad"), update(good, ["surname"], surname="Good")
        )
        await eventually(lambda: _count_is(world, tax.delivery_topic, 2))
    attempts: list[str] = []

    async def handler(u: Update) -> None:
        attempts.append(u.subject)
        if u.subject == bad["iin"]:
            raise RuntimeError("tax database is read-only")

    # when the subscriber runs with 3 attempts
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        stats = await subscriber.run(tax.id, handler, follow=False, attempts=3, backoff_s=0.01)
        parked = subscriber.parked()
    # then the bad one was tried 3 times and parked with the error, the good one handled
    assert attempts.count(bad["iin"]) == 3
    assert attempts.count(good["iin"]) == 1
    assert (stats.handled, stats.parked) == (1, 1)
    [item] = parked
    assert item.key == bad["iin"]
    assert item.reason == "handler_failed"
    assert "tax database is read-only" in item.detail
    assert item.value is not None


async def test_a_handler_that_fails_once_succeeds_on_retry(world: World, tmp_path: Path) -> None:
    # given one delivered update and a handler whose first call fails
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    async with world.processor():
        await world.publish(update(person(12), ["surname"], surname="Flaky"))
        await eventually(lambda: world.deliveries(tax))
    calls: list[int] = []

    async def handler(u: Update) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database restarting")

    # when the subscriber runs
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        stats = await subscriber.run(tax.id, handler, follow=False, backoff_s=0.01)
        parked = subscriber.parked()
    # then it was handled on the second attempt and nothing was parked
    assert (len(calls), stats.handled, parked) == (2, 1, [])


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"\x00\x00\x0f\x42\x3f\x02", "schema_id_unknown"), (b"not avro at all", "magic_byte_wrong")],
)
async def test_an_undecodable_delivery_is_an_error_item_with_a_reason(
    world: World, tmp_path: Path, value: bytes, reason: str
) -> None:
    # given a delivery whose value is not a decodable projected record (signed by the processor, as a
    # processor bug would write it), then a good one
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    async with world.processor():
        await world.publish(update(person(13), ["surname"], surname="Good"))
        [delivered] = await eventually(lambda: world.deliveries(tax))
    headers = [
        (k, v if k != "ce_id" else b"6a1a4c5e-0000-4000-8000-000000000001") for k, v in delivered.headers
    ]
    [(_, _, signed)] = processor_signed([(delivered.key, value, headers)])
    await _produce(world, tax.delivery_topic, delivered.key, value, signed)
    # when the agency reads its updates
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        items = [item async for item in subscriber.updates(tax.id, follow=False)]
    # then the bad one is an error item naming the reason, and the good one still arrives
    errors = [i for i in items if isinstance(i, Undeliverable)]
    assert [e.reason for e in errors] == [reason]
    assert errors[0].key == delivered.key.decode()
    assert errors[0].value == value
    assert sum(isinstance(i, Update) for i in items) == 1


@tokens_decide
async def test_a_wrong_token_is_refused(world: World, tmp_path: Path) -> None:
    # given a registered tax agency
    await world.subscriber_agency("tax")
    # when it connects with a wrong token
    subscriber = await _subscriber(world, "tax", "not-the-token", tmp_path)
    # then it is refused, naming the agency
    with pytest.raises(AccessDeniedError, match=world.consumer("tax")):
        await subscriber.start()


async def test_reading_another_agencys_delivery_topic_is_refused(world: World, tmp_path: Path) -> None:
    # given a health agreement and a tax agency with a valid token
    health = world.agreement("health", TAX_FIELDS)
    await world.apply(health)
    token = await world.subscriber_agency("tax")
    async with await _subscriber(world, "tax", token, tmp_path) as subscriber:
        # when tax asks for health's updates
        # then it is refused, naming the topic and whose it is
        with pytest.raises(AccessDeniedError, match=f"deliver.{health.consumer}.{health.id}"):
            [item async for item in subscriber.updates(health.id, follow=False)]
        # and an unknown agreement is a configuration error, not an empty stream
        with pytest.raises(ConfigError, match="no agreement"):
            [item async for item in subscriber.updates("no-such-agreement", follow=False)]


async def _produce(
    world: World, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = make_producer(world.settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key, value=value, headers=headers)
    finally:
        await producer.stop()
