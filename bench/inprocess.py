"""The bus in one process for the latency benches: embedded broker and registry up, components added.

Both decision→visible benches (tracker, wallet) need the same set-up and the same orderly stop:
``stop`` is set and every run/serve task awaited before the components are stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.engine import local_broker
from bus.broker.ports import free_port
from bus.directory.tokens import new_token
from bus.gateway.service import GatewayService, GatewaySettings
from bus.kafka.client import KafkaSettings, create_system_topics
from bus.processor.service import Processor, ProcessorSettings
from bus.registry.service import RegistryService, RegistrySettings


@dataclass
class InProcessBus:
    settings: KafkaSettings
    registry_url: str
    operator: str
    tmp: Path
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]
    exit_stack: contextlib.AsyncExitStack

    async def run(self, *components: Any) -> None:
        """Start components with ``run(stop)`` and keep them running until the bus stops."""
        for component in components:
            await component.start()
            self.exit_stack.push_async_callback(component.stop)
        self.tasks += [asyncio.create_task(c.run(self.stop)) for c in components]

    def processor(self, group: str, topic: str) -> Processor:
        """A processor worker (not started) reading only ``topic``."""
        return Processor(
            self.settings,
            ProcessorSettings(
                group_id=group,
                registry_url=self.registry_url,
                operator_token=self.operator,
                topic_pattern=rf"^{topic}$",
            ),
        )

    def gateway(self, audit_db_url: str, **settings: Any) -> GatewayService:
        """A gateway (not started) on a free port over the archive at ``audit_db_url``."""
        return GatewayService(
            self.settings,
            GatewaySettings(
                port=free_port(),
                registry_url=self.registry_url,
                key_file=self.tmp / "gateway.pem",
                audit_db_url=audit_db_url,
                **settings,
            ),
        )

    async def serve(self, service: Any) -> None:
        """Start an HTTP service and return once it accepts connections."""
        await service.start()
        self.exit_stack.push_async_callback(service.stop)
        up = asyncio.Event()
        self.tasks.append(asyncio.create_task(service.serve(self.stop, on_started=up.set)))
        await asyncio.wait_for(up.wait(), 30)


@contextlib.asynccontextmanager
async def in_process_bus() -> AsyncIterator[InProcessBus]:
    operator = new_token()
    async with local_broker() as broker, contextlib.AsyncExitStack() as exit_stack:
        await create_system_topics(broker.settings())
        tmp = Path(exit_stack.enter_context(tempfile.TemporaryDirectory()))
        settings = broker.settings()
        registry = RegistryService(settings, RegistrySettings(port=free_port(), operator_token=operator))
        bus = InProcessBus(
            settings,
            f"http://127.0.0.1:{registry.settings.port}",
            operator,
            tmp,
            asyncio.Event(),
            [],
            exit_stack,
        )
        await bus.serve(registry)
        try:
            yield bus
        finally:
            bus.stop.set()
            await asyncio.gather(*bus.tasks)
