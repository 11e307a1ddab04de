"""Delivery routes are compiled from the agreements in force against the provider's registered schema."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bus.broker.ports import free_port
from bus.errors import BrokerError
from bus.policy.agreements_view import AgreementsView
from bus.processor.routes import Routes
from bus.registry.client import RegistryClient
from tests.support.world import World


@dataclass(frozen=True)
class _Record:
    key: bytes | None
    value: bytes | None
    offset: int = 0


async def test_a_registry_out_of_reach_fails_the_refresh_instead_of_dropping_the_agreement(
    world: World,
) -> None:
    # given an agreement in force, and a registry that does not answer (restarting, say)
    agreement = world.agreement("tax", ["iin", "surname"])
    view = AgreementsView()
    view.apply(_Record(agreement.id.encode(), agreement.model_dump_json().encode()))
    async with RegistryClient(f"http://127.0.0.1:{free_port()}") as away:
        routes = Routes(view, away)
        # when the routes are built
        with pytest.raises(BrokerError, match="cannot reach the schema registry"):
            await routes.refresh()
    # then the agreement is not taken for one that cannot compile (its events would be denied
    # no_agreement): the processor decides nothing until the registry answers, and tries again
    assert routes.problems == {}
    async with RegistryClient(world.registry_url, token=world.operator_token) as registry:
        routes = Routes(view, registry)
        await routes.refresh()
        assert routes.problems == {}
        assert [r.compiled.agreement.id for r in routes.for_type(world.provider, "person")] == [agreement.id]
