"""One record change against every agreement: deliver, or deny with a reason from a closed set.

Default deny (DESIGN §5): with no agreement for the provider's record type nothing is
delivered. Each active agreement is then checked in a fixed order -- in force today, deletion,
``where``, consent at the time of the change, only-when-changed -- and the first failing check
names the reason. The function is pure: the same facts give the same decisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

from bus.event.envelope import ChangeKind
from bus.policy.agreement import Agreement, ConsentMode
from bus.policy.compile import CompiledAgreement, changed_paths
from bus.policy.consent import ConsentStatus

__all__ = [
    "ConsentLookup",
    "Decision",
    "Deliver",
    "Deny",
    "DenyReason",
    "EventFacts",
    "evaluate",
]


class DenyReason(StrEnum):
    NO_AGREEMENT = "no_agreement"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    CONSENT_MISSING = "consent_missing"
    CONSENT_REVOKED = "consent_revoked"
    CONSENT_EXPIRED = "consent_expired"
    WHERE_MISMATCH = "where_mismatch"
    UNCHANGED_FIELDS = "unchanged_fields"


class Deliver:
    """Send ``record`` (the projection) under ``compiled``; ``None`` is a tombstone (delete).

    The projection is built on first use: the processor usually copies the granted fields' bytes
    instead (``Pipeline._sliced``) and never needs the projected dict.
    """

    __slots__ = ("_record", "_source", "compiled")

    def __init__(self, compiled: CompiledAgreement, record: dict[str, Any] | None) -> None:
        self.compiled = compiled
        self._record = record
        self._source: Mapping[str, Any] | None = None

    @classmethod
    def projecting(cls, compiled: CompiledAgreement, source: Mapping[str, Any]) -> Deliver:
        """A delivery of ``source``'s granted paths, projected only when ``record`` is read."""
        decision = cls(compiled, None)
        decision._source = source
        return decision

    @property
    def tombstone(self) -> bool:
        return self._record is None and self._source is None

    @property
    def record(self) -> dict[str, Any] | None:
        if self._source is not None:
            self._record, self._source = self.compiled.project(self._source), None
        return self._record

    def sends_top_level(self, name: str) -> bool:
        """Whether granted top-level field ``name`` is sent (the projection keeps every present one)."""
        found = self._source if self._source is not None else self._record
        return found is not None and name in found

    @property
    def fields(self) -> tuple[str, ...]:
        """The granted field paths actually sent (for the audit line); ``()`` for a tombstone.

        A granted path inside a nested record that is null is not sent, so it is not listed.
        """
        record = self.record
        if record is None:
            return ()
        return tuple(path for path in self.compiled.agreement.fields if _present(record, path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Deliver):
            return NotImplemented
        return self.compiled == other.compiled and self.record == other.record

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Deliver({self.compiled.agreement.id!r}, {self.record!r})"


@dataclass(frozen=True)
class Deny:
    """Do not send; ``agreement`` is None only for ``NO_AGREEMENT``."""

    agreement: Agreement | None
    reason: DenyReason


Decision: TypeAlias = Deliver | Deny


@dataclass(frozen=True)
class EventFacts:
    """What the processor knows about one change when it asks the policy."""

    provider: str
    record_type: str
    subject: str
    kind: ChangeKind
    event_time: datetime
    record: dict[str, Any] | None
    changed: tuple[str, ...] | None  # from bus_changed; None when the publisher did not say
    previous: dict[str, Any] | None  # previous full record from state (used only when changed is None)
    delivered_before: frozenset[str] = frozenset()  # agreement ids that already received this subject


class ConsentLookup(Protocol):
    def state_at(self, subject: str, consumer: str, purpose: str, at: datetime) -> ConsentStatus | None: ...


def evaluate(
    facts: EventFacts,
    active: Sequence[CompiledAgreement],
    revoked: Sequence[Agreement],
    consent: ConsentLookup,
    *,
    now: datetime,
) -> list[Decision]:
    """Every decision for one change: revoked agreements first, then active ones, in the order given.

    Agreements for another provider or record type are ignored. An active agreement that has
    nothing to say (a deletion of a subject it never received) gives no decision at all.
    """
    mine_active = [c for c in active if _covers(c.agreement, facts)]
    mine_revoked = [a for a in revoked if _covers(a, facts)]
    if not mine_active and not mine_revoked:
        return [Deny(None, DenyReason.NO_AGREEMENT)]
    decisions: list[Decision] = [Deny(agreement, DenyReason.REVOKED) for agreement in mine_revoked]
    today = now.date()
    changed = _changed(facts)
    for compiled in mine_active:
        decision = _decide(compiled, facts, today, changed, consent)
        if decision is not None:
            decisions.append(decision)
    return decisions


def _covers(agreement: Agreement, facts: EventFacts) -> bool:
    return agreement.provider == facts.provider and agreement.record_type == facts.record_type


def _changed(facts: EventFacts) -> tuple[str, ...] | None:
    """The changed paths of an update, when known: the publisher's word, else a diff with state."""
    if facts.kind is not ChangeKind.UPDATED:
        return None
    if facts.changed is not None:
        return facts.changed
    if facts.previous is not None:
        return changed_paths(facts.previous, facts.record)
    return None


def _decide(
    compiled: CompiledAgreement,
    facts: EventFacts,
    today: date,
    changed: tuple[str, ...] | None,
    consent: ConsentLookup,
) -> Decision | None:
    agreement = compiled.agreement
    if today < agreement.valid_from:
        return Deny(agreement, DenyReason.NOT_YET_VALID)
    if agreement.valid_until is not None and today > agreement.valid_until:
        return Deny(agreement, DenyReason.EXPIRED)
    if facts.kind is ChangeKind.DELETED or facts.record is None:
        return Deliver(compiled, None) if agreement.id in facts.delivered_before else None
    if not compiled.matches(facts.record):
        return Deny(agreement, DenyReason.WHERE_MISMATCH)
    if agreement.consent is ConsentMode.REQUIRED:
        status = consent.state_at(facts.subject, agreement.consumer, agreement.purpose, facts.event_time)
        if status is None:
            return Deny(agreement, DenyReason.CONSENT_MISSING)
        if status is ConsentStatus.EXPIRED:
            return Deny(agreement, DenyReason.CONSENT_EXPIRED)
        if status is not ConsentStatus.GRANTED:
            return Deny(agreement, DenyReason.CONSENT_REVOKED)
    if changed is not None and not any(compiled.grants(path) for path in changed):
        return Deny(agreement, DenyReason.UNCHANGED_FIELDS)
    return Deliver.projecting(compiled, facts.record)


def _present(record: Mapping[str, Any], path: str) -> bool:
    *parents, leaf = path.split(".")
    node: Any = record
    for part in parents:
        node = node.get(part) if isinstance(node, Mapping) else None
    return isinstance(node, Mapping) and leaf in node
