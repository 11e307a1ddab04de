"""Broker ACLs derived from the applied agreements, and an evaluator with Kafka's semantics.

Production brokers deny by default (DESIGN §7); these rules are the only permissions anyone
holds besides the cluster's super users. Agencies get exactly their own prefixes:

* a publisher writes ``ingress.<itself>.`` (prefixed, with the trailing dot, so ``tax`` never
  matches ``ingress.tax-office.*``);
* a consumer named in an applied agreement reads ``deliver.<itself>.`` and uses consumer
  groups ``bus-sub.<itself>.`` (the subscriber SDK's naming);
* nobody else reads ``bus.agencies`` (webhook secrets), ``bus.audit``, ``state.*`` or another
  agency's topics.

Each bus service has a principal of its own (``User:bus.<service>``) holding what its code
uses and nothing more. Service principals contain a dot, which agency ids cannot
(``[a-z0-9-]``), so an agency can never be given a service's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from bus.directory.model import AgencyEntry, Role
from bus.event.topics import SystemTopic, agency_id
from bus.policy.agreement import Agreement

__all__ = [
    "SERVICES",
    "AclRule",
    "Operation",
    "PatternType",
    "Permission",
    "ResourceType",
    "Service",
    "agency_principal",
    "allowed",
    "directory_publishers",
    "principals",
    "rules_for",
]


class ResourceType(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    CLUSTER = "cluster"


class PatternType(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(StrEnum):
    """Kafka ACL operations, spelled as ``kafka-acls.sh`` and Strimzi spell them."""

    ALL = "All"
    READ = "Read"
    WRITE = "Write"
    CREATE = "Create"
    DELETE = "Delete"
    ALTER = "Alter"
    DESCRIBE = "Describe"
    CLUSTER_ACTION = "ClusterAction"
    DESCRIBE_CONFIGS = "DescribeConfigs"
    ALTER_CONFIGS = "AlterConfigs"
    IDEMPOTENT_WRITE = "IdempotentWrite"


class Permission(StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"


CLUSTER_NAME: Final = "kafka-cluster"  # Kafka's one cluster resource name


@dataclass(frozen=True, order=True)
class AclRule:
    """One ACL binding: principal, resource pattern, operation, allow or deny (host is always ``*``)."""

    principal: str
    resource_type: ResourceType
    pattern: PatternType
    name: str
    operation: Operation
    permission: Permission = Permission.ALLOW
    why: str = field(default="", compare=False)


@dataclass(frozen=True)
class Service:
    """A bus component that talks to Kafka under its own principal."""

    name: str
    command: str
    group: str | None = None

    @property
    def principal(self) -> str:
        return f"User:bus.{self.name}"


# Group ids are the components' defaults (a test pins them against the settings classes).
PROCESSOR = Service("processor", "bus processor run", group="bus-processor")
REGISTRY = Service("registry", "bus registry serve")
GATEWAY = Service("gateway", "bus gateway serve")
WEBHOOKS = Service("webhooks", "bus webhooks run", group="bus-webhooks")
ARCHIVER = Service("audit-archiver", "bus audit archive", group="bus-audit-archiver")
OPERATOR = Service("operator", "the bus CLI run by an operator (agencies, agreements, topics, dlq, backfill)")
SERVICES: Final = (PROCESSOR, REGISTRY, GATEWAY, WEBHOOKS, ARCHIVER, OPERATOR)
SUBSCRIBER_GROUP_PREFIX: Final = "bus-sub."
AUDIT_READS: Final = SystemTopic.AUDIT_READS.value  # the gateway's read log

_T, _G = ResourceType.TOPIC, ResourceType.GROUP
_LIT, _PRE = PatternType.LITERAL, PatternType.PREFIXED
_R, _W, _C, _D = Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE


def agency_principal(agency: str) -> str:
    """``User:<agency-id>``: the SCRAM user name of an agency is its directory id."""
    return f"User:{agency_id(agency)}"


def directory_publishers(entries: Iterable[AgencyEntry]) -> set[str]:
    """Agencies that can publish signed changes: role ``agency`` with a registered public key.

    Portal, auditor and operator entries reach the bus over HTTP only and get no broker rights.
    """
    return {e.id for e in entries if e.role is Role.AGENCY and e.public_keys}


def rules_for(agreements: Iterable[Agreement], publishers: Iterable[str] = ()) -> list[AclRule]:
    """Every ACL the cluster needs, sorted and without duplicates.

    Publishers are the agreements' providers plus ``publishers`` (e.g. directory agencies with
    a signing key, or providers whose data waits for a future agreement); consumers are the
    agreements' consumers.
    """
    agreements = list(agreements)
    providers = {a.provider for a in agreements} | {agency_id(p) for p in publishers}
    consumers = {a.consumer for a in agreements}
    rules = _service_rules()
    for provider in sorted(providers):
        who = agency_principal(provider)
        rules += _rules(who, _T, _PRE, f"ingress.{provider}.", [_W], "publish its own record changes")
    for consumer in sorted(consumers):
        who = agency_principal(consumer)
        named = sorted(a.id for a in agreements if a.consumer == consumer)
        why = f"receive deliveries of its agreements ({', '.join(named)})"
        rules += _rules(who, _T, _PRE, f"deliver.{consumer}.", [_R], why)
        rules += _rules(who, _G, _PRE, f"{SUBSCRIBER_GROUP_PREFIX}{consumer}.", [_R], "subscriber SDK groups")
        rules += _rules(
            who, _T, _LIT, SystemTopic.AGREEMENTS, [_R], "its agreements' legal basis (agreements are public)"
        )
    return sorted(set(rules))


def principals(rules: Iterable[AclRule]) -> list[str]:
    """The distinct principals of a rule set, in order."""
    return sorted({r.principal for r in rules})


def _rules(
    principal: str,
    rtype: ResourceType,
    pattern: PatternType,
    name: str,
    operations: Sequence[Operation],
    why: str,
    permission: Permission = Permission.ALLOW,
) -> list[AclRule]:
    return [AclRule(principal, rtype, pattern, str(name), op, permission, why) for op in operations]


def _service_rules() -> list[AclRule]:
    """What each bus service's code uses (read off its consumers, producers and ensure_topics)."""
    p, r, g, wh, a, op = (s.principal for s in SERVICES)
    st = SystemTopic
    rules: list[AclRule] = []
    # processor: ingress.* → state/deliver/dlq/bus.audit; follows the control topics; ensure_topics
    # lists every system topic at start-up, so it must at least see each of them.
    rules += _rules(p, _T, _PRE, "ingress.", [_R], "consume every provider's changes")
    rules += _rules(p, _T, _PRE, "state.", [_R, _W, _C], "per-key state: rebuilt on rebalance, kept current")
    rules += _rules(p, _T, _PRE, "deliver.", [_W, _C], "deliveries; a new agreement creates its topic")
    rules += _rules(p, _T, _PRE, "dlq.", [_W, _C], "dead letters of every provider")
    rules += _rules(
        p, _T, _PRE, "dlq.webhook.", [Operation.ALL], "webhook parking is the dispatcher's", Permission.DENY
    )
    rules += _rules(p, _T, _LIT, st.AUDIT, [_W], "one audit entry per decision")
    rules += _rules(p, _T, _LIT, st.BACKFILL, [_R, _W], "backfill requests and progress")
    for topic in (st.AGENCIES, st.AGREEMENTS, st.CONSENT):
        rules += _rules(p, _T, _LIT, topic, [_R], "followed view: keys, agreements, consent")
    for topic in (st.AUDIT_CHECKPOINTS, st.SCHEMAS, st.AUDIT_READS):
        rules += _rules(p, _T, _LIT, topic, [_D], "ensure_topics checks that every system topic exists")
    rules += _rules(p, _G, _LIT, _group(PROCESSOR), [_R], "the workers' consumer group")
    # registry: the bus.schemas log and the directory (write tokens)
    rules += _rules(r, _T, _LIT, st.SCHEMAS, [_R, _W], "the schema log it serves and appends to")
    rules += _rules(r, _T, _LIT, st.AGENCIES, [_R], "tokens that may register schemas")
    # gateway: publishes for agencies that post over HTTP (it signs with its own key), the
    # citizen's consent wallet, and a record of every tracker read
    rules += _rules(g, _T, _PRE, "ingress.", [_W], "HTTP ingestion on behalf of agencies")
    rules += _rules(
        g, _T, _PRE, "ingress.", [Operation.DESCRIBE_CONFIGS], "max.message.bytes: refuse a record too large"
    )
    rules += _rules(g, _T, _LIT, st.AGENCIES, [_R], "tokens and agency ids of callers")
    rules += _rules(g, _T, _LIT, st.CONSENT, [_R, _W], "consent wallet: current state and changes")
    rules += _rules(g, _T, _LIT, AUDIT_READS, [_W], "who looked at a citizen's tracker")
    # webhook dispatcher: deliveries → POSTs; parks what a receiver cannot take
    rules += _rules(wh, _T, _PRE, "deliver.", [_R], "deliveries of agencies with a webhook")
    rules += _rules(wh, _T, _PRE, "dlq.webhook.", [_W, _C], "parked webhook deliveries")
    rules += _rules(wh, _T, _LIT, st.AGENCIES, [_R], "webhook URLs and secrets")
    rules += _rules(wh, _T, _LIT, st.AGREEMENTS, [_R], "legal basis of each delivery")
    rules += _rules(wh, _G, _LIT, _group(WEBHOOKS), [_R], "the dispatchers' consumer group")
    # audit archiver: bus.audit → SQL, signed chain heads back to Kafka
    rules += _rules(a, _T, _LIT, st.AUDIT, [_R], "entries to archive")
    rules += _rules(a, _T, _LIT, st.AUDIT_CHECKPOINTS, [_W], "signed chain heads")
    rules += _rules(a, _G, _LIT, _group(ARCHIVER), [_R], "committed offsets, for lag monitoring")
    # operator CLI (DESIGN §5a: everything) minus Delete/Alter, which stay with the cluster admin
    for prefix in ("ingress.", "deliver.", "state.", "dlq.", "bus."):
        rules += _rules(
            op, _T, _PRE, prefix, [_R, _W, _C], "operator commands: apply, replay, backfill, inspect"
        )
    return rules


def _group(service: Service) -> str:
    assert service.group is not None
    return service.group


# --- evaluation ---------------------------------------------------------------------------------

# Kafka: an ALLOW for any of these operations also allows Describe (DescribeConfigs for *Configs).
_IMPLIES_DESCRIBE: Final = {Operation.READ, Operation.WRITE, Operation.DELETE, Operation.ALTER}
_IMPLIES_DESCRIBE_CONFIGS: Final = {Operation.ALTER_CONFIGS}


def allowed(
    rules: Iterable[AclRule],
    principal: str,
    operation: Operation,
    resource_type: ResourceType,
    name: str,
    *,
    super_users: Iterable[str] = (),
) -> bool:
    """Whether Kafka's ``StandardAuthorizer`` (allow.everyone.if.no.acl.found=false) would allow it.

    Deny by default; a binding matches by principal (or ``User:*``), resource type, and a literal
    name (or ``*``) or a prefix of the name; any matching DENY wins over every ALLOW; an ALLOW of
    Read, Write, Delete or Alter implies Describe, of AlterConfigs implies DescribeConfigs.
    """
    if operation is Operation.ALL:
        raise ValueError("ask about one concrete operation, not All")
    if principal in set(super_users):
        return True
    matching = [r for r in rules if _matches(r, principal, resource_type, name)]
    if any(r.permission is Permission.DENY and r.operation in (operation, Operation.ALL) for r in matching):
        return False
    granted = {r.operation for r in matching if r.permission is Permission.ALLOW}
    if Operation.ALL in granted or operation in granted:
        return True
    if operation is Operation.DESCRIBE:
        return bool(granted & _IMPLIES_DESCRIBE)
    if operation is Operation.DESCRIBE_CONFIGS:
        return bool(granted & _IMPLIES_DESCRIBE_CONFIGS)
    return False


def _matches(rule: AclRule, principal: str, resource_type: ResourceType, name: str) -> bool:
    if rule.principal not in (principal, "User:*") or rule.resource_type is not resource_type:
        return False
    if rule.pattern is PatternType.PREFIXED:
        return name.startswith(rule.name)
    return rule.name in (name, "*")
