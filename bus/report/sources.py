"""Where a scorecard's names and agreements come from when nothing is following them already.

The directory (``bus.agencies``) and agreements (``bus.agreements``) are compacted topics: read to
the end and reduced latest-per-key with the same reducers the gateway and processor use.
"""

from __future__ import annotations

from pathlib import Path

from aiokafka.errors import KafkaError

from bus.directory.model import Role
from bus.directory.view import AgencyDirectory
from bus.event.topics import SystemTopic
from bus.kafka.client import KafkaSettings, as_bus_error, read_to_end
from bus.policy.agreement import Agreement, load_agreements
from bus.policy.agreements_view import AgreementsView


def agency_names(directory: AgencyDirectory) -> dict[str, str]:
    """Agency id → name for the directory's agencies (portal and auditor entries are not agencies)."""
    return {e.id: e.name for e in directory.entries() if e.role is Role.AGENCY}


async def read_directory(settings: KafkaSettings) -> dict[str, str]:
    directory = AgencyDirectory()
    try:
        for record in await read_to_end(settings, SystemTopic.AGENCIES):
            directory.apply(record)
    except KafkaError as exc:
        raise as_bus_error(exc, bootstrap=settings.bootstrap) from None
    return agency_names(directory)


async def read_agreements(settings: KafkaSettings, folder: Path | None = None) -> list[Agreement]:
    """The agreements in force on the bus (``bus.agreements``), or those of a folder if one is given."""
    if folder is not None:
        return load_agreements(folder)
    view = AgreementsView()
    try:
        for record in await read_to_end(settings, SystemTopic.AGREEMENTS):
            view.apply(record)
    except KafkaError as exc:
        raise as_bus_error(exc, bootstrap=settings.bootstrap) from None
    return sorted(view.active.values(), key=lambda a: a.id)
