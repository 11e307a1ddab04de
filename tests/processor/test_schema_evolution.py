"""A provider's compatible schema change is a normal event: deliveries follow the version written with."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from bus.event.envelope import ChangeKind
from bus.event.serde import unframe
from bus.policy.agreement import Agreement
from connectors.sdk import Change
from tests.conftest import REPO
from tests.people import person
from tests.support.eventually import eventually
from tests.support.world import World, decode_with, update

TAX_FIELDS = ("iin", "surname", "given_name", "registered_address")
PERSON = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
T = TypeVar("T")


def evolved(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The canonical person schema with ``change`` applied."""
    schema: dict[str, Any] = copy.deepcopy(PERSON)
    change(schema)
    return schema


def field_of(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in schema["fields"] if f["name"] == name)
    return found


def register(world: World, subject: str, schema: dict[str, Any]) -> int:
    """A new version of ``subject`` registered as the provider would (the registry checks compatibility)."""
    response = httpx.post(
        f"{world.registry_url}/subjects/{subject}/versions",
        json={"schema": json.dumps(schema)},
        headers={"Authorization": f"Bearer {world.operator_token}"},
    )
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def schema_text(world: World, schema_id: int) -> str:
    return str(httpx.get(f"{world.registry_url}/schemas/ids/{schema_id}").json()["schema"])


def versions(world: World, subject: str) -> list[int]:
    return list(httpx.get(f"{world.registry_url}/subjects/{subject}/versions").json())


def delivered_record(world: World, message: Any) -> dict[str, Any]:
    """A delivery decoded with the schema its header names, as any Confluent consumer would."""
    schema_id, _ = unframe(message.value)
    return decode_with(schema_text(world, schema_id), message.value)


async def at_least(pending: Callable[[], Awaitable[list[T]]], count: int) -> list[T]:
    async def enough() -> list[T] | None:
        found = await pending()
        return found if len(found) >= count else None

    return await eventually(enough)


async def first_delivery(world: World, tax: Agreement, citizen: dict[str, Any]) -> None:
    """A change written with the first version, delivered: the processor's routes are built."""
    await world.publish(Change(ChangeKind.CREATED, "person", citizen["iin"], citizen))
    await at_least(lambda: world.deliveries(tax), 1)


async def test_an_event_written_after_a_granted_field_became_optional_is_delivered_with_it_null(
    world: World,
) -> None:
    # given a tax agreement that grants surname, and a running processor that delivered one change
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(1)
    async with world.processor():
        await first_delivery(world, tax, citizen)
        # when the provider makes surname optional (a BACKWARD-compatible version) and sends it null
        register(
            world,
            f"{world.topic}-value",
            evolved(lambda s: field_of(s, "surname").update(type=["null", "string"], default=None)),
        )
        await world.publish(update(citizen, ["surname"], surname=None))
        got = await at_least(lambda: world.deliveries(tax), 2)
        audit = await at_least(world.audit, 2)
    # then it is delivered with surname null, under a new version of the consumer's subject
    assert delivered_record(world, got[1])["surname"] is None
    assert versions(world, tax.subject) == [1, 2]
    assert [e["decision"] for e in audit] == ["DELIVERED", "DELIVERED"]
    assert await world.dead_letters() == []


async def test_a_field_added_inside_a_granted_record_is_delivered_with_it(world: World) -> None:
    # given a tax agreement that grants the whole registered address, and a running processor
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(2)
    async with world.processor():
        await first_delivery(world, tax, citizen)
        # when the provider adds an optional postcode to the address and sends one
        postcode = {"name": "postcode", "type": ["null", "string"], "default": None}
        register(
            world,
            f"{world.topic}-value",
            evolved(lambda s: field_of(s, "registered_address")["type"][1]["fields"].append(postcode)),
        )
        address = {**citizen["registered_address"], "postcode": "010000"}
        await world.publish(update(citizen, ["registered_address"], registered_address=address))
        got = await at_least(lambda: world.deliveries(tax), 2)
    # then the consumer receives the postcode with the rest of the address it was granted
    assert delivered_record(world, got[1])["registered_address"]["postcode"] == "010000"
    assert await world.dead_letters() == []


async def test_a_field_added_outside_the_grant_leaves_the_delivery_schema_as_it_was(world: World) -> None:
    # given a tax agreement and a running processor that delivered one change
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(3)
    async with world.processor():
        await first_delivery(world, tax, citizen)
        # when the provider adds an e-mail field that no agreement grants, and fills it
        email = {"name": "email", "type": ["null", "string"], "default": None}
        register(world, f"{world.topic}-value", evolved(lambda s: s["fields"].append(email)))
        await world.publish(update(citizen, ["surname", "email"], surname="Renamed", email="a@b.kz"))
        got = await at_least(lambda: world.deliveries(tax), 2)
    # then the change is delivered without it, in the one version of the consumer's subject
    record = delivered_record(world, got[1])
    assert (record["surname"], "email" in record) == ("Renamed", False)
    assert versions(world, tax.subject) == [1]


async def test_a_granted_field_removed_by_the_provider_flags_the_agreement_and_the_rest_is_delivered(
    world: World,
) -> None:
    # given a tax agreement that grants given_name, and a running processor that delivered one change
    tax = world.agreement("tax", TAX_FIELDS)
    await world.apply(tax)
    citizen = person(4)
    async with world.processor() as processor:
        await first_delivery(world, tax, citizen)
        # when the provider drops given_name from its schema and sends a change written with it
        register(
            world,
            f"{world.topic}-value",
            evolved(lambda s: s["fields"].remove(field_of(s, "given_name"))),
        )
        without = {k: v for k, v in citizen.items() if k != "given_name"}
        await world.publish(Change(ChangeKind.UPDATED, "person", citizen["iin"], without, ["surname"]))
        got = await at_least(lambda: world.deliveries(tax), 2)
        problem = processor.routes.problems.get(tax.id, "")
    # then the agreement is flagged, naming itself and the field, and the other granted fields arrive
    assert tax.id in problem
    assert "'given_name'" in problem
    assert set(delivered_record(world, got[1])) == set(TAX_FIELDS) - {"given_name"}
    assert await world.dead_letters() == []
