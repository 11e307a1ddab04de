"""One running bus per test module (tests/tracker/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bus.broker.engine import LocalBroker
from bus.kafka.client import KafkaSettings
from tests.tracker.stack import Stack


@pytest.fixture(scope="module")
def stack(
    session_broker: LocalBroker,
    broker_admin: KafkaSettings | None,
    registry_url: str,
    operator_token: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("tracker")
    with Stack.running(session_broker.settings(), registry_url, operator_token, tmp, broker_admin) as stack:
        yield stack
