"""The AsyncAPI checkers (session) and the tracker's running bus, one per module (tests/tracker/stack.py)."""

from __future__ import annotations

import pytest
from jsonschema import Draft7Validator

from tests.catalogue.asyncapi_check import OfficialParser, install_official_parser, schema_validator
from tests.tracker.conftest import stack  # noqa: F401  (the tracker's running bus, one per test module)


@pytest.fixture(scope="session")
def asyncapi_schema() -> Draft7Validator:
    return schema_validator()


@pytest.fixture(scope="session")
def official_parser() -> OfficialParser:
    found = install_official_parser()
    if isinstance(found, str):
        pytest.skip(found)
    return found
