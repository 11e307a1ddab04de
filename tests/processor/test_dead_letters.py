"""Inputs the processor cannot accept go to dlq.<provider> with a reason, bytes intact, nothing delivered."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.event.envelope import ChangeKind
from bus.event.serde import AvroSerde, frame
from bus.event.signed_event import Draft, Signer, compose
from bus.kafka.client import make_producer
from bus.registry.client import RegistryClient
from tests.people import person
from tests.support.eventually import eventually
from tests.support.world import World

TAX_FIELDS = ("iin", "surname", "registered_address")


async def send_raw(
    world: World,
    key: str,
    value: bytes | None,
    *,
    signer: Signer | None = None,
    kind: ChangeKind = ChangeKind.CREATED,
) -> list[tuple[str, bytes]]:
    """Produce a hand-made event straight to the ingress topic (no SDK checks)."""
    draft = Draft(kind, "gov.civil.Person", key, value, 1)
    [envelope] = compose(world.provider, "gbd-fl", signer or Signer.of(world.key), [draft])
    headers = envelope.to_headers()
    producer = make_producer(world.settings)
    await producer.start()
    try:
        await producer.send_and_wait(world.topic, key=key.encode(), value=value, headers=headers)
    finally:
        await producer.stop()
    return headers


async def person_bytes(world: World, record: dict[str, Any]) -> bytes:
    async with RegistryClient(world.registry_url) as client:
        latest = await client.latest(f"{world.topic}-value")
    return AvroSerde({latest["id"]: latest["schema"]}.get).encode(latest["id"], record)


async def dead_letter_for(world: World, key: str, value: bytes | None, **send: Any) -> Any:
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    async with world.processor():
        headers = await send_raw(world, key, value, **send)
        [letter] = await eventually(world.dead_letters)
        audit = await eventually(world.audit)
    assert await world.deliveries(tax) == []
    assert letter.value == value
    assert (letter.key or b"").decode() == key
    assert [(k, bytes(v)) for k, v in letter.headers][: len(headers)] == headers
    assert [e["decision"] for e in audit] == ["DEAD_LETTERED"]
    return dict((k, bytes(v).decode()) for k, v in letter.headers)


async def test_a_forged_signature_is_dead_lettered(world: World) -> None:
    # given an event signed by someone else but claiming the provider's key id
    forger = Signer(Ed25519PrivateKey.generate(), Signer.of(world.key).key_id)
    citizen = person(20)
    headers = await dead_letter_for(world, citizen["iin"], await person_bytes(world, citizen), signer=forger)
    assert (headers["bus_dlq_stage"], headers["bus_dlq_reason"]) == ("signature", "signature_bad_signature")


async def test_an_unknown_key_id_is_dead_lettered(world: World) -> None:
    citizen = person(21)
    headers = await dead_letter_for(
        world,
        citizen["iin"],
        await person_bytes(world, citizen),
        signer=Signer.of(Ed25519PrivateKey.generate()),
    )
    assert headers["bus_dlq_reason"] == "signature_unknown_key"


async def test_malformed_bytes_are_dead_lettered(world: World) -> None:
    headers = await dead_letter_for(world, person(22)["iin"], b"\x07not avro at all")
    assert (headers["bus_dlq_stage"], headers["bus_dlq_reason"]) == ("decode", "magic_byte_wrong")


async def test_an_unknown_schema_id_is_dead_lettered(world: World) -> None:
    headers = await dead_letter_for(world, person(23)["iin"], frame(987_654, b"\x02\x04ab"))
    assert headers["bus_dlq_reason"] == "schema_id_unknown"


async def test_an_invalid_iin_is_dead_lettered(world: World) -> None:
    citizen = person(24)
    bad = citizen["iin"][:11] + str((int(citizen["iin"][11]) + 1) % 10)
    headers = await dead_letter_for(world, bad, await person_bytes(world, {**citizen, "iin": bad}))
    assert (headers["bus_dlq_stage"], headers["bus_dlq_reason"]) == ("validate", "identifier_invalid")
    assert "iin" in headers["bus_dlq_detail"]


@pytest.mark.parametrize("value", [b"", b"\x00\x00"])
async def test_truncated_frames_are_dead_lettered(world: World, value: bytes) -> None:
    headers = await dead_letter_for(world, person(25)["iin"], value)
    assert headers["bus_dlq_reason"] in ("payload_empty", "payload_truncated")


async def test_a_null_value_that_is_not_a_delete_is_dead_lettered(world: World) -> None:
    headers = await dead_letter_for(world, person(26)["iin"], None, kind=ChangeKind.UPDATED)
    assert headers["bus_dlq_reason"] == "tombstone_not_delete"
