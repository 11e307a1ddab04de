"""The fault suite's workload and its oracle: which change each agency is entitled to, decided here.

Independent of ``bus.policy`` on purpose: the expected outcome of every change is written down
from the agreements' words, so a policy bug shows up as a lost or unauthorised delivery.

Subject ``s`` (``tests.people.person(s)``) gets versions 1..V. Every version changes ``phone``;
every third version also moves the citizen (``registered_address``). Three agreements:

- **tax** (subscriber SDK): iin, surname, registered_address; no consent. Only-when-changed, so
  entitled exactly to the versions that moved the citizen.
- **health** (webhook): iin, phone; consent required, granted for even subjects only, before the
  run. Entitled to every version of an even subject, nothing of an odd one.
- **police** (subscriber SDK): expired yesterday. Entitled to nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bus.event.envelope import ChangeKind
from bus.policy.agreement import Agreement
from connectors.sdk import Change
from tests.people import person

NAMESPACE = uuid.UUID("6f1c1f8e-2a43-4c0b-9d8e-5a7f6e0c0012")
TAX_FIELDS = ("iin", "surname", "registered_address")
HEALTH_FIELDS = ("iin", "phone")
POLICE_FIELDS = ("iin", "surname", "given_name")


@dataclass(frozen=True)
class Planned:
    """One change of the workload: its deterministic ``ce_id`` and what it changes."""

    event_id: str
    subject_index: int
    subject: str
    version: int
    moved: bool


@dataclass(frozen=True)
class Workload:
    unique: str
    subjects: int
    versions: int

    @property
    def provider(self) -> str:
        return f"civil-{self.unique}"

    def consumer(self, name: str) -> str:
        return f"{name}-{self.unique}"

    def agreement(self, name: str) -> Agreement:
        today = dt.date.today()
        fields = {"tax": TAX_FIELDS, "health": HEALTH_FIELDS, "police": POLICE_FIELDS}[name]
        return Agreement(
            id=f"{name}-{self.unique}",
            provider=self.provider,
            consumer=self.consumer(name),
            record_type="person",
            fields=fields,
            purpose=f"{name} purpose",
            legal_basis=f"Law on {name}, Art. 1",
            valid_from=today - dt.timedelta(days=30),
            valid_until=today - dt.timedelta(days=1) if name == "police" else today + dt.timedelta(days=365),
            consent="required" if name == "health" else "none",
        )

    @property
    def agreements(self) -> tuple[Agreement, Agreement, Agreement]:
        return self.agreement("tax"), self.agreement("health"), self.agreement("police")

    @cached_property
    def people(self) -> list[dict[str, Any]]:
        return [person(n) for n in range(self.subjects)]

    @cached_property
    def plan(self) -> list[Planned]:
        """Every change in publication order: version 1 of every subject, then version 2, …"""
        return [
            Planned(str(uuid.uuid5(NAMESPACE, f"{self.unique}/{s}/{v}")), s, p["iin"], v, moved=v % 3 == 0)
            for v in range(1, self.versions + 1)
            for s, p in enumerate(self.people)
        ]

    @cached_property
    def by_id(self) -> dict[str, Planned]:
        return {p.event_id: p for p in self.plan}

    def batch(self, version: int) -> list[Change]:
        """The changes of one version, one per subject (one spool transaction)."""
        changes = []
        for planned in self.plan[(version - 1) * self.subjects : version * self.subjects]:
            base = self.people[planned.subject_index]
            record = {**base, "phone": f"+7701{planned.version:07d}"}
            changed = ["phone"]
            if planned.moved:
                record["registered_address"] = {
                    **base["registered_address"],
                    "building": str(planned.version),
                }
                changed.append("registered_address")
            changes.append(
                Change(
                    ChangeKind.UPDATED, "person", planned.subject, record, changed, event_id=planned.event_id
                )
            )
        return changes

    def consents(self) -> list[str]:
        """Subjects that granted health consent (the even ones)."""
        return [p["iin"] for n, p in enumerate(self.people) if n % 2 == 0]

    def entitled(self, name: str) -> set[str]:
        """The event ids the agreement ``name`` must deliver, from the agreements' words alone."""
        if name == "tax":
            return {p.event_id for p in self.plan if p.moved}
        if name == "health":
            return {p.event_id for p in self.plan if p.subject_index % 2 == 0}
        return set()

    def granted(self, name: str) -> set[str]:
        return set({"tax": TAX_FIELDS, "health": HEALTH_FIELDS, "police": POLICE_FIELDS}[name])
