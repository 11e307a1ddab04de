"""Broker ACLs derived from the applied agreements, and an evaluator with Kafka's semantics.

Production brokers deny by default (DESIGN §7); these rules are the only permissions anyone
holds besides the cluster's super users. Agencies get exactly their own prefixes:

* a publisher writes ``ingress.<itself>.`` (prefixed, with the trailing dot, so ``tax`` never
  matches ``ingress.tax-office.*``);
* a consumer reads the delivery topic of each agreement in force that names it (literal names, so
  revoking one agreement takes exactly its topic away) and uses consumer groups ``bus-sub.<itself>.``
  (the subscriber SDK's naming);
* nobody else reads ``bus.agencies`` (webhook secrets), ``bus.audit``, ``state.*`` or another
  agency's topics.

Each bus service has a principal of its own (``User:bus.<service>``) holding what its code
uses and nothing more. Service principals contain a dot, which agency ids cannot
(``[a-z0-9-]``), so an agency can never be given a service's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
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
    "directory_agencies",
    "directory_publishers",
    "in_force_on",
    "principals",
    "rules_for",
]


class ResourceType(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    CLUSTER = "cluster"
    TRANSACTIONAL_ID = "transactional-id"  # kafka-acls.sh's spelling (--transactional-id)


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
    def user(self) -> str:
        """Its SCRAM user name (a dot, which agency ids cannot contain)."""
        return f"bus.{self.name}"

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


# Group ids are the components' defaults (a test pins them against the settings classes); each
# service may use any group that starts with its default, so several deployments (or tests) of one
# service can keep separate offsets.
PROCESSOR = Service("processor", "bus processor run", group="bus-processor")
REGISTRY = Service("registry", "bus registry serve")
GATEWAY = Service("gateway", "bus gateway serve")
WEBHOOKS = Service("webhooks", "bus webhooks run", group="bus-webhooks")
ARCHIVER = Service("audit-archiver", "bus audit archive", group="bus-audit-archiver")
WALLET = Service("wallet", "the wallet materialiser of bus up", group="bus-wallet")
AUDIT_VERIFY = Service("audit-verify", "the audit chain watch of bus up (bus audit verify)")
SCORECARD = Service("scorecard", "the scorecard gauges of bus up")
ACL_SYNC = Service("acl-sync", "bus acl sync: broker ACLs follow the agreements and their validity")
OPERATOR = Service("operator", "the bus CLI run by an operator (agencies, agreements, topics, dlq, backfill)")
SERVICES: Final = (
    PROCESSOR,
    REGISTRY,
    GATEWAY,
    WEBHOOKS,
    ARCHIVER,
    WALLET,
    AUDIT_VERIFY,
    SCORECARD,
    ACL_SYNC,
    OPERATOR,
)
SUBSCRIBER_GROUP_PREFIX: Final = "bus-sub."
AUDIT_READS: Final = SystemTopic.AUDIT_READS.value  # the gateway's read log

_T, _G, _CL = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER
_TX = ResourceType.TRANSACTIONAL_ID
_LIT, _PRE = PatternType.LITERAL, PatternType.PREFIXED
_R, _W, _C, _D = Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE


def agency_principal(agency: str) -> str:
    """``User:<agency-id>``: the SCRAM user name of an agency is its directory id."""
    return f"User:{agency_id(agency)}"


def directory_agencies(entries: Iterable[AgencyEntry]) -> set[str]:
    """Entries of role ``agency``: those with a Kafka login (portal, auditor reach the bus over HTTP)."""
    return {e.id for e in entries if e.role is Role.AGENCY}


def directory_publishers(entries: Iterable[AgencyEntry]) -> set[str]:
    """Agencies that can publish signed changes: role ``agency`` with a registered public key.

    Portal, auditor and operator entries reach the bus over HTTP only and get no broker rights.
    """
    return {e.id for e in entries if e.role is Role.AGENCY and e.public_keys}


def rules_for(
    agreements: Iterable[Agreement],
    publishers: Iterable[str] = (),
    *,
    agencies: Iterable[str] = (),
    today: date | None = None,
) -> list[AclRule]:
    """Every ACL the cluster needs, sorted and without duplicates.

    Publishers are the agreements' providers plus ``publishers`` (e.g. directory agencies with
    a signing key, or providers whose data waits for a future agreement); consumers are the
    agreements' consumers. Given ``today`` (a UTC day, as the processor decides validity), only an
    agreement in force that day lets its consumer read. Every agency (these and ``agencies``, the
    directory's) reads ``bus.agreements``: agreements are public, and the subscriber SDK names each
    delivery's legal basis from them.
    """
    agreements = list(agreements)
    providers = {a.provider for a in agreements} | {agency_id(p) for p in publishers}
    in_force = [a for a in agreements if today is None or in_force_on(a, today)]
    consumers = {a.consumer for a in in_force}
    rules = _service_rules()
    for provider in sorted(providers):
        who = agency_principal(provider)
        rules += _rules(who, _T, _PRE, f"ingress.{provider}.", [_W], "publish its own record changes")
    for agreement in in_force:  # one topic per agreement: revoking one leaves the others readable
        why = f"deliveries under {agreement.id} ({agreement.legal_basis})"
        rules += _rules(agency_principal(agreement.consumer), _T, _LIT, agreement.delivery_topic, [_R], why)
    for consumer in sorted(consumers):
        who = agency_principal(consumer)
        rules += _rules(who, _G, _PRE, f"{SUBSCRIBER_GROUP_PREFIX}{consumer}.", [_R], "subscriber SDK groups")
    for agency in sorted(providers | consumers | {agency_id(a) for a in agencies}):
        rules += _rules(
            agency_principal(agency), _T, _LIT, SystemTopic.AGREEMENTS, [_R], "agreements are public"
        )
        rules += _rules(
            agency_principal(agency), _T, _LIT, SystemTopic.RECEIPTS, [_W],
            "receipts of its updates (the archive keeps only those its own key signed)",
        )  # fmt: skip
    return sorted(set(rules))


def in_force_on(agreement: Agreement, day: date) -> bool:
    return agreement.valid_from <= day and (agreement.valid_until is None or day <= agreement.valid_until)


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
    """What each bus service's code uses (read off its consumers, producers and ensure_topics;
    proven by the test suite, which runs every component under its own principal)."""
    st = SystemTopic
    p, r, g, wh, a = (s.principal for s in (PROCESSOR, REGISTRY, GATEWAY, WEBHOOKS, ARCHIVER))
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
    for topic in (st.AUDIT_CHECKPOINTS, st.SCHEMAS, st.AUDIT_READS, st.RECEIPTS):
        rules += _rules(p, _T, _LIT, topic, [_D], "ensure_topics checks that every system topic exists")
    rules += _rules(p, _G, _PRE, _group(PROCESSOR), [_R], "the workers' consumer group")
    rules += _rules(
        p, _TX, _PRE, _group(PROCESSOR), [_W, _D], "one transaction per batch: outputs and offsets together"
    )
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
    rules += _rules(g, _T, _LIT, st.AGREEMENTS, [_R], "the catalogue and the tracker's legal bases")
    rules += _rules(g, _T, _LIT, st.CONSENT, [_R, _W], "consent wallet: current state and changes")
    rules += _rules(g, _T, _LIT, AUDIT_READS, [_W], "who looked at a citizen's tracker")
    # webhook dispatcher: deliveries → POSTs; parks what a receiver cannot take
    rules += _rules(wh, _T, _PRE, "deliver.", [_R], "deliveries of agencies with a webhook")
    rules += _rules(wh, _T, _PRE, "dlq.webhook.", [_W, _C], "parked webhook deliveries")
    rules += _rules(wh, _T, _LIT, st.AGENCIES, [_R], "webhook URLs and secrets")
    rules += _rules(wh, _T, _LIT, st.AGREEMENTS, [_R], "legal basis of each delivery")
    rules += _rules(wh, _G, _PRE, _group(WEBHOOKS), [_R], "the dispatchers' consumer group")
    rules += _rules(wh, _T, _LIT, st.RECEIPTS, [_W], "receipts of what receivers accepted (2xx)")
    # audit archiver: bus.audit → SQL, signed chain heads back to Kafka
    rules += _rules(a, _T, _LIT, st.AUDIT, [_R], "entries to archive")
    rules += _rules(a, _T, _LIT, st.AUDIT_CHECKPOINTS, [_W], "signed chain heads")
    rules += _rules(a, _T, _LIT, st.RECEIPTS, [_R], "receipts to verify and archive beside the entries")
    rules += _rules(a, _G, _PRE, _group(ARCHIVER), [_R], "committed offsets, for lag monitoring")
    return rules + _companion_rules() + _operator_rules()


def _companion_rules() -> list[AclRule]:
    """The smaller components of ``bus up``: wallet, chain watch, scorecard and the ACL sync."""
    st = SystemTopic
    w, v, sc, sync = (s.principal for s in (WALLET, AUDIT_VERIFY, SCORECARD, ACL_SYNC))
    rules: list[AclRule] = []
    # wallet materialiser: the citizen wallet's deliveries, kept per citizen under consent
    rules += _rules(w, _T, _PRE, "deliver.wallet.", [_R], "deliveries to the citizen wallet")
    rules += _rules(w, _G, _PRE, _group(WALLET), [_R], "the materialiser's consumer group")
    for topic in (st.AGREEMENTS, st.CONSENT):
        rules += _rules(w, _T, _LIT, topic, [_R], "the wallet's agreements and the citizens' consent")
    # chain watch: re-verifies the archive against the signed checkpoints
    rules += _rules(v, _T, _LIT, st.AUDIT_CHECKPOINTS, [_R], "signed chain heads to verify against")
    rules += _rules(
        v, _T, _LIT, st.AUDIT, [_D], "the audit topic's end offsets, for what is not archived yet"
    )
    # scorecard: agency names and agreements beside the archive
    for topic in (st.AGENCIES, st.AGREEMENTS):
        rules += _rules(sc, _T, _LIT, topic, [_R], "agency names and agreements of the scorecard")
    # ACL sync: reads what the ACLs derive from; writes ACLs; creates each agreement's delivery topic
    for topic in (st.AGENCIES, st.AGREEMENTS):
        rules += _rules(sync, _T, _LIT, topic, [_R], "agreements and publishers the ACLs derive from")
    rules += _rules(
        sync, _T, _PRE, "deliver.", [_C, _D], "a new agreement's delivery topic exists before its grant"
    )
    rules += _rules(sync, _CL, _LIT, CLUSTER_NAME, [_D, Operation.ALTER], "list, add and remove ACLs")
    return rules


def _operator_rules() -> list[AclRule]:
    """The operator CLI (DESIGN §5a: everything) minus deleting topics and changing broker configs,
    which stay with the cluster's administrator."""
    op = OPERATOR.principal
    rules: list[AclRule] = []
    for prefix in ("ingress.", "deliver.", "state.", "dlq.", "bus."):
        rules += _rules(
            op, _T, _PRE, prefix, [_R, _W, _C], "operator commands: apply, replay, backfill, inspect"
        )
    rules += _rules(op, _T, _LIT, "*", [Operation.DESCRIBE_CONFIGS], "inspect any topic's configuration")
    rules += _rules(op, _G, _LIT, "*", [_R], "inspect and reset any group's offsets (lag, replay)")
    rules += _rules(
        op,
        _CL,
        _LIT,
        CLUSTER_NAME,
        [_D, Operation.ALTER],
        "agencies' SCRAM users and ACLs (bus agencies, bus acl)",
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
