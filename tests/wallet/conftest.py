"""The tracker's running bus (tests/tracker/stack.py) plus a wallet agreement and a wallet materialiser."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from bus.broker.engine import LocalBroker
from bus.policy.agreement import Agreement
from bus.wallet.materialise import WalletMaterialiser, WalletSettings
from bus.wallet.store import WALLET
from tests.support.eventually import until
from tests.support.world import World
from tests.tracker.stack import Stack

PURPOSE = "personal data portability"
WALLET_FIELDS = ("iin", "surname", "given_name", "birth_date", "registered_address")


class WalletStack:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.agreement = Agreement(
            id=f"wallet-{stack.world.unique}",
            provider=stack.world.provider,
            consumer=WALLET,
            record_type="person",
            fields=WALLET_FIELDS,
            purpose=PURPOSE,
            legal_basis="Law on personal data, Art. 20",
            valid_from=dt.date.today() - dt.timedelta(days=1),
            consent="required",
        )
        self.settings = WalletSettings(
            db_url=stack.db_url,
            registry_url=stack.world.registry_url,
            group_id=f"wallet-{stack.world.unique}",
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """On the stack's loop (the Kafka clients bind to the running loop when made)."""
        self.materialiser = WalletMaterialiser(self.stack.world.settings, self.settings)
        await self.stack.world.apply(self.agreement)
        await self.materialiser.start()
        self._task = asyncio.create_task(self.materialiser.run(self._stop))
        gateway = self.stack.gateway
        assert gateway is not None
        await until(lambda: gateway.directory.get(WALLET) is not None)
        await until(lambda: self.agreement.id in {a.id for a in self.materialiser.wallet_agreements()})

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.materialiser.stop()


@pytest.fixture(scope="package")  # one running bus for tests/wallet (a few seconds to start)
def wallet(
    session_broker: LocalBroker,
    registry_url: str,
    operator_token: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WalletStack]:
    tmp = tmp_path_factory.mktemp("wallet")
    world = World(session_broker.settings(), registry_url, operator_token, uuid.uuid4().hex[:10], tmp)
    stack = Stack(world, tmp)
    try:
        stack.start()
        running = WalletStack(stack)
        stack.run(running.start())
        try:
            yield running
        finally:
            stack.run(running.stop())
    finally:
        stack.stop()
