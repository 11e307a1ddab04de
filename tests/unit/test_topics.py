"""Topic naming rules of DESIGN §2."""

from __future__ import annotations

import pytest

from bus.errors import TopicNameError
from bus.event import topics
from bus.event.topics import SystemTopic, TopicKind


def test_builders_follow_design_names() -> None:
    assert topics.ingress("civil-registry", "person") == "ingress.civil-registry.person"
    assert topics.deliver("tax", "civil-to-tax") == "deliver.tax.civil-to-tax"
    assert topics.state("land-registry", "land_parcel") == "state.land-registry.land_parcel"
    assert topics.dlq("civil-registry") == "dlq.civil-registry"
    assert topics.dlq_webhook("tax") == "dlq.webhook.tax"


@pytest.mark.parametrize(
    ("name", "kind", "agency"),
    [
        ("ingress.civil-registry.person", TopicKind.INGRESS, "civil-registry"),
        ("deliver.tax.civil-to-tax", TopicKind.DELIVER, "tax"),
        ("state.civil-registry.person", TopicKind.STATE, "civil-registry"),
        ("dlq.civil-registry", TopicKind.DLQ, "civil-registry"),
        ("dlq.webhook.tax", TopicKind.WEBHOOK_DLQ, "tax"),
        ("dlq.webhook", TopicKind.DLQ, "webhook"),
        ("bus.audit", TopicKind.SYSTEM, None),
    ],
)
def test_parse_recognises_each_kind(name: str, kind: TopicKind, agency: str | None) -> None:
    ref = topics.parse(name)
    assert (ref.name, ref.kind, ref.agency) == (name, kind, agency)


def test_parse_round_trips_ingress_parts() -> None:
    ref = topics.parse("ingress.civil-registry.person")
    assert (ref.agency, ref.record_type) == ("civil-registry", "person")


def test_parse_round_trips_delivery_agreement() -> None:
    assert topics.parse("deliver.tax.civil-to-tax").agreement == "civil-to-tax"


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: topics.ingress("Civil_Registry", "person"), "agency id 'Civil_Registry'"),
        (lambda: topics.ingress("civil-registry", "Person"), "record type 'Person'"),
        (lambda: topics.ingress("-tax", "person"), "agency id '-tax'"),
        (lambda: topics.deliver("tax", "a.b"), "agreement id 'a.b'"),
        (lambda: topics.dlq(""), "agency id ''"),
        (lambda: topics.dlq_webhook("Tax"), "agency id 'Tax'"),
        (lambda: topics.parse("dlq.webhook.Tax"), "agency id 'Tax'"),
    ],
)
def test_invalid_part_is_named_in_the_error(call: object, named: str) -> None:
    with pytest.raises(TopicNameError, match=named) as info:
        call()  # type: ignore[operator]
    assert info.value.hint


@pytest.mark.parametrize(
    "name",
    ["ingress.tax", "foo.bar.baz", "deliver.tax.x.y", "bus.other", "", "dlq.other.tax", "dlq.webhook.a.b"],
)
def test_parse_rejects_names_outside_the_scheme(name: str) -> None:
    with pytest.raises(TopicNameError, match="not a bus topic name"):
        topics.parse(name)


def test_state_and_control_topics_are_compacted() -> None:
    assert topics.spec_for("state.civil-registry.person").configs["cleanup.policy"] == "compact"
    for topic in (
        SystemTopic.SCHEMAS,
        SystemTopic.AGENCIES,
        SystemTopic.AGREEMENTS,
        SystemTopic.CONSENT,
        SystemTopic.AUDIT_CHECKPOINTS,
    ):
        assert topics.spec_for(topic).configs["cleanup.policy"] == "compact"


def test_audit_is_kept_without_time_limit() -> None:
    spec = topics.spec_for("bus.audit")
    assert spec.configs == {"cleanup.policy": "delete", "retention.ms": "-1"}


def test_data_topics_share_partition_count_for_co_partitioning() -> None:
    counts = {
        topics.spec_for(n).partitions
        for n in ("ingress.civil-registry.person", "state.civil-registry.person", "deliver.tax.civil-to-tax")
    }
    assert counts == {topics.DATA_PARTITIONS}


def test_webhook_dead_letters_are_kept_like_provider_dead_letters() -> None:
    spec = topics.spec_for("dlq.webhook.tax")
    assert (spec.partitions, spec.configs) == (3, topics.spec_for("dlq.tax").configs)
