from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bus.kafka import KafkaSettings
from tests.processor.world import World


@pytest.fixture
async def world(
    kafka_settings: KafkaSettings,
    registry_url: str,
    operator_token: str,
    unique: str,
    tmp_path: Path,
    person_subject_for: Callable[[str], str],
) -> World:
    built = World(kafka_settings, registry_url, operator_token, unique, tmp_path)
    await built.setup(person_subject_for)
    return built
