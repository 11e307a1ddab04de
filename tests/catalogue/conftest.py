"""The AsyncAPI checkers (session) and one running bus per module (tests/tracker/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jsonschema import Draft7Validator

from bus.broker.engine import LocalBroker
from bus.kafka.client import KafkaSettings
from tests.catalogue.asyncapi_check import OfficialParser, install_official_parser, schema_validator
from tests.tracker.stack import Stack


@pytest.fixture(scope="session")
def asyncapi_schema() -> Draft7Validator:
    return schema_validator()


@pytest.fixture(scope="session")
def official_parser() -> OfficialParser:
    found = install_official_parser()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def stack(
    session_broker: LocalBroker,
    broker_admin: KafkaSettings | None,
    registry_url: str,
    operator_token: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("catalogue")
    with Stack.running(session_broker.settings(), registry_url, operator_token, tmp, broker_admin) as stack:
        yield stack
