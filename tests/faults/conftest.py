"""The fault suite runs on a broker of its own, so its archiver and verdict see only its own topics: on
Kafka a 3-node cluster (RF 3, min.insync.replicas=2, acks=all) whose nodes the suite kills too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.broker.engine import LocalBroker
from tests.engine import local_broker, serving

_HERE = Path(__file__).parent
SUMMARY_LINES: list[str] = []  # one per fault run, shown at the end of every test session


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in SUMMARY_LINES:
        terminalreporter.write_line(f"fault run: {line}")


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """An ephemeral broker of the suite's engine for this module only: three Kafka nodes, or one tansu
    (never killed: its memory storage would lose every topic)."""
    with serving(local_broker(log_dir=tmp_path_factory.mktemp("fault-broker"), nodes=3)) as broker:
        yield broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/faults/ carries the ``faults`` marker, so ``-m faults`` selects it."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.faults)
