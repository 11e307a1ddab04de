"""The envelope fast path decides exactly as the pydantic model does (differential property test)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bus.errors import EnvelopeError
from bus.event.envelope import ChangeKind, Envelope, _fast_envelope

GOOD = [
    *Envelope.new(
        provider="civil-registry",
        system="gbd-fl",
        record_name="gov.civil.Person",
        kind=ChangeKind.UPDATED,
        subject="900514301239",
        sequence=7,
        changed=["registered_address.street", "phone"],
        event_id="0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90",
        time=datetime(2026, 11, 23, 9, 30, 0, 123000, tzinfo=UTC),
    ).to_headers(),
    ("bus_signature", b"sig"),
    ("bus_sig_key", b"ed25519:00"),
]

NAMES = [name for name, _ in GOOD] + ["bus_agreement", "x-other"]
TRICKY = [
    b"",
    b"1.0",
    b"0.3",
    b"007",
    b"-1",
    b"+5",
    b" 5",
    b"\xd9\xa3",
    b"99999999999999999999",
    b"0B9C6F3E-5A7D-4F0E-9D8A-2F4C1E6B7A90",
    b"{0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90}",
    b"0b9c6f3e5a7d4f0e9d8a2f4c1e6b7a90",
    b"2026-11-23T09:30:00Z",
    b"2026-11-23T09:30:00.5Z",
    b"2026-11-23T09:30:00.1234567Z",
    b"2026-11-23t09:30:00z",
    b"2026-11-23T09:30:00+05:30",
    b"2026-11-23T09:30:00-00:00",
    b"2026-11-23T09:30:00.12345+01:00",
    b"2026-11-23T09:30:00+00:00",
    b"2026-11-23T09:30:00.000001-11:59",
    b"2026-11-23 09:30:00Z",
    b"2026-11-23T09:30Z",
    b"20261123T093000Z",
    b"2026-11-23T09:30:00+24:00",
    b"2026-11-23T09:30:00+05:60",
    b"2026-02-30T09:30:00Z",
    b"2026-11-23T24:00:00Z",
    b"2026-11-23T23:59:60Z",
    b"0000-01-01T00:00:00Z",
    b"/agencies/civil-registry/gbd-fl",
    b"/agencies/Civil/x",
    b"/agencies/civil-registry/gbd-fl\n",
    b"gov.civil.Person.created",
    b"gov.civil.Person.upserted",
    b"application/avro",
    b"application/json",
    b"a,,b,",
    b",",
    b"x" * 257,
    b"\xff",
]


def outcome(decide: object, headers: list[tuple[str, bytes]]) -> object:
    try:
        envelope = decide(headers)  # type: ignore[operator]
    except EnvelopeError as exc:
        return ("error", exc.header, exc.message)
    return ("ok", envelope.model_dump(), envelope.time.utcoffset(), envelope.model_fields_set)


@settings(max_examples=400, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(NAMES), st.one_of(st.sampled_from(TRICKY), st.binary(max_size=40))),
        max_size=3,
    ),
    drop=st.sets(st.sampled_from(NAMES), max_size=2),
)
def test_fast_path_and_model_agree(changes: list[tuple[str, bytes]], drop: set[str]) -> None:
    headers = [(k, v) for k, v in GOOD if k not in drop]
    for name, value in changes:
        present = [i for i, (k, _) in enumerate(headers) if k == name]
        if present:
            headers[present[0]] = (name, value)
        else:
            headers.append((name, value))
    assert outcome(Envelope.from_headers, headers) == outcome(Envelope.checked_by_model, headers)


def test_well_formed_headers_take_the_fast_path_and_equal_the_model() -> None:
    fast = _fast_envelope(GOOD)
    assert fast is not None
    assert fast == Envelope.checked_by_model(GOOD)
    assert fast.time_text == "2026-11-23T09:30:00.123000Z"
