"""One isolated stack for the HTTP abuse specs: its own broker, registry process and gateway process.

Isolated because Schemathesis writes with the operator token (random subjects, global
compatibility level): on the session broker that would reach every other test's registry.
The gateway cuts slow bodies after 1 s; rate limiting is generous here (its own spec starts a
gateway with a tight limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bus.audit.db import ArchiveStore
from bus.broker.ports import free_port
from bus.directory.model import AgencyEntry, Role
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.signing import key_id_for, private_key_from_pem, public_key_text
from bus.event.topics import spec_for
from bus.kafka.client import KafkaSettings, create_topics
from tests.conftest import REPO, running_registry
from tests.engine import PROFILE, local_broker, serving
from tests.processes import running_bus

_HERE = Path(__file__).parent


@dataclass
class ApiStack:
    settings: KafkaSettings
    registry_url: str
    operator_token: str
    tmp: Path
    unique: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    tokens: dict[str, str] = field(default_factory=dict)
    gateway_url: str = ""

    @property
    def provider(self) -> str:
        return f"akimat-{self.unique}"

    @property
    def other(self) -> str:
        return f"other-{self.unique}"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'audit.sqlite'}"

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def register_person(self, agency: str) -> None:
        topic = f"ingress.{agency}.person"
        response = httpx.post(
            f"{self.registry_url}/subjects/{topic}-value/versions",
            json={"schema": (REPO / "schemas" / "civil" / "person.avsc").read_text()},
            headers={"Authorization": f"Bearer {self.operator_token}"},
        )
        assert response.status_code == 200, response.text

    async def add_agencies(self, gateway_key: Path) -> None:
        """The provider (gateway key registered), another agency, a portal and an auditor."""
        public = private_key_from_pem(gateway_key.read_bytes()).public_key()
        for name, agency_id, role in (
            ("provider", self.provider, Role.AGENCY),
            ("other", self.other, Role.AGENCY),
            ("portal", f"portal-{self.unique}", Role.PORTAL),
            ("auditor", f"auditor-{self.unique}", Role.AUDITOR),
        ):
            self.tokens[name] = new_token()
            keys = {key_id_for(public): public_key_text(public)} if role is Role.AGENCY else {}
            await put_agency(
                self.settings,
                AgencyEntry(
                    id=agency_id,
                    name=f"{name} of the test",
                    role=role,
                    token_hashes=(hash_token(self.tokens[name]),),
                    public_keys=keys,
                ),
            )
        self.tokens["operator"] = self.operator_token
        self.tokens["forged"] = new_token()  # well-formed, never registered
        for agency in (self.provider, self.other):
            await create_topics(self.settings, [spec_for(f"ingress.{agency}.person")])


@contextlib.contextmanager
def running_gateway(stack: ApiStack, **env: str) -> Iterator[str]:
    """``bus gateway serve`` on a free port with ``BUS_GATEWAY_*`` overrides; yields its URL."""
    port = free_port()
    key_file = stack.tmp / "gateway-key.pem"
    args = ("gateway", "serve", "--port", str(port), "--registry", stack.registry_url, "--key-file",
            str(key_file), "--audit-db", stack.db_url, "--bootstrap", stack.settings.bootstrap,
            "--profile", PROFILE)  # fmt: skip
    with running_bus(*args, env={"BUS_OPERATOR_TOKEN": stack.operator_token, **env}) as (_, out):
        out.wait_for("gateway ready at")
        yield f"http://127.0.0.1:{port}"


def wait_for_token(url: str, token: str) -> None:
    """The gateway follows bus.agencies: wait until it knows ``token``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/v1/audit/subjects/1", headers={"Authorization": f"Bearer {token}"})
        if answer.status_code != 401:
            return
        time.sleep(0.1)
    raise AssertionError("the gateway never learnt the token")


@pytest.fixture(scope="package")
def api_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    tmp = tmp_path_factory.mktemp("api")
    operator_token = f"operator-{new_token()}"
    with (
        serving(local_broker(log_dir=tmp / "broker")) as broker,
        running_registry(broker.bootstrap, operator_token) as registry_url,
    ):
        stack = ApiStack(broker.settings(), registry_url, operator_token, tmp)
        archive = ArchiveStore(stack.db_url)
        archive.migrate()  # the tracker reads an (empty) archive
        archive.close()
        stack.register_person(stack.provider)
        stack.register_person(stack.other)
        with running_gateway(stack, BUS_GATEWAY_BODY_TIMEOUT_S="1") as url:
            stack.gateway_url = url
            asyncio.run(stack.add_agencies(tmp / "gateway-key.pem"))
            for who in ("provider", "other", "portal", "auditor"):
                wait_for_token(url, stack.tokens[who])
            yield stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/api/ carries the ``api`` marker, so ``-m api`` selects it."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.api)
