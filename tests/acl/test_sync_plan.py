"""Reconciling: the bus's bindings converge on the rules; another application's are never touched."""

from __future__ import annotations

import datetime as dt

from bus.acl.rules import OPERATOR, PROCESSOR, AclRule, Operation, PatternType, ResourceType, rules_for
from bus.acl.sync import desired_rules, plan
from bus.directory.model import AgencyEntry
from bus.directory.view import AgencyDirectory
from bus.policy.agreement import Agreement

T, LIT = ResourceType.TOPIC, PatternType.LITERAL
TODAY = dt.date(2026, 12, 6)


def _agreement(valid_until: dt.date | None) -> Agreement:
    return Agreement(
        id="civil-to-tax",
        provider="civil",
        consumer="tax",
        record_type="person",
        fields=("iin",),
        purpose="tax",
        legal_basis="Tax Code, Art. 24",
        valid_from=dt.date(2026, 1, 1),
        valid_until=valid_until,
    )


def test_missing_rules_are_added_and_stale_bus_rules_removed() -> None:
    # given the rules of one agreement, and a broker holding a grant of an agreement since revoked
    desired = rules_for([_agreement(None)])
    stale = AclRule("User:police", T, LIT, "deliver.police.civil-to-police", Operation.READ)
    # when planned against it
    change = plan(desired, [stale])
    # then every desired rule is added and the stale one removed
    assert change.add == frozenset(desired)
    assert change.remove == frozenset({stale})


def test_another_applications_bindings_are_left_alone() -> None:
    # given bindings outside the bus's namespace, even one held by a bus principal
    foreign = [
        AclRule("User:billing", T, LIT, "invoices", Operation.READ),
        AclRule(OPERATOR.principal, T, PatternType.PREFIXED, "test", Operation.ALL),
        AclRule("User:billing", ResourceType.CLUSTER, LIT, "kafka-cluster", Operation.ALTER),
    ]
    # when planned / then none of them is removed
    assert not plan(rules_for([]), foreign).remove & set(foreign)


def test_a_bus_service_holding_a_cluster_right_it_should_not_loses_it() -> None:
    extra = AclRule(PROCESSOR.principal, ResourceType.CLUSTER, LIT, "kafka-cluster", Operation.ALTER)
    assert extra in plan(rules_for([]), [extra]).remove


def test_an_agreement_grants_its_topic_through_its_last_day_and_not_after() -> None:
    # given an agreement whose last day in force is today
    agreement = _agreement(TODAY)
    directory = AgencyDirectory()
    grant = AclRule("User:tax", T, LIT, agreement.delivery_topic, Operation.READ)
    # then today's rules grant its consumer the topic, tomorrow's do not
    assert grant in desired_rules([agreement], directory, TODAY)
    assert grant not in desired_rules([agreement], directory, TODAY + dt.timedelta(days=1))


def test_a_directory_agency_without_agreements_reads_only_the_public_agreements_and_writes_receipts() -> None:
    directory = AgencyDirectory()
    entry = AgencyEntry(id="akimat", name="Akimat")
    directory.apply(_Record(entry.id.encode(), entry.model_dump_json().encode()))
    mine = [r for r in desired_rules([], directory, TODAY) if r.principal == "User:akimat"]
    assert sorted((r.name, r.operation) for r in mine) == [
        ("bus.agreements", Operation.READ),
        ("bus.receipts", Operation.WRITE),
    ]


class _Record:
    def __init__(self, key: bytes, value: bytes) -> None:
        self.key, self.value, self.offset = key, value, 0
