"""The tracker's running bus (tests/tracker/stack.py) plus a wallet agreement and a wallet materialiser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bus.broker.engine import LocalBroker
from bus.kafka.client import KafkaSettings
from bus.wallet.materialise import WalletMaterialiser, WalletSettings, name_the_wallet
from bus.wallet.store import WALLET
from tests.support.eventually import until
from tests.support.running import running
from tests.tracker.stack import Stack

PURPOSE = "personal data portability"
WALLET_FIELDS = ("iin", "surname", "given_name", "birth_date", "registered_address")


class WalletStack:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.agreement = stack.world.agreement(
            "wallet",
            WALLET_FIELDS,
            consumer=WALLET,
            purpose=PURPOSE,
            legal_basis="Law on personal data, Art. 20",
            consent="required",
            valid_until=None,
            replaces=None,
        )
        self.settings = WalletSettings(
            db_url=stack.db_url,
            registry_url=stack.world.registry_url,
            group_id=f"bus-wallet-{stack.world.unique}",
        )
        self.materialiser: WalletMaterialiser | None = None

    async def start(self) -> None:
        """On the stack's loop (the Kafka clients bind to the running loop when made); it runs until
        the stack stops."""
        await self.stack.world.apply(self.agreement)
        await name_the_wallet(self.stack.world.settings)  # as `bus up` does, as the operator
        materialiser = WalletMaterialiser(self.stack.world.settings, self.settings)
        self.materialiser = await self.stack.enter(running(materialiser))
        gateway = self.stack.gateway
        assert gateway is not None
        await until(lambda: gateway.directory.get(WALLET) is not None)
        await until(lambda: self.agreement.id in {a.id for a in materialiser.wallet_agreements()})


@pytest.fixture(scope="package")  # one running bus for tests/wallet (a few seconds to start)
def wallet(
    session_broker: LocalBroker,
    broker_admin: KafkaSettings | None,
    registry_url: str,
    operator_token: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WalletStack]:
    tmp = tmp_path_factory.mktemp("wallet")
    with Stack.running(session_broker.settings(), registry_url, operator_token, tmp, broker_admin) as stack:
        wallet = WalletStack(stack)
        stack.run(wallet.start())
        yield wallet
