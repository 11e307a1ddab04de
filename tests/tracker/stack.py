"""A running bus for tracker specs: World's provider and processor, a real archiver and the gateway.

Everything runs on one event loop in a background thread for a whole test module (starting a
processor, an archiver and a gateway per test would cost seconds each), so the tests themselves
are plain synchronous HTTP and browser code against a real port.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bus.acl.rules import ARCHIVER, Operation
from bus.audit.archive import Archiver
from bus.directory.model import Role
from bus.directory.tokens import new_token
from bus.event.topics import TopicSpec
from bus.gateway.service import GatewayService
from bus.ids import TopicName
from bus.kafka.client import KafkaSettings, create_topics
from bus.policy.agreement import Agreement
from tests.support.eventually import until
from tests.support.logins import grant, may
from tests.support.world import World

T = TypeVar("T")
TAX_FIELDS = ("iin", "surname", "given_name", "registered_address")
HEALTH_FIELDS = ("iin", "surname", "given_name", "birth_date")
NEVER = 10**12


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
        """Stop every part, then the loop: its executor's threads joined, nothing left pending."""
        try:
            self.run(self._exit.aclose())
            self.run(_nothing_left_running())
        finally:
            self.run(self.loop.shutdown_asyncgens())
            self.run(self.loop.shutdown_default_executor())
            self.loop.call_soon_threadsafe(self.loop.stop)
            assert self._thread is not None
            self._thread.join(30)
            self.loop.close()

    async def _start(self) -> None:
        world = self.world
        self.tokens["civil"] = new_token()  # the provider has a token of its own: it calls the gateway
        await world.setup(token=self.tokens["civil"])
        for name in ("tax", "health", "police"):
            self.tokens[name] = await world.subscriber_agency(name)
        for name, role in (("portal", Role.PORTAL), ("auditor", Role.AUDITOR)):
            self.tokens[name] = await world.subscriber_agency(name, role=role)
        self.tokens["operator"] = world.operator_token
        checkpoints = f"test-tracker-cp-{world.unique}"
        await create_topics(
            world.settings, [TopicSpec(TopicName(checkpoints), 1, {"cleanup.policy": "compact"})]
        )
        await grant(world.admin, may(ARCHIVER.principal, Operation.WRITE, checkpoints))
        self.archiver = await self.enter(
            world.archiver(
                self.db_url,
                checkpoint_topic=checkpoints,
                checkpoint_every=NEVER,  # visibility must not wait for a checkpoint
            )
        )
        gateway = await self.enter(world.gateway(self.db_url))
        self.gateway, self.url = gateway, f"http://127.0.0.1:{gateway.settings.port}"
        for token in self.tokens.values():  # the gateway follows bus.agencies

            def known(t: str = token) -> bool:
                return gateway.directory.authenticate(f"Bearer {t}") is not None

            await until(known)
        await world.apply(self.tax, self.health)
        await self.enter(world.processor())

    @classmethod
    @contextlib.contextmanager
    def running(
        cls,
        settings: KafkaSettings,
        registry_url: str,
        operator_token: str,
        tmp: Path,
        admin: KafkaSettings | None = None,
    ) -> Iterator[Stack]:
        """A started stack over a fresh ``World`` (a provider of its own), stopped on exit; ``admin``
        grants its parts the stack's own topics."""
        world = World(settings, registry_url, operator_token, uuid.uuid4().hex[:10], tmp, admin=admin)
        stack = cls(world, tmp)
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()

    async def enter(self, part: contextlib.AbstractAsyncContextManager[T]) -> T:
        """Keep ``part`` (a running component) until the stack stops; on the stack's loop."""
        return await self._exit.enter_async_context(part)


async def _nothing_left_running() -> None:
    """Every part was stopped by the exit stack; a task still pending on the loop was leaked by one
    (tests/support/guards.py checks each test's own loop the same way)."""
    pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not pending, f"the stack's parts left {len(pending)} task(s) running: {pending}"
