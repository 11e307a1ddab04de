"""Forged, transplanted, replayed and wrongly keyed signatures never get an event delivered.

The provider ``civil`` has one registered key (``KEY``); ``OTHER_KEY`` belongs to agency ``other``.
"""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from bus.event.envelope import ChangeKind
from bus.event.signed_event import Draft, Signer, compose
from bus.event.signing import key_id_for
from tests.fuzz.bench import (
    KEY,
    NOW,
    OTHER_KEY,
    PERSON,
    consumer_record,
    encode,
    judge,
    pipeline,
    signed_headers,
)
from tests.fuzz.profile import fuzz_settings
from tests.people import person

people = st.integers(0, 5000)


def _replace(headers: list[tuple[str, bytes]], **values: bytes) -> list[tuple[str, bytes]]:
    return [(k, values.get(k, v)) for k, v in headers]


@fuzz_settings()
@given(n=people, sequence=st.integers(1, 2**40))
def test_a_signature_by_another_key_under_the_providers_key_id_is_dead_lettered(
    n: int, sequence: int
) -> None:
    # given an event signed with a key that is not civil's, labelled with civil's key id
    citizen = person(n)
    value = encode(PERSON, citizen)
    forged = signed_headers(value, citizen["iin"], signer=OTHER_KEY, sequence=sequence)
    forged = _replace(forged, bus_sig_key=key_id_for(KEY.public_key()).encode())
    record = consumer_record(PERSON.topic, citizen["iin"].encode(), value, forged)
    # when the processor sees it; then it is dead-lettered for its signature
    assert judge("forged", record, pipeline().process(record, NOW)) == "dead_lettered"


@fuzz_settings()
@given(
    n=people,
    key_id=st.one_of(
        st.text(max_size=40),
        st.just(key_id_for(OTHER_KEY.public_key())),  # a real key, of another agency
        st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    ),
)
def test_an_unknown_or_foreign_key_id_is_dead_lettered(n: int, key_id: str) -> None:
    # given a correctly signed event whose key id names a key civil does not own
    citizen = person(n)
    value = encode(PERSON, citizen)
    headers = signed_headers(value, citizen["iin"])
    if key_id == key_id_for(KEY.public_key()):
        return
    headers = _replace(headers, bus_sig_key=key_id.encode("utf-8", "surrogatepass"))
    record = consumer_record(PERSON.topic, citizen["iin"].encode(), value, headers)
    # when the processor sees it; then it is dead-lettered
    assert judge("wrong_key_id", record, pipeline().process(record, NOW)) == "dead_lettered"


@fuzz_settings()
@given(size=st.integers(2, 12), data=st.data())
def test_a_signature_and_proof_transplanted_from_another_event_of_the_batch_are_refused(
    size: int, data: st.DataObject
) -> None:
    # given a batch of events signed together (one root signature, one proof each)
    first = data.draw(people)
    citizens = [person(first + i) for i in range(size)]  # distinct subjects
    values = [encode(PERSON, c) for c in citizens]
    drafts = [
        Draft(ChangeKind.UPDATED, "gov.civil.Person", c["iin"], v, 1)
        for c, v in zip(citizens, values, strict=True)
    ]
    envelopes = compose("civil", "gbd", Signer.of(KEY), drafts)
    # when event a carries the signature headers of event b
    a = data.draw(st.integers(0, size - 1))
    b = (a + data.draw(st.integers(1, size - 1))) % size  # another event (no rejection sampling)
    donor = dict(envelopes[b].to_headers())
    headers = _replace(
        envelopes[a].to_headers(), bus_signature=donor["bus_signature"], bus_sig_proof=donor["bus_sig_proof"]
    )
    record = consumer_record(PERSON.topic, citizens[a]["iin"].encode(), values[a], headers)
    # then it is dead-lettered; the untouched events of the batch are delivered
    assert judge("transplanted", record, pipeline().process(record, NOW)) == "dead_lettered"
    genuine = consumer_record(PERSON.topic, citizens[b]["iin"].encode(), values[b], envelopes[b].to_headers())
    assert judge("transplanted", genuine, pipeline().process(genuine, NOW)) == "delivered"


@fuzz_settings()
@given(n=people, bump=st.integers(1, 10**6), replays=st.integers(1, 4))
def test_a_replayed_event_is_delivered_once_and_a_replay_with_a_new_sequence_not_at_all(
    n: int, bump: int, replays: int
) -> None:
    # given a valid event the processor has delivered
    citizen = person(n)
    value = encode(PERSON, citizen)
    headers = signed_headers(value, citizen["iin"], sequence=5, changed=["surname"])
    processor = pipeline()
    record = consumer_record(PERSON.topic, citizen["iin"].encode(), value, headers)
    assert judge("replayed", record, processor.process(record, NOW), signed=headers) == "delivered"
    # when the same bytes are replayed, and replayed with a higher bus_sequence (not re-signed)
    for offset in range(1, replays + 1):
        again = consumer_record(PERSON.topic, citizen["iin"].encode(), value, headers, offset)
        # then each replay is dropped as already applied
        assert judge("replayed", again, processor.process(again, NOW)) == "stale"
    newer = _replace(headers, bus_sequence=str(5 + bump).encode())
    forged = consumer_record(PERSON.topic, citizen["iin"].encode(), value, newer, replays + 1)
    # and the re-sequenced replay fails its signature
    assert judge("replayed", forged, processor.process(forged, NOW)) == "dead_lettered"
