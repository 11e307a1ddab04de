"""Session fixtures that start real services; no test talks to a fake broker."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tests.fuzz.profile  # noqa: F401  (registers the fuzz profiles before --hypothesis-profile is read)
from bus.broker.engine import LocalBroker
from bus.broker.ports import free_port
from bus.kafka.client import KafkaSettings
from tests.engine import PROFILE, local_broker, serving
from tests.postgres import PostgresServer, running_postgres
from tests.processes import running_bus
from tests.support.logins import admin_settings
from tests.support.world import World

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.support.guards"]


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    """One ephemeral broker of the suite's engine (tests/engine.py) on free loopback ports, with the
    system topics ``bus up`` creates (Kafka, unlike tansu, does not create a topic on first use)."""
    with serving(local_broker(log_dir=tmp_path_factory.mktemp("broker"))) as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(session_broker: LocalBroker) -> str:
    return session_broker.bootstrap


@pytest.fixture
def kafka_settings(session_broker: LocalBroker) -> KafkaSettings:
    """The suite's own login: the operator (components log in as themselves from its keyring)."""
    return session_broker.settings()


@pytest.fixture(scope="session")
def broker_admin(session_broker: LocalBroker) -> KafkaSettings | None:
    """The session broker's super user, to grant a component a test's own topic (None on tansu)."""
    return admin_settings(session_broker)


@pytest.fixture
def unique() -> str:
    """A short suffix that makes this test's topic, agency and group names its own."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def person_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text())
    return schema


@pytest.fixture(scope="session")
def operator_token() -> str:
    return f"operator-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def registry_url(kafka_bootstrap: str, operator_token: str) -> Iterator[str]:
    """A real registry process (the installed ``bus registry serve``) on the session broker."""
    with running_registry(kafka_bootstrap, operator_token) as url:
        yield url


@contextlib.contextmanager
def running_registry(bootstrap: str, operator_token: str) -> Iterator[str]:
    port = free_port()
    args = ("registry", "serve", "--port", str(port), "--bootstrap", bootstrap, "--profile", PROFILE)
    with running_bus(*args, env={"BUS_OPERATOR_TOKEN": operator_token}) as (_, out):
        out.wait_for(r"registry ready at")
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def person_subject_for(registry_url: str, operator_token: str) -> Callable[[str], str]:
    """Register the canonical person schema for an agency; returns its ingress topic."""

    def register(agency: str) -> str:
        topic = f"ingress.{agency}.person"
        schema = (REPO / "schemas" / "civil" / "person.avsc").read_text()
        response = httpx.post(
            f"{registry_url}/subjects/{topic}-value/versions",
            json={"schema": schema},
            headers={"Authorization": f"Bearer {operator_token}"},
        )
        assert response.status_code == 200, response.text
        return topic

    return register


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster for the session; each test creates its own database on it."""
    with running_postgres() as server:
        yield server


@pytest.fixture
async def world(
    kafka_settings: KafkaSettings,
    broker_admin: KafkaSettings | None,
    registry_url: str,
    operator_token: str,
    unique: str,
    tmp_path: Path,
    person_subject_for: Callable[[str], str],
) -> World:
    """One provider with its agreements and a processor to run (tests/processor/world.py)."""
    built = World(kafka_settings, registry_url, operator_token, unique, tmp_path, admin=broker_admin)
    await built.setup(person_subject_for)
    return built
