"""CloudEvents binary binding + bus headers (DESIGN §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bus.errors import EnvelopeError
from bus.event.envelope import ChangeKind, Envelope

EVENT_ID = "0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90"


def an_envelope(**overrides: object) -> Envelope:
    fields: dict[str, object] = {
        "provider": "civil-registry",
        "system": "gbd-fl",
        "record_name": "gov.civil.Person",
        "kind": ChangeKind.UPDATED,
        "subject": "900514301239",
        "sequence": 7,
        "changed": ["registered_address.street", "phone"],
        "event_id": EVENT_ID,
        "time": datetime(2026, 11, 23, 9, 30, 0, 123000, tzinfo=UTC),
    }
    fields.update(overrides)
    return Envelope.new(**fields)  # type: ignore[arg-type]


def headers_without(name: str) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in an_envelope().to_headers() if k != name]


def replaced(name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(k, value if k == name else v) for k, v in an_envelope().to_headers()]


def test_headers_round_trip_to_an_equal_envelope() -> None:
    envelope = an_envelope()
    assert Envelope.from_headers(envelope.to_headers()) == envelope


def test_headers_use_cloudevents_binary_names() -> None:
    headers = dict(an_envelope().to_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == EVENT_ID.encode()
    assert headers["ce_source"] == b"/agencies/civil-registry/gbd-fl"
    assert headers["ce_type"] == b"gov.civil.Person.updated"
    assert headers["ce_time"] == b"2026-11-23T09:30:00.123000Z"
    assert headers["ce_subject"] == b"900514301239"
    assert headers["content-type"] == b"application/avro"
    assert headers["bus_sequence"] == b"7"
    assert headers["bus_changed"] == b"registered_address.street,phone"


def test_absent_bus_headers_are_not_written() -> None:
    names = {k for k, _ in an_envelope(sequence=None, changed=None).to_headers()}
    assert not names & {"bus_sequence", "bus_changed", "bus_signature", "bus_agreement"}


def test_derived_properties_come_from_source_and_type() -> None:
    envelope = an_envelope(kind=ChangeKind.DELETED)
    assert envelope.provider == "civil-registry"
    assert envelope.record_name == "gov.civil.Person"
    assert envelope.kind is ChangeKind.DELETED


def test_new_envelopes_get_distinct_uuid_ids() -> None:
    assert an_envelope(event_id=None).id != an_envelope(event_id=None).id


def test_unknown_headers_are_ignored() -> None:
    headers = [*an_envelope().to_headers(), ("traceparent", b"00-abc")]
    assert Envelope.from_headers(headers) == an_envelope()


@pytest.mark.parametrize(
    "header", ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"]
)
def test_missing_required_header_is_named(header: str) -> None:
    with pytest.raises(EnvelopeError, match=f"required header '{header}' is missing") as info:
        Envelope.from_headers(headers_without(header))
    assert info.value.header == header


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ce_id", b"not-a-uuid"),
        ("ce_time", b"2026-11-23T09:30:00"),
        ("ce_time", b"1700000000"),
        ("ce_type", b"gov.civil.Person.upserted"),
        ("ce_type", b"Person"),
        ("ce_source", b"civil-registry"),
        ("ce_source", b"/agencies/Civil Registry/x"),
        ("ce_specversion", b"0.3"),
        ("ce_subject", b""),
        ("bus_sequence", b"-1"),
        ("bus_sequence", b"seven"),
        ("content-type", b"application/json"),
    ],
)
def test_malformed_header_is_named(header: str, value: bytes) -> None:
    with pytest.raises(EnvelopeError, match=f"header '{header}' is malformed") as info:
        Envelope.from_headers(replaced(header, value))
    assert info.value.header == header


def test_duplicated_header_is_rejected() -> None:
    headers = [*an_envelope().to_headers(), ("ce_id", EVENT_ID.encode())]
    with pytest.raises(EnvelopeError, match="'ce_id' appears more than once"):
        Envelope.from_headers(headers)


def test_non_utf8_header_is_rejected() -> None:
    with pytest.raises(EnvelopeError, match="'ce_subject' is not UTF-8"):
        Envelope.from_headers(replaced("ce_subject", b"\xff\xfe"))


def test_building_with_a_bad_provider_names_the_source_header() -> None:
    with pytest.raises(EnvelopeError, match="'ce_source'"):
        an_envelope(provider="Civil Registry")


def test_empty_changed_list_round_trips() -> None:
    envelope = an_envelope(changed=[])
    assert Envelope.from_headers(envelope.to_headers()).changed == ()
