"""The processor delivers each entitled agency exactly its fields, and writes every decision down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from bus.event.envelope import ChangeKind, Envelope
from bus.policy.consent import ConsentStatus
from connectors.sdk import Change
from tests.people import person
from tests.support.eventually import eventually, until
from tests.support.world import TODAY, World, update

TAX_FIELDS = ("iin", "surname", "given_name", "registered_address")
HEALTH_FIELDS = ("iin", "surname", "given_name", "birth_date")


@pytest.fixture
def confluent(registry_url: str) -> Iterator[SchemaRegistryClient]:
    with SchemaRegistryClient({"url": registry_url}) as client:
        yield client


async def test_update_reaches_exactly_the_entitled_agencies_with_exactly_their_fields(
    world: World, confluent: SchemaRegistryClient
) -> None:
    # given tax (address), health (consent required and granted) and social (expired) agreements
    tax = world.agreement("tax", TAX_FIELDS)
    health = world.agreement("health", HEALTH_FIELDS, consent="required")
    social = world.agreement(
        "social",
        ("iin", "registered_address"),
        valid_from=TODAY - dt.timedelta(days=400),
        valid_until=TODAY - dt.timedelta(days=1),
    )
    await world.apply(tax, health, social)
    citizen = person(1)
    await world.consent(citizen["iin"], health.consumer, health.purpose, ConsentStatus.GRANTED)
    # when the civil registry publishes a change of surname and address (a marriage and a move)
    async with world.processor():
        [event_id] = await world.publish(
            update(
                citizen,
                ["surname", "registered_address"],
                surname="Married",
                registered_address={**citizen["registered_address"], "building": "77"},
            )
        )
        tax_got = await eventually(lambda: world.deliveries(tax))
        health_got = await eventually(lambda: world.deliveries(health))
        audit = await eventually(lambda: _complete(world, 3))
    # then tax and health each got one delivery with only their fields, decodable by Confluent's deserializer
    deserializer = AvroDeserializer(confluent)
    for agreement, got, fields in ((tax, tax_got, TAX_FIELDS), (health, health_got, HEALTH_FIELDS)):
        [message] = got
        record = deserializer(
            message.value, SerializationContext(agreement.delivery_topic, MessageField.VALUE)
        )
        assert set(record) == set(fields)
        envelope = Envelope.from_headers(message.headers)
        assert (envelope.id, envelope.agreement, envelope.subject) == (event_id, agreement.id, citizen["iin"])
    # and social was denied as expired, with every decision audited
    assert await world.deliveries(social) == []
    decisions = {(e["agreement_id"], e["decision"], e["reason"]) for e in audit}
    assert decisions == {
        (tax.id, "DELIVERED", None),
        (health.id, "DELIVERED", None),
        (social.id, "DENIED", "expired"),
    }
    [tax_entry] = [e for e in audit if e["agreement_id"] == tax.id]
    assert sorted(tax_entry["fields"]) == sorted(TAX_FIELDS)
    assert tax_entry["legal_basis"] == tax.legal_basis


async def _complete(world: World, count: int) -> list[dict[str, Any]] | None:
    entries = await world.audit()
    return entries if len(entries) >= count else None


async def test_a_phone_change_is_not_delivered_to_an_address_only_consumer(world: World) -> None:
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(2)
    async with world.processor():
        await world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen))
        await world.publish(update(citizen, ["phone"], phone="+77015550000"))
        audit = await eventually(lambda: _complete(world, 2))
    assert [e["reason"] for e in audit] == [None, "unchanged_fields"]
    assert len(await world.deliveries(tax)) == 1


async def test_without_bus_changed_the_previous_state_decides_what_changed(world: World) -> None:
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(3)
    async with world.processor():
        await world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen))
        await world.publish(
            Change(ChangeKind.UPDATED, "person", citizen["iin"], {**citizen, "phone": "+77015550001"})
        )
        audit = await eventually(lambda: _complete(world, 2))
    assert [e["reason"] for e in audit] == [None, "unchanged_fields"]


async def test_no_agreement_means_no_delivery_and_an_audited_denial(world: World) -> None:
    async with world.processor():
        await world.publish(Change(ChangeKind.CREATED, "person", person(4)["iin"], person(4)))
        audit = await eventually(lambda: _complete(world, 1))
    assert [(e["decision"], e["reason"]) for e in audit] == [("DENIED", "no_agreement")]


async def test_revoking_consent_stops_the_next_delivery_without_restart(world: World) -> None:
    health = world.agreement("health", HEALTH_FIELDS, consent="required")
    await world.apply(health)
    citizen = person(5)
    await world.consent(citizen["iin"], health.consumer, health.purpose, ConsentStatus.GRANTED)
    async with world.processor() as processor:
        await world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen))
        await eventually(lambda: world.deliveries(health))
        await world.consent(citizen["iin"], health.consumer, health.purpose, ConsentStatus.REVOKED)
        await until(  # the processor's consent view has applied the revocation
            lambda: (
                processor.consent.state_at(
                    citizen["iin"], health.consumer, health.purpose, dt.datetime.now(dt.UTC)
                )
                is ConsentStatus.REVOKED
            )
        )
        await world.publish(update(citizen, ["surname"], surname="Renamed"))
        audit = await eventually(lambda: _complete(world, 2))
    assert [e["reason"] for e in audit] == [None, "consent_revoked"]
    assert len(await world.deliveries(health)) == 1


async def test_revoking_an_agreement_stops_the_next_delivery_without_restart(world: World) -> None:
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(6)
    async with world.processor() as processor:
        await world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen))
        await eventually(lambda: world.deliveries(tax))
        await world.apply(revoke=[tax.id])
        await until(lambda: tax.id in processor.agreements.revoked)  # the processor's view has it
        await world.publish(update(citizen, ["surname"], surname="Renamed"))
        audit = await eventually(lambda: _complete(world, 2))
    assert [e["reason"] for e in audit] == [None, "revoked"]


async def test_missing_consent_is_denied(world: World) -> None:
    health = world.agreement("health", HEALTH_FIELDS, consent="required")
    await world.apply(health)
    async with world.processor():
        await world.publish(Change(ChangeKind.CREATED, "person", person(7)["iin"], person(7)))
        audit = await eventually(lambda: _complete(world, 1))
    assert [e["reason"] for e in audit] == ["consent_missing"]


async def test_a_delete_is_delivered_as_a_tombstone_to_previous_recipients(world: World) -> None:
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(8)
    async with world.processor():
        await world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen))
        await world.publish(Change(ChangeKind.DELETED, "person", citizen["iin"], None))
        got = await eventually(lambda: _at_least(world.deliveries(tax), 2))
    assert [m.value is None for m in got] == [False, True]


T = TypeVar("T")


async def _at_least(pending: Awaitable[list[T]], count: int) -> list[T] | None:
    records = await pending
    return records if len(records) >= count else None
