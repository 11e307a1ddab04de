"""Deliver or deny: one record change against every agreement (DESIGN §5)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.event.envelope import ChangeKind
from bus.policy.agreement import Agreement, ConsentMode
from bus.policy.compile import CompiledAgreement, compile_agreement
from bus.policy.consent import ConsentRecord, ConsentStatus, ConsentView, consent_key
from bus.policy.evaluate import Deliver, Deny, DenyReason, EventFacts, evaluate
from tests.people import person

REPO = Path(__file__).resolve().parents[2]
PERSON: dict[str, Any] = json.loads((REPO / "schemas" / "civil" / "person.avsc").read_text(encoding="utf-8"))
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
EVENT_TIME = datetime(2026, 6, 1, 8, 59, tzinfo=UTC)
CITIZEN = person(7, phone="+77010000007")
NAMES = ("iin", "surname", "given_name", "patronymic")
HEALTH_PURPOSE = "attachment to a primary care clinic"


def compiled(agreement_id: str, consumer: str, *fields: str, **overrides: Any) -> CompiledAgreement:
    values: dict[str, Any] = {
        "id": agreement_id,
        "provider": "civil-registry",
        "consumer": consumer,
        "record_type": "person",
        "fields": fields,
        "purpose": f"purpose of {agreement_id}",
        "legal_basis": "Law of the Republic of Kazakhstan on the matter",
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2027, 12, 31),
    }
    values.update(overrides)
    return compile_agreement(Agreement.model_validate(values), PERSON)


TAX = compiled("civil-to-tax", "tax", *NAMES, "registered_address")
HEALTH = compiled(
    "civil-to-health", "health", *NAMES, "birth_date", consent=ConsentMode.REQUIRED, purpose=HEALTH_PURPOSE
)
SOCIAL_EXPIRED = compiled("civil-to-social", "social-protection", "iin", valid_until=date(2026, 5, 31))
ADDRESS_ONLY = compiled("civil-to-post", "post", "registered_address")


def facts(kind: ChangeKind = ChangeKind.UPDATED, **overrides: Any) -> EventFacts:
    values: dict[str, Any] = {
        "provider": "civil-registry",
        "record_type": "person",
        "subject": CITIZEN["iin"],
        "kind": kind,
        "event_time": EVENT_TIME,
        "record": None if kind is ChangeKind.DELETED else CITIZEN,
        "changed": None,
        "previous": None,
    }
    values.update(overrides)
    return EventFacts(**values)


def consent(*changes: tuple[ConsentStatus, datetime], purpose: str = HEALTH_PURPOSE) -> ConsentView:
    view = ConsentView()
    key = consent_key(CITIZEN["iin"], "health", purpose)
    for status, time in changes:
        record = ConsentRecord(
            subject=CITIZEN["iin"], consumer="health", purpose=purpose, status=status, time=time
        )
        view.apply(key.encode(), record.model_dump_json().encode())
    return view


NO_CONSENT = ConsentView()


def decide(
    event: EventFacts,
    *active: CompiledAgreement,
    revoked: tuple[Agreement, ...] = (),
    consent_view: ConsentView = NO_CONSENT,
) -> list[Deliver | Deny]:
    return evaluate(event, active, revoked, consent_view, now=NOW)


def decided_under(decision: Deliver | Deny) -> Agreement:
    agreement = decision.compiled.agreement if isinstance(decision, Deliver) else decision.agreement
    assert agreement is not None
    return agreement


# --- one test per deny reason ---------------------------------------------------------------------


def test_no_agreement_denies_by_default() -> None:
    assert decide(facts()) == [Deny(None, DenyReason.NO_AGREEMENT)]


def test_agreements_for_another_record_type_do_not_count() -> None:
    assert decide(facts(record_type="vehicle"), TAX) == [Deny(None, DenyReason.NO_AGREEMENT)]


def test_a_revoked_agreement_is_denied_as_revoked() -> None:
    assert decide(facts(), revoked=(TAX.agreement,)) == [Deny(TAX.agreement, DenyReason.REVOKED)]


def test_an_agreement_before_its_first_day_is_not_yet_valid() -> None:
    future = compiled("civil-to-tax", "tax", "iin", valid_from=date(2026, 6, 2))
    assert decide(facts(), future) == [Deny(future.agreement, DenyReason.NOT_YET_VALID)]


def test_an_agreement_after_its_last_day_is_expired() -> None:
    assert decide(facts(), SOCIAL_EXPIRED) == [Deny(SOCIAL_EXPIRED.agreement, DenyReason.EXPIRED)]


def test_a_record_outside_the_where_conditions_is_a_where_mismatch() -> None:
    elsewhere = compiled("civil-to-tax", "tax", "iin", where={"registered_address.region": {"eq": "Almaty"}})
    assert decide(facts(), elsewhere) == [Deny(elsewhere.agreement, DenyReason.WHERE_MISMATCH)]


def test_required_consent_never_given_is_consent_missing() -> None:
    assert decide(facts(), HEALTH) == [Deny(HEALTH.agreement, DenyReason.CONSENT_MISSING)]


def test_required_consent_revoked_before_the_change_is_consent_revoked() -> None:
    view = consent(
        (ConsentStatus.GRANTED, datetime(2026, 2, 1, tzinfo=UTC)),
        (ConsentStatus.REVOKED, datetime(2026, 5, 1, tzinfo=UTC)),
    )
    assert decide(facts(), HEALTH, consent_view=view) == [Deny(HEALTH.agreement, DenyReason.CONSENT_REVOKED)]


def test_required_consent_past_its_end_before_the_change_is_consent_expired() -> None:
    key = consent_key(CITIZEN["iin"], "health", HEALTH_PURPOSE)
    grant = ConsentRecord(
        subject=CITIZEN["iin"],
        consumer="health",
        purpose=HEALTH_PURPOSE,
        status=ConsentStatus.GRANTED,
        time=EVENT_TIME - timedelta(days=10),
        valid_until=EVENT_TIME - timedelta(seconds=1),
    )
    view = ConsentView()
    view.apply(key.encode(), grant.model_dump_json().encode())
    assert decide(facts(), HEALTH, consent_view=view) == [Deny(HEALTH.agreement, DenyReason.CONSENT_EXPIRED)]
    before = facts(event_time=EVENT_TIME - timedelta(seconds=2))
    assert [type(d) for d in decide(before, HEALTH, consent_view=view)] == [Deliver]


def test_a_phone_change_is_not_delivered_to_a_consumer_granted_only_the_address() -> None:
    # given an update whose publisher says only the phone changed
    event = facts(changed=("phone",))
    # when evaluated for an agreement granting only the address
    decisions = decide(event, ADDRESS_ONLY)
    # then it is denied as unchanged fields
    assert decisions == [Deny(ADDRESS_ONLY.agreement, DenyReason.UNCHANGED_FIELDS)]


# --- the rules around them ------------------------------------------------------------------------


def test_the_three_agreements_case_delivers_twice_with_exactly_the_granted_fields() -> None:
    # given tax (names + address), health (names + birth date, consent granted), expired social
    view = consent((ConsentStatus.GRANTED, datetime(2026, 3, 1, tzinfo=UTC)))
    # when a person is created
    decisions = decide(facts(ChangeKind.CREATED), TAX, HEALTH, SOCIAL_EXPIRED, consent_view=view)
    # then tax and health each get exactly their fields, and social is denied as expired
    tax, health, social = decisions
    assert isinstance(tax, Deliver)
    assert isinstance(health, Deliver)
    assert tax.compiled is TAX
    assert tax.record is not None
    assert set(tax.record) == {*NAMES, "registered_address"}
    assert tax.record["registered_address"] == CITIZEN["registered_address"]
    assert health.compiled is HEALTH
    assert health.record == {name: CITIZEN[name] for name in (*NAMES, "birth_date")}
    assert social == Deny(SOCIAL_EXPIRED.agreement, DenyReason.EXPIRED)


def test_a_phone_change_found_by_diffing_with_state_is_not_delivered_to_the_address_consumer() -> None:
    # given an update without bus_changed, whose previous state differs only in the phone
    event = facts(changed=None, previous={**CITIZEN, "phone": None})
    # when evaluated for an address-only agreement
    # then the diff with state shows nothing granted changed
    assert decide(event, ADDRESS_ONLY) == [Deny(ADDRESS_ONLY.agreement, DenyReason.UNCHANGED_FIELDS)]


def test_a_phone_change_found_by_diffing_with_state_is_delivered_to_a_consumer_granted_the_phone() -> None:
    phone = compiled("civil-to-telecom", "telecom", "iin", "phone")
    event = facts(changed=None, previous={**CITIZEN, "phone": None})
    assert decide(event, phone) == [Deliver(phone, {"iin": CITIZEN["iin"], "phone": CITIZEN["phone"]})]


def test_an_address_sub_field_change_is_delivered_to_the_address_consumer() -> None:
    previous = {**CITIZEN, "registered_address": {**CITIZEN["registered_address"], "street": "Abai"}}
    [decision] = decide(facts(previous=previous), ADDRESS_ONLY)
    assert decision == Deliver(ADDRESS_ONLY, {"registered_address": CITIZEN["registered_address"]})


def test_an_update_with_unknown_changes_is_delivered() -> None:
    [decision] = decide(facts(changed=None, previous=None), ADDRESS_ONLY)
    assert isinstance(decision, Deliver)


def test_the_publishers_changed_list_wins_over_a_diff_with_state() -> None:
    # the publisher says the address changed; state (perhaps stale) says only the phone did
    event = facts(changed=("registered_address.street",), previous={**CITIZEN, "phone": None})
    [decision] = decide(event, ADDRESS_ONLY)
    assert isinstance(decision, Deliver)


def test_an_update_that_changed_nothing_is_not_delivered() -> None:
    assert decide(facts(changed=()), TAX) == [Deny(TAX.agreement, DenyReason.UNCHANGED_FIELDS)]


@pytest.mark.parametrize("kind", [ChangeKind.CREATED, ChangeKind.SNAPSHOT])
def test_creations_and_snapshots_are_never_denied_as_unchanged(kind: ChangeKind) -> None:
    [decision] = decide(facts(kind, changed=("phone",), previous=CITIZEN), ADDRESS_ONLY)
    assert decision == Deliver(ADDRESS_ONLY, {"registered_address": CITIZEN["registered_address"]})


def test_consent_is_judged_at_the_time_of_the_change_not_now() -> None:
    # given consent granted before the change and revoked after it, before it is processed
    view = consent(
        (ConsentStatus.GRANTED, datetime(2026, 3, 1, tzinfo=UTC)),
        (ConsentStatus.REVOKED, datetime(2026, 6, 1, 8, 59, 30, tzinfo=UTC)),
    )
    # when the change is evaluated
    [decision] = decide(facts(), HEALTH, consent_view=view)
    # then the grant in force at the change counts
    assert isinstance(decision, Deliver)


def test_consent_for_another_purpose_does_not_count() -> None:
    view = consent((ConsentStatus.GRANTED, datetime(2026, 3, 1, tzinfo=UTC)), purpose="medical research")
    assert decide(facts(), HEALTH, consent_view=view) == [Deny(HEALTH.agreement, DenyReason.CONSENT_MISSING)]


def test_an_agreement_is_in_force_on_its_first_and_last_day() -> None:
    first_day = compiled("civil-to-tax", "tax", "iin", valid_from=NOW.date())
    last_day = compiled("civil-to-post", "post", "iin", valid_until=NOW.date())
    decisions = decide(facts(ChangeKind.CREATED), first_day, last_day)
    assert [type(d) for d in decisions] == [Deliver, Deliver]


def test_validity_is_checked_before_where_and_consent() -> None:
    expired = compiled(
        "civil-to-health",
        "health",
        "iin",
        consent=ConsentMode.REQUIRED,
        where={"sex": {"eq": "FEMALE"}},
        valid_until=date(2026, 1, 31),
    )
    assert decide(facts(), expired) == [Deny(expired.agreement, DenyReason.EXPIRED)]


def test_where_is_checked_before_consent() -> None:
    women_only = compiled(
        "civil-to-health", "health", "iin", consent=ConsentMode.REQUIRED, where={"sex": {"eq": "FEMALE"}}
    )
    assert decide(facts(), women_only) == [Deny(women_only.agreement, DenyReason.WHERE_MISMATCH)]


# --- deletions -----------------------------------------------------------------------------------


def test_a_deletion_is_sent_as_a_tombstone_to_an_agreement_that_received_the_subject() -> None:
    event = facts(ChangeKind.DELETED, delivered_before=frozenset({"civil-to-tax"}))
    [decision] = decide(event, TAX)
    assert decision == Deliver(TAX, None)
    assert isinstance(decision, Deliver)
    assert decision.fields == ()


def test_a_deletion_says_nothing_to_an_agreement_that_never_received_the_subject() -> None:
    assert decide(facts(ChangeKind.DELETED), TAX) == []


def test_a_deletion_needs_no_consent_and_no_where_match() -> None:
    strict = compiled(
        "civil-to-health", "health", "iin", consent=ConsentMode.REQUIRED, where={"sex": {"eq": "FEMALE"}}
    )
    event = facts(ChangeKind.DELETED, delivered_before=frozenset({"civil-to-health"}))
    assert decide(event, strict) == [Deliver(strict, None)]


def test_a_deletion_under_a_revoked_agreement_is_denied_as_revoked() -> None:
    event = facts(ChangeKind.DELETED, delivered_before=frozenset({"civil-to-tax"}))
    assert decide(event, revoked=(TAX.agreement,)) == [Deny(TAX.agreement, DenyReason.REVOKED)]


# --- what a decision says -------------------------------------------------------------------------


def test_a_delivery_lists_the_granted_fields_it_sends() -> None:
    [decision] = decide(facts(ChangeKind.CREATED), TAX)
    assert isinstance(decision, Deliver)
    assert decision.fields == (*NAMES, "registered_address")


def test_a_granted_path_inside_a_null_record_is_not_listed_as_sent() -> None:
    region = compiled("civil-to-stats", "statistics", "iin", "registered_address.region")
    [decision] = decide(facts(ChangeKind.CREATED, record=person(7, registered_address=None)), region)
    assert isinstance(decision, Deliver)
    assert decision.record == {"iin": CITIZEN["iin"], "registered_address": None}
    assert decision.fields == ("iin",)


def test_decisions_come_revoked_first_then_active_in_the_order_given() -> None:
    # given one revoked and three active agreements
    view = consent((ConsentStatus.GRANTED, datetime(2026, 3, 1, tzinfo=UTC)))
    revoked = compiled("civil-to-old", "archive", "iin").agreement
    # when a change is evaluated twice
    first = decide(
        facts(ChangeKind.CREATED), SOCIAL_EXPIRED, TAX, HEALTH, revoked=(revoked,), consent_view=view
    )
    second = decide(
        facts(ChangeKind.CREATED), SOCIAL_EXPIRED, TAX, HEALTH, revoked=(revoked,), consent_view=view
    )
    # then the decisions are the same, in a fixed order
    assert first == second
    assert [decided_under(d).id for d in first] == [
        "civil-to-old",
        "civil-to-social",
        "civil-to-tax",
        "civil-to-health",
    ]
