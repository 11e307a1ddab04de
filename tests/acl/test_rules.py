"""The generated ACLs, evaluated with Kafka's semantics: nobody reads or writes what no agreement gives."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.acl.rules import (
    ACL_SYNC,
    ARCHIVER,
    AUDIT_READS,
    GATEWAY,
    OPERATOR,
    PROCESSOR,
    REGISTRY,
    SCORECARD,
    SERVICES,
    WALLET,
    WEBHOOKS,
    AclRule,
    Operation,
    PatternType,
    Permission,
    ResourceType,
    agency_principal,
    allowed,
    directory_publishers,
    rules_for,
)
from bus.directory.model import AgencyEntry, Role
from bus.errors import TopicNameError
from bus.event import topics
from bus.policy.agreement import Agreement, load_agreements

REPO = Path(__file__).resolve().parents[2]
AGREEMENTS = load_agreements(REPO / "deploy" / "agreements")
PUBLISHERS = ["business-registry", "civil-registry", "land-registry", "vehicle-registry"]
RULES = rules_for(AGREEMENTS, PUBLISHERS)
T, G = ResourceType.TOPIC, ResourceType.GROUP
R, W, C, D = Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE

AGENCIES = sorted({a.provider for a in AGREEMENTS} | {a.consumer for a in AGREEMENTS} | set(PUBLISHERS))
TYPES = sorted({a.record_type for a in AGREEMENTS} | {"legal_entity", "address"})
AGREEMENT_IDS = sorted(a.id for a in AGREEMENTS)
SYSTEM = [t.value for t in topics.SystemTopic] + [AUDIT_READS]


def _universe() -> list[str]:
    """Every topic that exists or could exist for these agencies, types and agreement ids."""
    names = list(SYSTEM)
    for agency in AGENCIES:
        names += [topics.dlq(agency), topics.dlq_webhook(agency)]
        names += [topics.ingress(agency, t) for t in TYPES] + [topics.state(agency, t) for t in TYPES]
        names += [topics.deliver(agency, a) for a in AGREEMENT_IDS]
    return names


UNIVERSE = _universe()


def _ref(name: str) -> topics.TopicRef:
    return topics.parse(name)


def _can(principal: str, operation: Operation, name: str, rtype: ResourceType = T) -> bool:
    return allowed(RULES, principal, operation, rtype, name)


# --- the demo agreements -------------------------------------------------------------------------


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_reads_a_delivery_topic_only_when_an_agreement_names_it_as_consumer(agency: str) -> None:
    who = agency_principal(agency)
    for agreement in AGREEMENTS:  # the delivery topics that exist
        assert _can(who, R, agreement.delivery_topic) == (agreement.consumer == agency), agreement.id
    mine = {a.id for a in AGREEMENTS if a.consumer == agency}
    for name in UNIVERSE:  # and every one that could exist
        ref = _ref(name)
        if name == topics.SystemTopic.AGREEMENTS:
            assert _can(who, R, name), "every agency reads the (public) agreements"
        elif _can(who, R, name):
            assert ref.kind is topics.TopicKind.DELIVER, name
            assert ref.agency == agency, name
            assert mine, name


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_writes_only_its_own_ingress_topics_and_receipts_and_creates_nothing(agency: str) -> None:
    who = agency_principal(agency)
    publishes = agency in PUBLISHERS or any(a.provider == agency for a in AGREEMENTS)
    for name in UNIVERSE:
        ref = _ref(name)
        own_ingress = publishes and ref.kind is topics.TopicKind.INGRESS and ref.agency == agency
        receipts = name == topics.SystemTopic.RECEIPTS  # its receipts; the archive keeps only those it signed
        assert _can(who, W, name) == (own_ingress or receipts), name
        assert not _can(who, C, name), name
        assert not _can(who, Operation.DELETE, name), name
        assert not _can(who, Operation.ALTER_CONFIGS, name), name


@pytest.mark.parametrize("agency", AGENCIES)
def test_no_agency_reads_audit_directory_state_or_anything_of_another_agency(agency: str) -> None:
    who = agency_principal(agency)
    for name in SYSTEM:  # bus.agencies holds webhook secrets; bus.audit every decision
        if name == topics.SystemTopic.AGREEMENTS:
            continue  # public legal documents, read by consumers (previous test)
        assert not _can(who, R, name), name
        if name != topics.SystemTopic.RECEIPTS:  # written, so described (Kafka: Write implies Describe)
            assert not _can(who, D, name), name
    for name in UNIVERSE:
        ref = _ref(name)
        if ref.kind in (topics.TopicKind.STATE, topics.TopicKind.DLQ, topics.TopicKind.WEBHOOK_DLQ):
            assert not _can(who, R, name), name
        if ref.agency is not None and ref.agency != agency:
            for operation in Operation:
                if operation is not Operation.ALL:
                    assert not _can(who, operation, name), (name, operation)


@pytest.mark.parametrize("agency", AGENCIES)
def test_an_agency_joins_only_its_own_subscriber_groups(agency: str) -> None:
    who = agency_principal(agency)
    is_consumer = any(a.consumer == agency for a in AGREEMENTS)
    for other, agreement in itertools.product(AGENCIES, AGREEMENT_IDS):
        assert _can(who, R, f"bus-sub.{other}.{agreement}", G) == (other == agency and is_consumer)
    for service in SERVICES:
        if service.group:
            assert not _can(who, R, service.group, G)


def test_only_bus_components_read_the_directory_with_its_webhook_secrets() -> None:
    readers = {p for p in {r.principal for r in RULES} if _can(p, R, topics.SystemTopic.AGENCIES)}
    assert readers == {
        s.principal for s in (PROCESSOR, REGISTRY, GATEWAY, WEBHOOKS, SCORECARD, ACL_SYNC, OPERATOR)
    }


def test_the_processor_holds_what_its_loop_uses_and_no_more() -> None:
    p = PROCESSOR.principal
    assert _can(p, R, "ingress.civil-registry.person")
    assert _can(p, R, PROCESSOR.group or "", G)
    for name in ("deliver.tax.civil-to-tax-taxpayer", "state.civil-registry.person", "dlq.civil-registry"):
        assert _can(p, W, name), name
        assert _can(p, C, name), name
    assert _can(p, R, "state.civil-registry.person")  # rebuilt after a rebalance
    assert _can(p, W, "bus.audit")
    assert _can(p, W, "bus.backfill")
    for name in ("bus.agencies", "bus.agreements", "bus.consent", "bus.backfill"):
        assert _can(p, R, name), name
    for name in SYSTEM:  # ensure_topics lists every system topic at start-up
        if name != AUDIT_READS:
            assert _can(p, D, name), name
    assert not _can(p, W, "dlq.webhook.tax"), "the DENY keeps webhook parking to the dispatcher"
    assert _can(p, W, "dlq.webhook"), "an agency called 'webhook' still has a DLQ"
    assert not _can(p, W, "ingress.civil-registry.person")
    assert not _can(p, R, "deliver.tax.civil-to-tax-taxpayer")
    assert not _can(p, R, "bus.audit")
    assert not _can(p, R, "bus-sub.tax.x", G)


def test_the_other_services_hold_only_their_own_topics() -> None:
    a, wh, g, r = ARCHIVER.principal, WEBHOOKS.principal, GATEWAY.principal, REGISTRY.principal
    assert _can(a, R, "bus.audit")
    assert _can(a, W, "bus.audit.checkpoints")
    assert not _can(a, R, "bus.agencies")
    assert not _can(a, W, "bus.audit")
    assert _can(wh, R, "deliver.tax.civil-to-tax-taxpayer")
    assert _can(wh, W, "dlq.webhook.tax")
    assert not _can(wh, W, "deliver.tax.civil-to-tax-taxpayer")
    assert not _can(wh, R, "ingress.tax.person")
    assert _can(g, W, "ingress.tax.person")
    assert not _can(g, R, "ingress.tax.person")
    assert not _can(g, R, "deliver.tax.civil-to-tax-taxpayer")
    assert not _can(g, R, "bus.audit")
    assert _can(r, W, "bus.schemas")
    assert not _can(r, W, "bus.agencies")
    for service in (a, wh, g, r):
        assert not _can(service, R, "state.civil-registry.person")


def test_the_gateway_may_read_the_record_size_limit_of_ingress_topics_only() -> None:
    # given the gateway's principal / when it asks for topic configs (max.message.bytes)
    g = GATEWAY.principal
    # then it may for ingress topics, which it checks each record against, and for nothing else
    assert _can(g, Operation.DESCRIBE_CONFIGS, "ingress.tax.person")
    assert not _can(g, Operation.DESCRIBE_CONFIGS, "deliver.tax.civil-to-tax-taxpayer")


def test_the_service_groups_are_the_components_defaults() -> None:
    from bus.audit.archive import ArchiveSettings
    from bus.gateway.reads import READS_TOPIC
    from bus.processor.service import ProcessorSettings
    from bus.wallet.materialise import WalletSettings
    from bus.webhooks.dispatcher import WebhookSettings

    assert PROCESSOR.group == ProcessorSettings().group_id
    assert WEBHOOKS.group == WebhookSettings().group_id
    assert ARCHIVER.group == ArchiveSettings().group_id
    assert WALLET.group == WalletSettings().group_id
    assert AUDIT_READS == READS_TOPIC


def test_service_principals_cannot_collide_with_agency_ids() -> None:
    for service in SERVICES:
        with pytest.raises(TopicNameError):
            topics.agency_id(service.principal.removeprefix("User:"))


def test_directory_publishers_are_agencies_with_a_signing_key() -> None:
    entries = [
        AgencyEntry(id="civil-registry", name="c", public_keys={"k1": "x"}),
        AgencyEntry(id="tax", name="t"),
        AgencyEntry(id="portal", name="p", role=Role.PORTAL, public_keys={"k2": "y"}),
    ]
    assert directory_publishers(entries) == {"civil-registry"}


def test_a_bad_publisher_id_is_refused() -> None:
    with pytest.raises(TopicNameError):
        rules_for([], ["Tax Office"])


# --- Kafka's authorizer semantics ----------------------------------------------------------------


def _rule(
    name: str,
    op: Operation,
    pattern: PatternType = PatternType.LITERAL,
    *,
    principal: str = "User:a",
    permission: Permission = Permission.ALLOW,
) -> AclRule:
    return AclRule(principal, T, pattern, name, op, permission)


def test_deny_by_default() -> None:
    assert not allowed([], "User:a", R, T, "x")


def test_literal_and_prefixed_matching() -> None:
    rules = [_rule("t", R), _rule("p.", R, PatternType.PREFIXED)]
    assert allowed(rules, "User:a", R, T, "t")
    assert not allowed(rules, "User:a", R, T, "t2")
    assert allowed(rules, "User:a", R, T, "p.x")
    assert not allowed(rules, "User:a", R, T, "p")
    assert not allowed(rules, "User:b", R, T, "t")
    assert not allowed(rules, "User:a", R, G, "t")


def test_deny_beats_allow_and_all_covers_every_operation() -> None:
    rules = [
        _rule("p.", Operation.ALL, PatternType.PREFIXED),
        _rule("p.secret", R, permission=Permission.DENY),
    ]
    assert allowed(rules, "User:a", W, T, "p.secret")
    assert not allowed(rules, "User:a", R, T, "p.secret")
    assert allowed(rules, "User:a", R, T, "p.open")


def test_read_and_write_imply_describe_but_create_does_not() -> None:
    assert allowed([_rule("t", R)], "User:a", D, T, "t")
    assert allowed([_rule("t", W)], "User:a", D, T, "t")
    assert not allowed([_rule("t", C)], "User:a", D, T, "t")
    assert allowed([_rule("t", Operation.ALTER_CONFIGS)], "User:a", Operation.DESCRIBE_CONFIGS, T, "t")
    assert not allowed([_rule("t", R, permission=Permission.DENY), _rule("t", W)], "User:a", R, T, "t")


def test_wildcards_and_super_users() -> None:
    assert allowed([_rule("*", R, principal="User:*")], "User:z", R, T, "anything")
    assert allowed([], "User:admin", Operation.ALTER, T, "x", super_users=["User:admin"])
    with pytest.raises(ValueError, match="concrete"):
        allowed([], "User:a", Operation.ALL, T, "x")


# --- prefix confusion, for any agency ids --------------------------------------------------------

_slug = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,4}){0,2}", fullmatch=True)


@st.composite
def _confusable_world(draw: st.DrawFn) -> tuple[list[str], list[Agreement]]:
    """Agency ids where one is a prefix of another (``tax`` / ``tax-office`` / ``tax1``)."""
    base = draw(_slug)
    ids = sorted(
        {base, f"{base}-{draw(_slug)}", f"{base}{draw(st.from_regex(r'[a-z0-9]{1,3}', fullmatch=True))}"}
    )
    ids = sorted(set(ids) | set(draw(st.lists(_slug, max_size=3))))
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] != p[1]), max_size=6
        )
    )
    agreements = [
        Agreement(
            id=f"a{i}-{provider}",
            provider=provider,
            consumer=consumer,
            record_type="person",
            fields=("iin",),
            purpose="test",
            legal_basis="test",
            valid_from=date(2024, 1, 1),
        )
        for i, (provider, consumer) in enumerate(pairs)
    ]
    return ids, agreements


@settings(max_examples=60, deadline=None)
@given(_confusable_world())
def test_no_agency_id_reaches_another_through_a_shared_prefix(
    world: tuple[list[str], list[Agreement]],
) -> None:
    ids, agreements = world
    rules = rules_for(agreements, ids)
    for me, other in itertools.permutations(ids, 2):
        who = agency_principal(me)
        assert not allowed(rules, who, W, T, topics.ingress(other, "person"))
        for agreement in agreements:
            if agreement.consumer == other:
                assert not allowed(rules, who, R, T, agreement.delivery_topic)
                assert not allowed(rules, who, R, G, f"bus-sub.{other}.{agreement.id}")
        assert not allowed(rules, who, R, T, topics.deliver(other, "x"))
    for agreement in agreements:
        assert allowed(rules, agency_principal(agreement.consumer), R, T, agreement.delivery_topic)
        assert allowed(
            rules, agency_principal(agreement.provider), W, T, topics.ingress(agreement.provider, "person")
        )
