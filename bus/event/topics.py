"""Topic naming rules (DESIGN §2) as code, and idempotent creation with the right configs.

Names are built and parsed here only, so a typo in an agency id fails loudly at the
edge instead of creating a topic nobody reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from bus.errors import TopicNameError
from bus.ids import AgencyId, AgreementId, RecordType, TopicName

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_RECORD_TYPE = re.compile(r"^[a-z][a-z0-9_]*$")
_MAX_PART = 64
_DAY_MS = 24 * 3600 * 1000


class TopicKind(StrEnum):
    INGRESS = "ingress"
    DELIVER = "deliver"
    STATE = "state"
    DLQ = "dlq"
    WEBHOOK_DLQ = "dlq.webhook"
    SYSTEM = "bus"


class SystemTopic(StrEnum):
    """The bus's own topics; their names are fixed."""

    AUDIT = "bus.audit"
    AUDIT_CHECKPOINTS = "bus.audit.checkpoints"
    AUDIT_READS = "bus.audit.reads"
    SCHEMAS = "bus.schemas"
    AGENCIES = "bus.agencies"
    AGREEMENTS = "bus.agreements"
    CONSENT = "bus.consent"
    BACKFILL = "bus.backfill"
    RECEIPTS = "bus.receipts"


def _check(value: str, pattern: re.Pattern[str], what: str, example: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_PART or not pattern.fullmatch(value):
        raise TopicNameError(
            f"{what} {value!r} is not valid",
            hint=f"use lower-case letters and digits ({pattern.pattern}), "
            f"at most {_MAX_PART} characters, e.g. {example!r}",
        )
    return value


def agency_id(value: str) -> AgencyId:
    """Validate an agency id (``[a-z0-9-]``, no leading/trailing hyphen)."""
    return AgencyId(_check(value, _SLUG, "agency id", "civil-registry"))


def record_type(value: str) -> RecordType:
    """Validate a short lower-case record type name such as ``person``."""
    return RecordType(_check(value, _RECORD_TYPE, "record type", "person"))


def agreement_id(value: str) -> AgreementId:
    """Validate an agreement id (same alphabet as agency ids)."""
    return AgreementId(_check(value, _SLUG, "agreement id", "civil-to-tax-address"))


def ingress(provider: str, rtype: str) -> TopicName:
    return TopicName(f"ingress.{agency_id(provider)}.{record_type(rtype)}")


def deliver(consumer: str, agreement: str) -> TopicName:
    return TopicName(f"deliver.{agency_id(consumer)}.{agreement_id(agreement)}")


def state(provider: str, rtype: str) -> TopicName:
    return TopicName(f"state.{agency_id(provider)}.{record_type(rtype)}")


def dlq(provider: str) -> TopicName:
    return TopicName(f"dlq.{agency_id(provider)}")


def dlq_webhook(consumer: str) -> TopicName:
    """Where the webhook dispatcher parks deliveries a consumer's receiver could not take."""
    return TopicName(f"dlq.webhook.{agency_id(consumer)}")


@dataclass(frozen=True)
class TopicRef:
    """A parsed topic name: which kind of topic it is and whose."""

    name: TopicName
    kind: TopicKind
    agency: AgencyId | None = None
    record_type: RecordType | None = None
    agreement: AgreementId | None = None


def parse(name: str) -> TopicRef:
    """Parse any bus topic name; raise ``TopicNameError`` naming the bad part."""
    if name in SystemTopic._value2member_map_:
        return TopicRef(TopicName(name), TopicKind.SYSTEM)
    parts = name.split(".")
    head, rest = parts[0], parts[1:]
    if head == "dlq" and len(rest) == 2 and rest[0] == "webhook":
        return TopicRef(dlq_webhook(rest[1]), TopicKind.WEBHOOK_DLQ, agency_id(rest[1]))
    shapes = {"ingress": 2, "deliver": 2, "state": 2, "dlq": 1}
    if head not in shapes or len(rest) != shapes[head]:
        raise TopicNameError(
            f"topic {name!r} is not a bus topic name",
            hint="expected ingress.<provider>.<type>, deliver.<consumer>.<agreement>, "
            "state.<provider>.<type>, dlq.<provider>, dlq.webhook.<consumer> or one of "
            + ", ".join(t.value for t in SystemTopic),
        )
    kind = TopicKind(head)
    if kind is TopicKind.DELIVER:
        return TopicRef(deliver(*rest), kind, agency_id(rest[0]), agreement=agreement_id(rest[1]))
    if kind is TopicKind.DLQ:
        return TopicRef(dlq(rest[0]), kind, agency_id(rest[0]))
    builder = ingress if kind is TopicKind.INGRESS else state
    return TopicRef(builder(*rest), kind, agency_id(rest[0]), record_type(rest[1]))


def ingress_subject_parts(subject: str) -> tuple[AgencyId, RecordType] | None:
    """(provider, record type) of an ``ingress.<provider>.<type>-value`` registry subject; None for others."""
    if not subject.endswith("-value"):
        return None
    try:
        ref = parse(subject.removesuffix("-value"))
    except TopicNameError:
        return None
    if ref.kind is not TopicKind.INGRESS or ref.agency is None or ref.record_type is None:
        return None
    return ref.agency, ref.record_type


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is created: partitions and the configs that matter for its role."""

    name: TopicName
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


# Data topics share one partition count so a key lands in the same partition number
# on ingress, state and delivery topics (co-partitioning for the processor).
DATA_PARTITIONS = 6

_SYSTEM_SPECS: dict[SystemTopic, tuple[int, dict[str, str]]] = {
    SystemTopic.AUDIT: (3, {"cleanup.policy": "delete", "retention.ms": "-1"}),
    SystemTopic.AUDIT_CHECKPOINTS: (1, {"cleanup.policy": "compact"}),
    SystemTopic.AUDIT_READS: (3, {"cleanup.policy": "delete", "retention.ms": "-1"}),
    SystemTopic.SCHEMAS: (1, {"cleanup.policy": "compact"}),
    SystemTopic.AGENCIES: (1, {"cleanup.policy": "compact"}),
    SystemTopic.AGREEMENTS: (1, {"cleanup.policy": "compact"}),
    SystemTopic.CONSENT: (DATA_PARTITIONS, {"cleanup.policy": "compact"}),
    SystemTopic.BACKFILL: (1, {"cleanup.policy": "compact"}),
    SystemTopic.RECEIPTS: (3, {"cleanup.policy": "delete", "retention.ms": "-1"}),
}

_KIND_CONFIGS: dict[TopicKind, dict[str, str]] = {
    TopicKind.INGRESS: {"cleanup.policy": "delete", "retention.ms": str(7 * _DAY_MS)},
    TopicKind.DELIVER: {"cleanup.policy": "delete", "retention.ms": str(7 * _DAY_MS)},
    TopicKind.STATE: {"cleanup.policy": "compact"},
    TopicKind.DLQ: {"cleanup.policy": "delete", "retention.ms": str(30 * _DAY_MS)},
    TopicKind.WEBHOOK_DLQ: {"cleanup.policy": "delete", "retention.ms": str(30 * _DAY_MS)},
}


def spec_for(name: str) -> TopicSpec:
    """The creation spec DESIGN §2 prescribes for a topic name."""
    ref = parse(name)
    if ref.kind is TopicKind.SYSTEM:
        partitions, configs = _SYSTEM_SPECS[SystemTopic(ref.name)]
        return TopicSpec(ref.name, partitions, dict(configs))
    partitions = 3 if ref.kind in (TopicKind.DLQ, TopicKind.WEBHOOK_DLQ) else DATA_PARTITIONS
    return TopicSpec(ref.name, partitions, dict(_KIND_CONFIGS[ref.kind]))
