"""Consent from bus.policy.consent: who may receive a citizen's data for which purpose, and when."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from bus.policy.consent import ConsentRecord, ConsentStatus, ConsentView, consent_key

SUBJECT = "900514301239"
PURPOSE = "attachment to a primary care clinic"
DAY = datetime(2026, 3, 1, tzinfo=UTC)
ALMATY = timezone(timedelta(hours=5))


def change(status: ConsentStatus, time: datetime, **overrides: str) -> tuple[bytes, bytes]:
    values = {"subject": SUBJECT, "consumer": "health", "purpose": PURPOSE, **overrides}
    record = ConsentRecord(status=status, time=time, **values)
    key = consent_key(values["subject"], values["consumer"], values["purpose"])
    return key.encode(), record.model_dump_json().encode()


def view_of(*changes: tuple[bytes, bytes]) -> ConsentView:
    view = ConsentView()
    for key, value in changes:
        view.apply(key, value)
    return view


def state(view: ConsentView, at: datetime) -> ConsentStatus | None:
    return view.state_at(SUBJECT, "health", PURPOSE, at)


def test_the_key_is_a_json_array_of_subject_consumer_and_purpose() -> None:
    assert json.loads(consent_key(SUBJECT, "health", PURPOSE)) == [SUBJECT, "health", PURPOSE]


def test_keys_with_separators_inside_their_parts_do_not_collide() -> None:
    assert consent_key("a,b", "c", "d") != consent_key("a", "b,c", "d")
    assert consent_key('a"', "b", "c") != consent_key("a", '"b', "c")


def test_non_ascii_purposes_stay_readable_in_the_key() -> None:
    assert "прикрепление" in consent_key(SUBJECT, "health", "прикрепление к поликлинике")


def test_nothing_is_known_before_any_consent() -> None:
    assert state(ConsentView(), DAY) is None


def test_a_grant_is_in_force_from_its_time_on() -> None:
    view = view_of(change(ConsentStatus.GRANTED, DAY))
    assert state(view, DAY) is ConsentStatus.GRANTED
    assert state(view, DAY + timedelta(days=30)) is ConsentStatus.GRANTED


def test_nothing_is_known_before_the_first_grant() -> None:
    view = view_of(change(ConsentStatus.GRANTED, DAY))
    assert state(view, DAY - timedelta(seconds=1)) is None


def test_an_event_between_a_grant_and_a_revoke_was_granted() -> None:
    # given a grant and, ten days later, a revoke
    view = view_of(
        change(ConsentStatus.GRANTED, DAY), change(ConsentStatus.REVOKED, DAY + timedelta(days=10))
    )
    # when asked about a moment between them, and after the revoke
    # then the grant decides the first and the revoke the second
    assert state(view, DAY + timedelta(days=5)) is ConsentStatus.GRANTED
    assert state(view, DAY + timedelta(days=11)) is ConsentStatus.REVOKED


def test_a_revoke_then_a_new_grant_is_granted_again() -> None:
    view = view_of(
        change(ConsentStatus.GRANTED, DAY),
        change(ConsentStatus.REVOKED, DAY + timedelta(days=1)),
        change(ConsentStatus.GRANTED, DAY + timedelta(days=2)),
    )
    assert state(view, DAY + timedelta(days=1, hours=12)) is ConsentStatus.REVOKED
    assert state(view, DAY + timedelta(days=3)) is ConsentStatus.GRANTED


def test_changes_arriving_out_of_order_are_placed_by_their_own_time() -> None:
    # given the revoke read before the grant it follows
    view = view_of(
        change(ConsentStatus.REVOKED, DAY + timedelta(days=10)), change(ConsentStatus.GRANTED, DAY)
    )
    # then each still decides its own period
    assert state(view, DAY + timedelta(days=5)) is ConsentStatus.GRANTED
    assert state(view, DAY + timedelta(days=11)) is ConsentStatus.REVOKED


def test_of_two_changes_at_the_same_time_the_later_applied_wins() -> None:
    view = view_of(change(ConsentStatus.GRANTED, DAY), change(ConsentStatus.REVOKED, DAY))
    assert state(view, DAY) is ConsentStatus.REVOKED


def test_times_in_other_zones_compare_as_instants() -> None:
    almaty = DAY.astimezone(ALMATY)
    view = view_of(change(ConsentStatus.GRANTED, almaty))
    assert state(view, DAY) is ConsentStatus.GRANTED


def test_a_tombstone_forgets_the_keys_history() -> None:
    key, value = change(ConsentStatus.GRANTED, DAY)
    view = view_of((key, value))
    view.apply(key, None)
    assert state(view, DAY + timedelta(days=1)) is None
    assert len(view) == 0


def test_consent_is_per_consumer_and_purpose() -> None:
    view = view_of(change(ConsentStatus.GRANTED, DAY))
    assert view.state_at(SUBJECT, "police", PURPOSE, DAY) is None
    assert view.state_at(SUBJECT, "health", "medical research", DAY) is None


@pytest.mark.parametrize(
    "value",
    [b"not json", b"{}", b'{"subject": "x"}', json.dumps({"status": "maybe"}).encode()],
)
def test_a_malformed_value_is_ignored(value: bytes) -> None:
    view = ConsentView()
    view.apply(consent_key(SUBJECT, "health", PURPOSE).encode(), value)
    assert len(view) == 0


def test_a_record_under_someone_elses_key_is_ignored() -> None:
    _, value = change(ConsentStatus.GRANTED, DAY)
    view = ConsentView()
    view.apply(consent_key("000000000000", "health", PURPOSE).encode(), value)
    assert len(view) == 0
    assert state(view, DAY) is None


@pytest.mark.parametrize("key", [None, b"\xff\xfe"])
def test_a_missing_or_undecodable_key_is_ignored(key: bytes | None) -> None:
    _, value = change(ConsentStatus.GRANTED, DAY)
    view = ConsentView()
    view.apply(key, value)
    assert len(view) == 0


def test_the_same_change_read_twice_is_kept_once() -> None:
    # given a view that keeps two changes per key
    view = ConsentView(history=2)
    grant, revoke = change(ConsentStatus.GRANTED, DAY), change(ConsentStatus.REVOKED, DAY + timedelta(days=2))
    # when the grant is redelivered after the revoke (at-least-once)
    for key, value in (grant, revoke, grant):
        view.apply(key, value)
    # then the grant still decides the time before the revoke
    assert state(view, DAY + timedelta(days=1)) is ConsentStatus.GRANTED


def test_history_per_key_is_bounded_to_the_latest_changes() -> None:
    # given 40 alternating changes a day apart, in a view keeping 32
    view = ConsentView()
    statuses = [ConsentStatus.GRANTED, ConsentStatus.REVOKED]
    for day in range(40):
        view.apply(*change(statuses[day % 2], DAY + timedelta(days=day)))
    # then the oldest 8 are forgotten and the latest 32 still decide
    assert state(view, DAY + timedelta(days=7, hours=1)) is None
    assert state(view, DAY + timedelta(days=8, hours=1)) is ConsentStatus.GRANTED
    assert state(view, DAY + timedelta(days=39, hours=1)) is ConsentStatus.REVOKED


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(TypeError, match="timezone-aware"):
        ConsentView().state_at(SUBJECT, "health", PURPOSE, datetime(2026, 3, 1))


def test_a_consent_record_needs_a_zoned_time() -> None:
    with pytest.raises(ValidationError):
        ConsentRecord.model_validate(
            {
                "subject": SUBJECT,
                "consumer": "health",
                "purpose": PURPOSE,
                "status": "granted",
                "time": "2026-03-01T00:00:00",
            }
        )


def test_a_consent_record_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ConsentRecord.model_validate(
            {
                "subject": SUBJECT,
                "consumer": "health",
                "purpose": PURPOSE,
                "status": "granted",
                "time": "2026-03-01T00:00:00Z",
                "expires": "never",
            }
        )


def test_a_consent_record_comes_from_the_wallet_unless_told() -> None:
    _, value = change(ConsentStatus.GRANTED, DAY)
    assert ConsentRecord.model_validate_json(value).channel == "wallet"


def test_a_grant_with_an_end_holds_until_it_and_reads_expired_after() -> None:
    _, value = change(ConsentStatus.GRANTED, DAY)
    until = DAY + timedelta(days=30)
    record = ConsentRecord.model_validate_json(value).model_copy(update={"valid_until": until})
    view = view_of((record.key.encode(), record.model_dump_json().encode()))
    assert state(view, until) is ConsentStatus.GRANTED
    assert state(view, until + timedelta(seconds=1)) is ConsentStatus.EXPIRED
    assert record.status_at(until + timedelta(seconds=1)) is ConsentStatus.EXPIRED


def test_a_new_grant_after_expiry_is_granted_again() -> None:
    first = ConsentRecord(
        subject=SUBJECT,
        consumer="health",
        purpose=PURPOSE,
        status=ConsentStatus.GRANTED,
        time=DAY,
        valid_until=DAY + timedelta(days=1),
    )
    again = change(ConsentStatus.GRANTED, DAY + timedelta(days=3))
    view = view_of((first.key.encode(), first.model_dump_json().encode()), again)
    assert state(view, DAY + timedelta(days=2)) is ConsentStatus.EXPIRED
    assert state(view, DAY + timedelta(days=4)) is ConsentStatus.GRANTED


@pytest.mark.parametrize(
    ("status", "offset", "message"),
    [
        (ConsentStatus.REVOKED, timedelta(days=1), "only a grant has a valid_until"),
        (ConsentStatus.GRANTED, timedelta(0), "is not after"),
        (ConsentStatus.EXPIRED, None, "expired is not written"),
    ],
)
def test_an_end_only_belongs_on_a_grant_after_its_time(
    status: ConsentStatus, offset: timedelta | None, message: str
) -> None:
    until = None if offset is None else DAY + offset
    with pytest.raises(ValidationError, match=message):
        ConsentRecord(
            subject=SUBJECT, consumer="health", purpose=PURPOSE, status=status, time=DAY, valid_until=until
        )
