"""Which broker engine the suite runs on: Apache Kafka by default, tansu with ``BUS_TEST_ENGINE=tansu``.

Worker processes started by tests read the same variable, so they pick the same client profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from bus.broker.engine import Engine, LocalBroker
from bus.broker.engine import local_broker as engine_broker
from bus.broker.kafka.install import install, installed
from bus.kafka.client import BrokerProfile

ENGINE = Engine(os.environ.get("BUS_TEST_ENGINE", Engine.KAFKA.value))
BROKER_PROFILE = BrokerProfile.KAFKA if ENGINE is Engine.KAFKA else BrokerProfile.EMBEDDED
PROFILE = BROKER_PROFILE.value
"""The ``--profile`` value of every ``bus`` command a test starts against the session broker."""


def local_broker(
    *, port: int | None = None, data_dir: Path | None = None, log_dir: Path | None = None
) -> LocalBroker:
    """A broker of the suite's engine that the test starts and stops itself (faults, outages).

    On a fresh machine the first Kafka broker fetches the pinned release once (``bus broker install``).
    """
    if ENGINE is Engine.KAFKA and installed() is None:
        install()
    return engine_broker(ENGINE, port=port, data_dir=data_dir, log_dir=log_dir)


B = TypeVar("B", bound=LocalBroker)


@contextlib.contextmanager
def serving(broker: B) -> Iterator[B]:
    """A started broker for a synchronous (module or session) fixture; stopped when the block ends."""
    asyncio.run(broker.start())
    try:
        yield broker
    finally:
        asyncio.run(broker.stop())
