"""The bench's bus in one process: a broker of the bench's engine, the registry, and providers.

``async with World() as world`` starts an ephemeral broker (``bench/engine.py``) with the system
topics and the registry on a free port, in this process. ``provider(label)`` adds one provider per
measurement (so each run starts from empty state topics): its key, ingress topic and person schema,
and an agreement per entry of ``grants`` — by default three, so fan-out 7 (3 deliveries, state,
3 audit entries), one of them to ``CONSUMER``, the agency (with a token) whose subscriber the
scenarios run. ``start(part)`` keeps a running component (processor, archiver, gateway) until the
world stops; ``backlog`` publishes canonical person records through the publisher SDK.

Providers are ``tests.support.world.World``: the suite's one world builder (it imports no pytest),
so registering agencies, writing agreements and running components are written once for both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from bench.engine import engine, local_broker
from bus.acl.rules import OPERATOR, AclRule, Operation, PatternType, ResourceType
from bus.broker.engine import LocalBroker
from bus.broker.ports import free_port
from bus.directory.tokens import new_token
from bus.event.envelope import ChangeKind
from bus.event.signing import private_key_pem
from bus.kafka.client import KafkaSettings, create_system_topics
from bus.registry.service import RegistryService, RegistrySettings
from bus.validate.iin import make_iin
from connectors.sdk import Change
from tests.support import world as support
from tests.support.logins import admin_settings, agency_login, grant, settings_env
from tests.support.running import serving

T = TypeVar("T")
FAN_OUT = 7
GRANTS = {
    "tax": ("iin", "surname", "given_name", "registered_address"),
    "social": ("iin", "surname", "birth_date", "registered_address"),
    "portal": ("iin", "surname", "given_name", "patronymic", "registered_address", "document"),
}
CONSUMER = "bench-tax"  # the agency whose subscriber the scenarios run
Provider = support.World  # one provider: its key, ingress topic and agreements, on the bench's bus


def people(count: int) -> list[dict[str, Any]]:
    """``count`` distinct canonical person records (valid IINs), the same ones every run."""
    result: list[dict[str, Any]] = []
    serial = 0
    while len(result) < count:
        birth = dt.date(1960, 1, 1) + dt.timedelta(days=serial % 15000)
        iin = make_iin(birth, "MALE", serial % 9000)
        serial += 1
        if iin is None:
            continue
        result.append(
            {
                "iin": iin,
                "surname": "Bench",
                "given_name": "Test",
                "birth_date": birth,
                "sex": "MALE",
                "registered_address": {"region": "Astana", "settlement": "Astana", "building": "1"},
            }
        )
    return result


def _scratch() -> list[AclRule]:
    """The bench's own topics (``bench.raw.*`` of the raw baseline) and groups, for its own identity."""
    return [
        AclRule(OPERATOR.principal, ResourceType.TOPIC, PatternType.PREFIXED, "bench.", Operation.ALL),
        AclRule(OPERATOR.principal, ResourceType.GROUP, PatternType.PREFIXED, "bench-", Operation.ALL),
    ]


def tax_agreement(provider: Provider) -> str:
    """The id of ``provider``'s agreement with ``CONSUMER``."""
    return f"tax-{provider.unique}"


class World:
    """``async with World() as world``: broker + registry up; ``provider()`` adds one more provider."""

    def __init__(self, *, durable: bool = False) -> None:
        self._durable = durable  # on disk under the world's temporary dir, as `bus up` keeps its data
        self.broker: LocalBroker
        self.token = new_token()
        self.consumer_token = new_token()
        self.settings: KafkaSettings
        self.admin: KafkaSettings | None = None
        self.consumer_settings: KafkaSettings
        self.registry_url = ""
        self.tmp = Path()
        self._parts = contextlib.AsyncExitStack()
        self._count = 0

    async def __aenter__(self) -> Self:
        try:
            self.tmp = Path(self._parts.enter_context(tempfile.TemporaryDirectory()))
            self.broker = local_broker(self.tmp / "broker" if self._durable else None)
            await self.start(self.broker)
            self.settings = self.broker.settings()  # the operator; each component logs in as itself
            self.admin = admin_settings(self.broker)
            await create_system_topics(self.settings)
            await grant(self.admin, *_scratch())
            registry = RegistryService(
                self.settings, RegistrySettings(port=free_port(), operator_token=self.token)
            )
            await self.start(serving(registry))
            self.registry_url = f"http://127.0.0.1:{registry.settings.port}"
            await self._next("bench").add_agency(CONSUMER, "Bench consumer", token=self.consumer_token)
            self.consumer_settings = await agency_login(self.settings, CONSUMER)
        except BaseException:
            await self._parts.aclose()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._parts.__aexit__(exc_type, exc, tb)

    async def start(self, part: contextlib.AbstractAsyncContextManager[T]) -> T:
        """Enter ``part`` (a broker, a running component) and keep it until the world stops."""
        return await self._parts.enter_async_context(part)

    async def provider(self, label: str, grants: Mapping[str, Sequence[str]] = GRANTS) -> Provider:
        """A new provider ``bench-{label}-{n}`` with its ingress topic, schema, key and an agreement per
        grant (the one named ``tax`` to ``CONSUMER``)."""
        provider = self._next(label)
        await provider.setup()
        await provider.apply(
            *(
                provider.agreement(
                    purpose,
                    fields,
                    consumer=CONSUMER if purpose == "tax" else provider.consumer(purpose),
                    legal_basis="bench",
                    replaces=None,
                )
                for purpose, fields in grants.items()
            )
        )
        return provider

    def _next(self, label: str) -> Provider:
        self._count += 1
        return Provider(
            self.settings,
            self.registry_url,
            self.token,
            f"{label}-{self._count}",
            self.tmp,
            label="bench",
            admin=self.admin,
        )

    async def backlog(self, provider: Provider, count: int) -> None:
        """``count`` person changes on the provider's ingress topic, through the publisher SDK."""
        records = people(min(count, 5000))
        async with provider.publisher() as publisher:
            for start in range(0, count, 1000):
                await publisher.publish_many(
                    [
                        Change(ChangeKind.CREATED, "person", r["iin"], r)
                        for r in (records[i % len(records)] for i in range(start, min(start + 1000, count)))
                    ]
                )
            await publisher.flush(timeout_s=600)

    def worker_env(self, login: KafkaSettings | None = None) -> dict[str, str]:
        """A worker process's environment: the bench on its path, and ``login`` (an agency's), or the
        keyring so that a component logs in as itself."""
        path = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        return {**os.environ, **settings_env(login or self.settings), **path}

    def key_file(self, provider: Provider) -> Path:
        path = self.tmp / f"{provider.provider}.pem"
        path.write_bytes(private_key_pem(provider.key))
        return path

    def describe(self) -> dict[str, Any]:
        return {"broker": f"{engine().value} (memory), ACLs enforced: {self.settings.authenticates}"}
