"""Which broker engine the suite runs on: Apache Kafka by default, tansu with ``BUS_TEST_ENGINE=tansu``.

Worker processes started by tests read the same variable, so they pick the same client profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from bus.acl.rules import OPERATOR, AclRule, Operation, PatternType, ResourceType
from bus.broker.engine import Engine, LocalBroker
from bus.broker.engine import local_broker as engine_broker
from bus.broker.kafka.install import install, installed
from bus.kafka.client import BrokerProfile, create_system_topics
from tests.support.logins import admin_settings, grant

ENGINE = Engine(os.environ.get("BUS_TEST_ENGINE", Engine.KAFKA.value))
BROKER_PROFILE = BrokerProfile.KAFKA if ENGINE is Engine.KAFKA else BrokerProfile.EMBEDDED
PROFILE = BROKER_PROFILE.value
"""The ``--profile`` value of every ``bus`` command a test starts against the session broker."""
AUTHENTICATES = ENGINE is Engine.KAFKA
"""The suite's Kafka brokers authenticate every client and enforce ACLs; tansu authenticates nobody."""
tokens_decide = pytest.mark.skipif(
    AUTHENTICATES, reason="on a broker that authenticates, the agency's Kafka login decides, not its token"
)


def local_broker(
    *, port: int | None = None, data_dir: Path | None = None, log_dir: Path | None = None, nodes: int = 1
) -> LocalBroker:
    """A broker of the suite's engine that the test starts and stops itself (faults, outages); ``nodes``
    is Kafka's (tansu runs one).

    On a fresh machine the first Kafka broker fetches the pinned release once (``bus broker install``).
    """
    if ENGINE is Engine.KAFKA and installed() is None:
        install()
    nodes = nodes if ENGINE is Engine.KAFKA else 1
    return engine_broker(ENGINE, port=port, data_dir=data_dir, log_dir=log_dir, nodes=nodes)


B = TypeVar("B", bound=LocalBroker)
KEYRINGS: dict[str, Path] = {}
"""The keyring of each authenticating broker a test started, by bootstrap: how a ``bus`` command that a
test runs against it logs in (tests/processes.py), as a user's shell does after ``bus up``."""


def login_env(bootstrap: str) -> dict[str, str]:
    keyring = KEYRINGS.get(bootstrap)
    return {"BUS_KEYRING": str(keyring)} if keyring else {}


SCRATCH = "test"
"""Topics and consumer groups the suite invents for itself (outside the bus's namespace), which its
own identity, the operator, may use freely on every broker it starts (``scratch_rules``)."""


def scratch_rules() -> list[AclRule]:
    return [
        AclRule(OPERATOR.principal, resource, PatternType.PREFIXED, SCRATCH, Operation.ALL)
        for resource in (ResourceType.TOPIC, ResourceType.GROUP)
    ]


async def prepare(broker: LocalBroker) -> None:
    """What ``bus up`` does before its components start: the system topics, created by the operator
    (Kafka creates no topic on use, and no component may create them), plus the suite's scratch grants."""
    keyring = broker.settings().keyring
    if keyring is not None:
        KEYRINGS[broker.bootstrap] = keyring
    await create_system_topics(broker.settings())
    await grant(admin_settings(broker), *scratch_rules())


@contextlib.asynccontextmanager
async def started(broker: B) -> AsyncIterator[B]:
    """``async with`` a broker prepared as ``serving`` prepares one."""
    async with broker:
        await prepare(broker)
        try:
            yield broker
        finally:
            KEYRINGS.pop(broker.bootstrap, None)


@contextlib.contextmanager
def serving(broker: B) -> Iterator[B]:
    """A started broker for a synchronous (module or session) fixture, with the system topics, the
    suite's scratch grants and its keyring known to ``bus`` commands (login_env); stopped at the end."""
    asyncio.run(broker.start())
    try:
        asyncio.run(prepare(broker))
        yield broker
    finally:
        KEYRINGS.pop(broker.bootstrap, None)
        asyncio.run(broker.stop())
