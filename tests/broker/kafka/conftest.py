"""Apache Kafka's own behaviour; skipped on the tansu profile, whose broker lacks it (DESIGN §7)."""

from __future__ import annotations

import pytest

from bus.broker.engine import Engine
from tests.engine import ENGINE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if ENGINE is Engine.KAFKA:
        return
    skip = pytest.mark.skip(reason="Apache Kafka behaviour; BUS_TEST_ENGINE=tansu runs tansu")
    for item in items:
        if "tests/broker/kafka/" in item.nodeid.replace("\\", "/") and "test_config" not in item.nodeid:
            item.add_marker(skip)
