"""The broker engine a bench run measures: `python -m bench --engine kafka|tansu` (default: Kafka if it runs).

``__main__`` resolves the choice once and exports it as ``BUS_ENGINE``, so worker processes agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from bus.broker.engine import Engine, LocalBroker
from bus.broker.engine import local_broker as engine_broker
from bus.kafka.client import BrokerProfile


def engine() -> Engine:
    found = Engine(os.environ.get("BUS_ENGINE", Engine.KAFKA.value))
    return Engine.KAFKA if found is Engine.AUTO else found


def profile() -> BrokerProfile:
    return BrokerProfile.KAFKA if engine() is Engine.KAFKA else BrokerProfile.EMBEDDED


def local_broker(data_dir: Path | None = None) -> LocalBroker:
    """An ephemeral (or ``data_dir``-durable) single-node broker of the bench's engine."""
    return engine_broker(engine(), port=None, data_dir=data_dir)
