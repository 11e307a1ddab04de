"""The registry as a long-running component: follow the log, serve the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bus.acl.rules import REGISTRY
from bus.directory.view import AgencyDirectory
from bus.event.topics import SystemTopic, spec_for
from bus.http.server import serve_app
from bus.kafka.client import KafkaSettings, create_topics
from bus.kafka.follow import TopicFollower
from bus.registry.api import create_app
from bus.registry.store import SchemaStore
from bus.run.environment import OperatorToken


class RegistrySettings(BaseSettings):
    """``BUS_REGISTRY_*`` settings; the operator token is ``BUS_OPERATOR_TOKEN``."""

    model_config = SettingsConfigDict(
        env_prefix="BUS_REGISTRY_", extra="forbid", frozen=True, populate_by_name=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    operator_token: OperatorToken = None


class RegistryService:
    """Store + agency directory + HTTP API; ``start`` returns once both views caught up."""

    def __init__(self, kafka: KafkaSettings, settings: RegistrySettings) -> None:
        self.kafka = kafka = kafka.acting_as(REGISTRY.user)
        self.settings = settings
        self.store = SchemaStore(kafka)
        self.directory = AgencyDirectory(settings.operator_token)
        self._agencies: TopicFollower = self.directory.follower(kafka)

    async def start(self) -> None:
        await create_topics(self.kafka, [spec_for(SystemTopic.AGENCIES)])
        try:
            await self.store.start()
            await self._agencies.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self._agencies.stop()
        await self.store.stop()

    async def serve(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None:
        app = create_app(self.store, self.directory, max_body_bytes=self.settings.max_body_bytes)
        await serve_app(
            app, host=self.settings.host, port=self.settings.port, stop=stop, on_started=on_started
        )
