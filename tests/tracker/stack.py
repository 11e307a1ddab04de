"""A running bus for tracker specs: World's provider and processor, a real archiver and the gateway.

Everything runs on one event loop in a background thread for a whole test module (starting a
processor, an archiver and a gateway per test would cost seconds each), so the tests themselves
are plain synchronous HTTP and browser code against a real port.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bus.audit.archive import Archiver, ArchiveSettings
from bus.broker.ports import free_port
from bus.directory.model import AgencyEntry, Role
from bus.directory.publish import put_agency
from bus.directory.tokens import hash_token, new_token
from bus.event.signing import key_id_for, public_key_text
from bus.event.topics import TopicSpec
from bus.gateway.service import GatewayService, GatewaySettings
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics
from bus.policy.agreement import Agreement
from tests.support.eventually import until
from tests.support.world import World

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
TAX_FIELDS = ("iin", "surname", "given_name", "registered_address")
HEALTH_FIELDS = ("iin", "surname", "given_name", "birth_date")
NEVER = 10**12


def register_person(registry_url: str, operator_token: str) -> Callable[[str], str]:
    def register(agency: str) -> str:
        topic = f"ingress.{agency}.person"
        response = httpx.post(
            f"{registry_url}/subjects/{topic}-value/versions",
            json={"schema": (REPO / "schemas" / "civil" / "person.avsc").read_text()},
            headers={"Authorization": f"Bearer {operator_token}"},
        )
        assert response.status_code == 200, response.text
        return topic

    return register


@dataclass
class Stack:
    world: World
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    url: str = ""
    gateway: GatewayService | None = None
    archiver: Archiver | None = None
    _exit: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _thread: threading.Thread | None = None

    @property
    def tax(self) -> Agreement:
        return self.world.agreement("tax", TAX_FIELDS, replaces="certificate of residence")

    @property
    def health(self) -> Agreement:
        return self.world.agreement("health", HEALTH_FIELDS, consent="required", replaces=None)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'audit.sqlite'}"

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float = 120.0) -> T:
        """Run a coroutine on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str | None, **params: Any) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", params=params, headers=self.headers(who) if who else {})

    def post(self, path: str, who: str | None, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=self.headers(who) if who else {})

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run_forever, name="tracker-stack", daemon=True)
        self._thread.start()
        self.run(self._start())

    def stop(self) -> None:
        try:
            self.run(self._exit.aclose())
        finally:
            self.run(_cancel_the_rest())
            self.run(self.loop.shutdown_asyncgens())
            self.loop.call_soon_threadsafe(self.loop.stop)
            assert self._thread is not None
            self._thread.join(30)
            self.loop.close()

    async def _start(self) -> None:
        world = self.world
        await world.setup(register_person(world.registry_url, world.operator_token))
        public = world.key.public_key()
        self.tokens["civil"] = new_token()  # the provider, now with a token of its own
        await put_agency(
            world.settings,
            AgencyEntry(
                id=world.provider,
                name="Civil registry",
                public_keys={key_id_for(public): public_key_text(public)},
                token_hashes=(hash_token(self.tokens["civil"]),),
            ),
        )
        for name in ("tax", "health", "police"):
            self.tokens[name] = await world.subscriber_agency(name)
        for name, role in (("portal", Role.PORTAL), ("auditor", Role.AUDITOR)):
            self.tokens[name] = new_token()
            await put_agency(
                world.settings,
                AgencyEntry(
                    id=f"{name}-{world.unique}",
                    name=f"{name} of the test",
                    role=role,
                    token_hashes=(hash_token(self.tokens[name]),),
                ),
            )
        self.tokens["operator"] = world.operator_token
        checkpoints = f"test-tracker-cp-{world.unique}"
        await create_topics(
            world.settings, [TopicSpec(TopicName(checkpoints), 1, {"cleanup.policy": "compact"})]
        )
        self.archiver = Archiver(
            world.settings,
            ArchiveSettings(
                db_url=self.db_url,
                registry_url=world.registry_url,
                key_file=self.tmp / "audit-key.pem",
                group_id=f"archiver-{world.unique}",
                checkpoint_topic=checkpoints,
                checkpoint_every=NEVER,  # visibility must not wait for a checkpoint
            ),
        )
        await self.archiver.start()
        self._exit.push_async_callback(self.archiver.stop)
        await self._task(self.archiver.run)
        gateway = await start_gateway(world.settings, world, self.tmp, self.db_url, self._exit)
        self.gateway, self.url = gateway, f"http://127.0.0.1:{gateway.settings.port}"
        for token in self.tokens.values():  # the gateway follows bus.agencies

            def known(t: str = token) -> bool:
                return gateway.directory.authenticate(f"Bearer {t}") is not None

            await until(known)
        await world.apply(self.tax, self.health)
        await self._exit.enter_async_context(world.processor())

    async def _task(self, run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run(stop))

        async def finish() -> None:
            stop.set()
            await task

        self._exit.push_async_callback(finish)


async def start_gateway(
    settings: KafkaSettings, world: World, tmp: Path, db_url: str, exit_stack: contextlib.AsyncExitStack
) -> GatewayService:
    """A gateway service on a free port, serving until the exit stack closes."""
    gateway = GatewayService(
        settings,
        GatewaySettings(
            port=free_port(),
            registry_url=world.registry_url,
            key_file=tmp / "gateway-key.pem",
            audit_db_url=db_url,
            reads_topic=f"test-audit-reads-{world.unique}",
            operator_token=world.operator_token,
        ),
    )
    await gateway.start()
    exit_stack.push_async_callback(gateway.stop)
    stop, up = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(gateway.serve(stop, on_started=up.set))

    async def finish() -> None:
        stop.set()
        await task

    exit_stack.push_async_callback(finish)
    await asyncio.wait_for(up.wait(), 30)
    return gateway


async def _cancel_the_rest() -> None:
    """Tasks a client library left behind are cancelled and awaited, so nothing outlives the loop."""
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
