"""Compiled, registered delivery routes per (provider, record type), rebuilt when agreements change.

Compiling registers the projection's derived schema under ``deliver.<consumer>.<agreement>-value``
with the bus's own (operator) token; the subject's compatibility is NONE, because its shape follows
the agreement, which a reviewed change may narrow or widen, and the provider's schema.

An event is delivered in the projection of the ingress schema version it was written with
(docs/processor.md, "Provider schema evolution"): each (agreement, writer schema id) gets its own
route, and a projection whose shape changed is a new version under the consumer's subject. The
policy (validity, consent, ``where``, changed fields) is the agreement's, whatever the version.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bus.errors import BusError, ConfigError
from bus.event.topics import ingress, ingress_subject_parts
from bus.ids import SchemaId, TopicName
from bus.policy.agreement import Agreement
from bus.policy.agreements_view import AgreementsView
from bus.policy.compile import CompiledAgreement, compile_for_version
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
    missing: tuple[str, ...] = ()  # granted paths the provider schema version it was compiled for lacks


@dataclass(frozen=True)
class Unfit:
    """An agreement whose ``where`` cannot be checked on events written with one ingress schema version."""

    agreement: Agreement
    writer_id: SchemaId
    problem: str


class Routes:
    """Compiled, registered routes per (provider, record type), rebuilt when agreements change."""

    def __init__(self, view: AgreementsView, registry: RegistryClient) -> None:
        self._view = view
        self._registry = registry
        self._built_version = -1
        self._compiled: dict[tuple[str, str], list[Route]] = {}
        # (agreement json, provider schema text) -> route, or the ConfigError it cannot be compiled with
        self._cache: dict[tuple[str, str], Route | ConfigError] = {}
        # writer schema id -> its text and the (provider, type) of every ingress subject it is a version of
        self._writer_schemas: dict[SchemaId, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._writers: dict[tuple[str, SchemaId], Route | Unfit] = {}  # (agreement id, writer id)
        self.problems: dict[str, str] = {}
        """Agreements that no longer fit their provider's schema, by id: what is wrong and what to do."""

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
                if isinstance(exc, BusError) and exc.retriable:
                    raise  # the registry is away for a moment: decide nothing until it answers again
                problems[agreement.id] = f"{type(exc).__name__}: {exc}"
                log.error("agreement %s cannot be compiled: %s", agreement.id, exc)
                continue
            compiled.setdefault((agreement.provider, agreement.record_type), []).append(route)
            if route.missing:
                problems[agreement.id] = _missing_problem(agreement, route.missing, "the latest version of")
                log.error("%s", problems[agreement.id])
        self._compiled, self.problems, self._built_version = compiled, problems, version
        self._writers = {}
        for writer_id in self._writer_schemas:  # agreements changed: every known version again
            await self._prepare(writer_id)

    async def _route(self, agreement: Agreement) -> Route:
        """The route compiled against the provider's latest schema: the agreement's policy and topic."""
        subject = f"{ingress(agreement.provider, agreement.record_type)}-value"
        try:
            latest = await self._registry.latest(subject)
        except SubjectNotFound:
            raise LookupError(f"provider schema {subject!r} is not registered") from None
        return await self._registered(agreement, str(latest["schema"]))

    async def _registered(self, agreement: Agreement, provider_text: str) -> Route:
        """The agreement compiled for one provider schema version, its delivery schema registered."""
        cache_key = (agreement.model_dump_json(), provider_text)
        route = self._cache.get(cache_key)
        if isinstance(route, ConfigError):
            raise route
        if route is None:
            try:
                compiled, missing = compile_for_version(agreement, json.loads(provider_text))
            except ConfigError as exc:
                self._cache[cache_key] = exc
                raise
            await self._registry.set_level(agreement.subject, "NONE")
            schema_id = await self._registry.register(agreement.subject, json.dumps(compiled.schema))
            name = compiled.schema["name"]
            if "." not in name and compiled.schema.get("namespace"):
                name = f"{compiled.schema['namespace']}.{name}"
            route = self._cache[cache_key] = Route(
                compiled, SchemaId(schema_id), name, agreement.delivery_topic, missing
            )
        return route

    async def add_writers(self, schemas: Mapping[SchemaId, tuple[str, Iterable[str]]]) -> None:
        """Prepare the routes of events written with these schemas (id -> text, subjects of the id)."""
        for writer_id, (text, subjects) in schemas.items():
            if writer_id in self._writer_schemas:
                continue
            # one id for one schema text: agencies that register the same canonical schema share it
            owners = tuple(sorted({p for p in map(ingress_subject_parts, subjects) if p is not None}))
            if owners:
                self._writer_schemas[writer_id] = (text, owners)
                await self._prepare(writer_id)

    async def _prepare(self, writer_id: SchemaId) -> None:
        text, owners = self._writer_schemas[writer_id]
        for provider, record_type in owners:
            await self._prepare_for(writer_id, text, provider, record_type)

    async def _prepare_for(self, writer_id: SchemaId, text: str, provider: str, record_type: str) -> None:
        for base in self.for_type(provider, record_type):
            agreement = base.compiled.agreement
            try:
                route = await self._registered(agreement, text)
            except ConfigError as exc:
                unfit = Unfit(
                    agreement,
                    writer_id,
                    f"events written with {ingress(provider, record_type)}-value schema id {writer_id} "
                    f"are denied under agreement {agreement.id!r} (where_mismatch): {exc.message}; "
                    f"{exc.hint}",
                )
                self._writers[(agreement.id, writer_id)] = unfit
                self.problems[agreement.id] = unfit.problem
                log.error("%s", unfit.problem)
            else:
                if route.schema_id != base.schema_id:
                    log.info(
                        "agreement %s: events written with schema id %s are delivered with schema id %s "
                        "of %s (a version of the consumer's subject)",
                        agreement.id,
                        writer_id,
                        route.schema_id,
                        agreement.subject,
                    )
                fresh = route.missing and route is not base  # base: flagged by refresh already
                if fresh and await self._is_latest(provider, record_type, writer_id):
                    self.problems[agreement.id] = _missing_problem(agreement, route.missing, "the new")
                    log.error("%s", self.problems[agreement.id])
                self._writers[(agreement.id, writer_id)] = route

    async def _is_latest(self, provider: str, record_type: str, writer_id: SchemaId) -> bool:
        """Whether ``writer_id`` is the provider's latest version (a field removed, not one added since)."""
        try:
            latest = await self._registry.latest(f"{ingress(provider, record_type)}-value")
        except SubjectNotFound:
            return False
        return bool(latest["id"] == writer_id)

    def for_writer(self, route: Route, writer_id: SchemaId | None) -> Route | Unfit:
        """The route for an event written with ingress schema ``writer_id`` under ``route``'s agreement.

        ``route`` itself for a deletion (no value) or a version not prepared by ``add_writers``.
        """
        if writer_id is None:
            return route
        return self._writers.get((route.compiled.agreement.id, writer_id), route)

    def delivery_schemas(self) -> dict[SchemaId, dict[str, Any]]:
        """Every registered delivery schema by id, so projections encode without a registry call."""
        found = {route.schema_id: route.compiled.schema for route in self.all_routes()}
        for route in self._writers.values():
            if isinstance(route, Route):
                found[route.schema_id] = route.compiled.schema
        return found

    def for_type(self, provider: str, record_type: str) -> list[Route]:
        return self._compiled.get((provider, record_type), [])

    def revoked_for(self, provider: str, record_type: str) -> list[Agreement]:
        return [
            a for a in self._view.revoked.values() if (a.provider, a.record_type) == (provider, record_type)
        ]

    def all_routes(self) -> list[Route]:
        return [route for routes in self._compiled.values() for route in routes]


def _missing_problem(agreement: Agreement, missing: tuple[str, ...], which: str) -> str:
    subject = f"{ingress(agreement.provider, agreement.record_type)}-value"
    return (
        f"agreement {agreement.id!r} grants {', '.join(repr(p) for p in missing)}, which {which} "
        f"provider schema {subject!r} does not have: {agreement.consumer} receives the other granted "
        f"fields only (hint: the provider restores the field in a new version of {subject}, or the "
        "agreement is amended to drop it and applied again with `bus agreements apply`)"
    )
