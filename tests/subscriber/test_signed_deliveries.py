"""Only what the processor signed reaches an agency's handler: a record written straight into a
delivery topic (by an operator, or a principal a misconfigured ACL lets write there) is refused."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import REGISTRY

from bus.directory.keys import ensure_service_key
from bus.directory.model import PROCESSOR_IDENTITY
from bus.errors import ConfigError
from bus.event.signed_delivery import PROOF_HEADERS, sign_deliveries
from bus.event.signed_event import Signer
from bus.event.signing import private_key_pem
from bus.event.topics import spec_for
from bus.kafka.client import create_topics, make_producer
from bus.processor.service import Processor
from bus.subscriber import Subscriber, Update
from tests.people import person
from tests.support.eventually import eventually
from tests.support.running import running
from tests.support.world import World, update

TAX_FIELDS = ("iin", "surname", "registered_address")
Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def _refused() -> float:
    return REGISTRY.get_sample_value("bus_deliveries_refused_total", {"reason": "bad_signature"}) or 0.0


def _with(headers: list[tuple[str, bytes]], **changes: bytes) -> list[tuple[str, bytes]]:
    return [(k, changes.get(k, v)) for k, v in headers]


def _unsigned(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in headers if k not in PROOF_HEADERS]


async def _produce(world: World, topic: str, records: list[Record]) -> None:
    """Written by the operator's login: a principal that may write to any topic."""
    producer = make_producer(world.settings)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def _handled(world: World, agreement: str, token: str, tmp: Path) -> tuple[list[Update], list[Any]]:
    """What the tax agency's handler got from ``agreement``'s topic, and what its SDK parked."""
    handled: list[Update] = []

    async def handler(item: Update) -> None:
        handled.append(item)

    subscriber = Subscriber(
        world.consumer("tax"),
        token,
        bootstrap=world.logins.get(world.consumer("tax"), world.settings),
        registry=world.registry_url,
        store_path=tmp / "tax.sqlite",
    )
    async with subscriber:
        await subscriber.run(agreement, handler, follow=False)
        return handled, subscriber.parked()


async def _one_delivery(world: World, fields: tuple[str, ...] = TAX_FIELDS) -> tuple[Any, Any, str]:
    tax = world.agreement("tax", fields)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    async with world.processor():
        await world.publish(update(person(3), ["surname"], surname="Genuine"))
        [delivered] = await eventually(lambda: world.deliveries(tax))
    return tax, delivered, token


def _new_id(headers: list[tuple[str, bytes]], n: int) -> list[tuple[str, bytes]]:
    return _with(headers, ce_id=f"6a1a4c5e-0000-4000-8000-00000000000{n}".encode())


async def test_records_the_processor_did_not_sign_as_they_are_reach_no_handler(
    world: World, tmp_path: Path
) -> None:
    # given one genuine delivery, and beside it on the same topic, written by the operator's login:
    # a copy without the processor's proof, one with another value under the genuine proof, and one
    # signed with a key that is not the processor's
    tax, delivered, token = await _one_delivery(world)
    headers = [(k, bytes(v)) for k, v in delivered.headers]
    tampered = bytearray(delivered.value)
    tampered[-1] ^= 1
    impostor = _unsigned(_new_id(headers, 3))
    sign_deliveries(Signer.of(Ed25519PrivateKey.generate()), [(impostor, delivered.value)])
    forged: list[Record] = [
        (delivered.key, delivered.value, _unsigned(_new_id(headers, 1))),
        (delivered.key, bytes(tampered), _new_id(headers, 2)),
        (delivered.key, delivered.value, impostor),
    ]
    await _produce(world, tax.delivery_topic, forged)
    refused_before = _refused()
    # when the tax agency runs its handler over the topic
    handled, parked = await _handled(world, tax.id, token, tmp_path)
    # then only the genuine delivery was handed over; the three are parked as bad_signature, and counted
    assert [u.event_id for u in handled] == [dict(headers)["ce_id"].decode()]
    assert [p.reason for p in parked] == ["bad_signature"] * 3
    assert "no processor signature" in parked[0].detail
    assert "does not match" in parked[1].detail
    assert "no public key" in parked[2].detail
    assert PROCESSOR_IDENTITY in parked[2].detail
    assert _refused() - refused_before == 3


async def test_a_genuine_delivery_copied_onto_another_agreements_topic_is_refused(
    world: World, tmp_path: Path
) -> None:
    # given a genuine tax delivery, and a second agreement of the same consumer whose topic it is
    # copied onto, signature and all
    tax, delivered, token = await _one_delivery(world)
    other = world.agreement("tax", ("iin",), id=f"tax-other-{world.unique}")
    await world.apply(other)
    await create_topics(world.settings, [spec_for(other.delivery_topic)])
    headers = [(k, bytes(v)) for k, v in delivered.headers]
    await _produce(world, other.delivery_topic, [(delivered.key, delivered.value, headers)])
    # when the agency reads the second agreement
    handled, parked = await _handled(world, other.id, token, tmp_path)
    # then nothing is handed over: the proof names the first agreement
    assert handled == []
    [refused] = parked
    assert refused.reason == "bad_signature"
    assert tax.id in refused.detail
    assert other.delivery_topic in refused.detail


async def test_deliveries_signed_with_a_rotated_out_key_still_verify(world: World, tmp_path: Path) -> None:
    # given a processor signing with key A, then (A rotated out: B registered beside it) with key B
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    token = await world.subscriber_agency("tax")
    for n, name in enumerate(("a", "b")):
        key_file = tmp_path / f"processor-{name}.pem"
        await ensure_service_key(world.settings, key_file)
        settings = world.processor_settings().model_copy(update={"signing_key": key_file})
        async with running(Processor(world.settings, settings)):
            await world.publish(update(person(n), ["surname"], surname=f"Signed by {name}"))
            await eventually(functools.partial(_count, world, tax.delivery_topic, n + 1))
    signed_with = {dict(r.headers)["bus_sig_key"] for r in await world.deliveries(tax)}
    # when the agency reads both
    handled, parked = await _handled(world, tax.id, token, tmp_path)
    # then both are handed over, and they were signed with two different keys
    assert len(signed_with) == 2
    assert sorted(u.record["surname"] for u in handled if u.record) == ["Signed by a", "Signed by b"]
    assert parked == []


async def _count(world: World, topic: str, expected: int) -> bool:
    return len(await world.records(topic)) >= expected


async def test_a_processor_whose_key_is_not_registered_refuses_to_start(world: World, tmp_path: Path) -> None:
    # given a key file whose public key is not in the directory under bus.processor
    key_file = tmp_path / "unregistered.pem"
    key = Ed25519PrivateKey.generate()
    key_file.write_bytes(private_key_pem(key))
    settings = world.processor_settings().model_copy(update={"signing_key": key_file})
    processor = Processor(world.settings, settings)
    # when it starts
    # then it refuses, naming the identity and the command that registers the key
    try:
        with pytest.raises(ConfigError, match=PROCESSOR_IDENTITY) as refused:
            await processor.start()
    finally:
        await processor.stop()
    public = base64.b64encode(key.public_key().public_bytes_raw()).decode()
    assert f"bus agencies add-key {PROCESSOR_IDENTITY} --public-key {public}" in (refused.value.hint or "")


def test_a_processor_without_a_signing_key_is_a_configuration_error(world: World) -> None:
    # given processor settings without a signing key
    settings = world.processor_settings().model_copy(update={"signing_key": None})
    # when a processor is made from them
    # then it is refused with the way to make one
    with pytest.raises(ConfigError, match="signing key") as refused:
        Processor(world.settings, settings)
    assert f"bus agencies keygen {PROCESSOR_IDENTITY}" in (refused.value.hint or "")
