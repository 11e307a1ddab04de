"""Compiled, registered delivery routes per (provider, record type), rebuilt when agreements change.

Compiling registers the projection's derived schema under ``deliver.<consumer>.<agreement>-value``
with the bus's own (operator) token; the subject's compatibility is NONE, because its shape follows
the agreement, which a reviewed change may narrow or widen.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bus.event.topics import ingress
from bus.ids import SchemaId, TopicName
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.policy.compile import CompiledAgreement, compile_agreement
from bus.registry.client import RegistryClient
from bus.registry.errors import SubjectNotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """A compiled agreement and the schema id its projections are encoded with."""

    compiled: CompiledAgreement
    schema_id: SchemaId
    record_name: str
    topic: TopicName  # deliver.<consumer>.<agreement>, computed once


class Routes:
    """Compiled, registered routes per (provider, record type), rebuilt when agreements change."""

    def __init__(self, view: AgreementsView, registry: RegistryClient) -> None:
        self._view = view
        self._registry = registry
        self._built_version = -1
        self._compiled: dict[tuple[str, str], list[Route]] = {}
        self._cache: dict[tuple[str, str], Route] = {}  # (agreement json, provider schema text) -> route
        self.problems: dict[str, str] = {}

    async def refresh(self) -> None:
        if self._built_version == self._view.version:
            return
        version = self._view.version
        compiled: dict[tuple[str, str], list[Route]] = {}
        problems: dict[str, str] = {}
        for agreement in self._view.active.values():
            try:
                route = await self._route(agreement)
            except Exception as exc:  # an agreement that cannot compile denies nothing and delivers nothing
                problems[agreement.id] = f"{type(exc).__name__}: {exc}"
                log.error("agreement %s cannot be compiled: %s", agreement.id, exc)
                continue
            compiled.setdefault((agreement.provider, agreement.record_type), []).append(route)
        self._compiled, self.problems, self._built_version = compiled, problems, version

    async def _route(self, agreement: Agreement) -> Route:
        subject = f"{ingress(agreement.provider, agreement.record_type)}-value"
        try:
            latest = await self._registry.latest(subject)
        except SubjectNotFound:
            raise LookupError(f"provider schema {subject!r} is not registered") from None
        cache_key = (agreement.model_dump_json(), latest["schema"])
        route = self._cache.get(cache_key)
        if route is None:
            compiled = compile_agreement(agreement, json.loads(latest["schema"]))
            await self._registry.set_level(agreement.subject, "NONE")
            schema_id = await self._registry.register(agreement.subject, json.dumps(compiled.schema))
            name = compiled.schema["name"]
            if "." not in name and compiled.schema.get("namespace"):
                name = f"{compiled.schema['namespace']}.{name}"
            route = self._cache[cache_key] = Route(
                compiled, SchemaId(schema_id), name, agreement.delivery_topic
            )
        return route

    def for_type(self, provider: str, record_type: str) -> list[Route]:
        return self._compiled.get((provider, record_type), [])

    def revoked_for(self, provider: str, record_type: str) -> list[Agreement]:
        return [
            a for a in self._view.revoked.values() if (a.provider, a.record_type) == (provider, record_type)
        ]

    def all_routes(self) -> list[Route]:
        return [route for routes in self._compiled.values() for route in routes]
