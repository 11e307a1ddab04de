"""``bus subscribe`` shows an agreement's updates without moving the agency's own position."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bus.subscriber import Subscriber
from tests.engine import PROFILE
from tests.people import person
from tests.processes import bus
from tests.support.eventually import eventually
from tests.support.world import World, update


async def _one_delivery(world: World) -> tuple[str, str]:
    tax = world.agreement("tax", ("iin", "surname"))
    await world.apply(tax)
    citizen = person(21)
    async with world.processor():
        await world.publish(update(citizen, ["surname"], surname="Shown"))
        await eventually(lambda: world.deliveries(tax))
    return tax.id, citizen["iin"]


def _operator(world: World) -> dict[str, str]:
    return {"BUS_OPERATOR_TOKEN": world.operator_token}


def _subscribe(world: World, agreement: str) -> list[str]:
    return [
        "subscribe", agreement, "--bootstrap", world.settings.bootstrap, "--profile", PROFILE,
        "--registry", world.registry_url,
    ]  # fmt: skip


async def test_subscribe_prints_the_decoded_update(world: World) -> None:
    # given one delivered surname change
    agreement, iin = await _one_delivery(world)
    # when an operator runs `bus subscribe`
    result = await asyncio.to_thread(bus, *_subscribe(world, agreement), env=_operator(world))
    # then the update is printed with its subject, kind, changed field and projected record
    assert result.returncode == 0, result.stderr
    assert iin in result.stdout
    assert "updated" in result.stdout
    assert '"surname": "Shown"' in result.stdout


async def test_subscribe_does_not_move_the_agencys_position(world: World, tmp_path: Path) -> None:
    # given one delivered update that an operator already looked at
    agreement, iin = await _one_delivery(world)
    token = await world.subscriber_agency("tax")
    await asyncio.to_thread(bus, *_subscribe(world, agreement), env=_operator(world))
    # when the agency itself reads
    async with Subscriber(
        world.consumer("tax"),
        token,
        bootstrap=world.settings,
        registry=world.registry_url,
        store_path=tmp_path / "s",
    ) as subscriber:
        items = [item async for item in subscriber.updates(agreement, follow=False)]
    # then it still receives the update
    assert [getattr(i, "subject", None) for i in items] == [iin]
