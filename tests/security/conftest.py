"""A cluster of its own where plain Kafka clients attack the bus's ACLs (issue #20).

Its own because these specs apply whole agreement folders (``bus agreements apply`` makes
``bus.agreements`` equal the folder) and run the ACL sync with a clock a day ahead, either of which
would revoke every other test's grants on the session broker. Kafka only: tansu authenticates nobody.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.acl.sync import reconcile
from bus.broker.kafka.cluster import KafkaCluster
from bus.cli.agreements import apply_folder
from bus.directory.model import AgencyEntry
from bus.directory.publish import put_agency
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics, make_producer
from bus.kafka.keyring import read_keyring
from tests.conftest import REPO, running_registry
from tests.engine import AUTHENTICATES, local_broker, serving
from tests.security.probes import Config
from tests.support.logins import agency_login

_HERE = Path(__file__).parent
PROVIDER, A, B = "civil-sec", "tax-sec", "police-sec"
TODAY = dt.datetime.now(dt.UTC).date()


@dataclass
class Secured:
    """The cluster, its registry, one provider and two consumer agencies with an agreement each."""

    cluster: KafkaCluster
    registry_url: str
    operator_token: str
    folder: Path
    logins: dict[str, KafkaSettings] = field(default_factory=dict)

    @property
    def settings(self) -> KafkaSettings:
        return self.cluster.settings()

    def password(self, user: str) -> str:
        """A bus service's password, from the keyring ``bus up`` would use."""
        return read_keyring(self.cluster.keyring).users[user].get_secret_value()

    def login(self, who: str) -> Config:
        """An agency's login as a plain librdkafka client spells it."""
        settings = self.logins[who]
        assert settings.sasl_username is not None
        assert settings.sasl_password is not None
        return client_config(
            self.cluster.bootstrap, settings.sasl_username, settings.sasl_password.get_secret_value()
        )

    def service(self, user: str) -> Config:
        return client_config(self.cluster.bootstrap, user, self.password(user))

    def write_agreement(self, agreement_id: str, consumer: str, **overrides: object) -> Path:
        document = {
            "id": agreement_id,
            "provider": PROVIDER,
            "consumer": consumer,
            "record_type": "person",
            "fields": ["iin", "surname"],
            "purpose": f"{consumer} checks",
            "legal_basis": f"Law on {consumer}, Art. 1",
            "valid_from": (TODAY - dt.timedelta(days=10)).isoformat(),
            "valid_until": (TODAY + dt.timedelta(days=100)).isoformat(),
            **overrides,
        }
        path = self.folder / f"{agreement_id}.yaml"
        path.write_text(yaml.safe_dump(document))
        return path


def client_config(bootstrap: str, user: str, password: str) -> Config:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
    }


def deliver(consumer: str) -> str:
    return f"deliver.{consumer}.{PROVIDER}-to-{consumer}"


@pytest.fixture(scope="package")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    tmp = tmp_path_factory.mktemp("secured")
    token = "operator-secured"
    with (
        serving(local_broker(log_dir=tmp / "broker")) as cluster,
        running_registry(cluster.bootstrap, token) as url,
    ):
        assert isinstance(cluster, KafkaCluster)
        folder = tmp / "agreements"
        folder.mkdir()
        world = Secured(cluster, url, token, folder)
        asyncio.run(_arrange(world))
        yield world


async def _arrange(world: Secured) -> None:
    """The provider's schema, key and login; A and B with a login and one agreement each; one record on
    every topic an attacker will reach for."""
    response = httpx.post(
        f"{world.registry_url}/subjects/ingress.{PROVIDER}.person-value/versions",
        json={"schema": (REPO / "schemas" / "civil" / "person.avsc").read_text()},
        headers={"Authorization": f"Bearer {world.operator_token}"},
    )
    assert response.status_code == 200, response.text
    public = Ed25519PrivateKey.generate().public_key()
    settings = world.settings
    await put_agency(
        settings,
        AgencyEntry(id=PROVIDER, name="Civil", public_keys={key_id_for(public): public_key_text(public)}),
    )
    for consumer in (A, B):
        await put_agency(settings, AgencyEntry(id=consumer, name=consumer))
        world.write_agreement(f"{PROVIDER}-to-{consumer}", consumer)
    await apply_folder(settings, world.registry_url, world.folder)
    for agency in (PROVIDER, A, B):
        world.logins[agency] = await agency_login(settings, agency)
    await reconcile(settings)  # the real path: what the agreements and the directory imply
    topics = [f"ingress.{PROVIDER}.person", f"state.{PROVIDER}.person", f"dlq.{PROVIDER}"]
    await create_topics(settings, [spec_for(t) for t in topics])
    producer = make_producer(settings)
    await producer.start()
    try:
        for topic in [*topics, deliver(A), deliver(B), "bus.audit", "bus.audit.checkpoints", "bus.consent"]:
            await producer.send_and_wait(topic, key=b"900514300001", value=json.dumps({"on": topic}).encode())
    finally:
        await producer.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Broker-enforced access exists only where the broker authenticates (Apache Kafka)."""
    if AUTHENTICATES:
        return
    skip = pytest.mark.skip(reason="tansu authenticates nobody: see docs/security.md")
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(skip)
