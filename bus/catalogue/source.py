"""Reading the catalogue's inputs from the running bus: the registry's ingress subjects, now."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from bus.acl.rules import directory_agencies
from bus.acl.sync import desired_rules, utc_today
from bus.catalogue.asyncapi import Server, asyncapi_document
from bus.catalogue.build import Names, Registered, build_catalogue
from bus.catalogue.model import Catalogue
from bus.directory.model import Role
from bus.directory.view import AgencyDirectory
from bus.errors import BusError
from bus.event.topics import ingress_subject_parts
from bus.policy.agreement import Agreement
from bus.registry.client import RegistryClient
from bus.registry.errors import SubjectNotFound
from bus.report.sources import agency_names


async def registered_types(registry: RegistryClient) -> list[Registered]:
    """The latest version and compatibility level of every ingress value subject (deleted ones skipped)."""
    subjects = [s for s in await registry.subjects() if ingress_subject_parts(s) is not None]
    found = await asyncio.gather(*(_registered(registry, s) for s in subjects))
    return [r for r in found if r is not None]


async def _registered(registry: RegistryClient, subject: str) -> Registered | None:
    try:
        latest, level = await asyncio.gather(registry.latest(subject), registry.level(subject))
    except SubjectNotFound:  # deleted between the listing and the lookup
        return None
    return Registered(subject, int(latest["id"]), int(latest["version"]), str(latest["schema"]), level)


async def current_catalogue(
    registry: RegistryClient, agreements: Iterable[Agreement], names: Names
) -> Catalogue:
    """The catalogue as the registry and the given (applied) agreements stand at this moment."""
    return build_catalogue(await registered_types(registry), list(agreements), names=names)


class UnknownAgencyError(BusError):
    code = "unknown_agency"


async def agency_asyncapi(
    registry: RegistryClient,
    agreements: Iterable[Agreement],
    directory: AgencyDirectory,
    agency: str,
    server: Server,
) -> dict[str, Any]:
    """The AsyncAPI document of a directory agency, from the ACLs the broker enforces today (UTC)."""
    entry = directory.get(agency)
    if entry is None or entry.role is not Role.AGENCY:
        known = ", ".join(sorted(directory_agencies(directory.entries()))) or "none yet"
        raise UnknownAgencyError(
            f"{agency!r} is not an agency in the directory, so it may do nothing on the bus",
            hint=f"use one of the directory's agency ids ({known}); `bus agencies add` registers a new one",
        )
    agreements = list(agreements)
    names = agency_names(directory)
    catalogue = await current_catalogue(registry, agreements, names.get)
    rules = desired_rules(agreements, directory, utc_today())
    return asyncapi_document(agency, rules, catalogue, agreements, server, agency_name=entry.name)
