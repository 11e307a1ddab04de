"""Ed25519 + Merkle batch signatures (DESIGN §3 "Signatures")."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from typing import Any, TypedDict, TypeVar, cast

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from bus.errors import BusError
from bus.event.signing import (
    EventSignature,
    SignatureError,
    Verifier,
    event_digest,
    key_id_for,
    private_key_from_pem,
    private_key_pem,
    public_key_from_text,
    public_key_text,
    sign_batch,
)

AGENCY = "civil-registry"
KEY = Ed25519PrivateKey.generate()
KEY_ID = key_id_for(KEY.public_key())


@dataclass(frozen=True)
class Event:
    source: str = f"/agencies/{AGENCY}/gbd-fl"
    event_id: str = "0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a90"
    ce_type: str = "gov.civil.Person.updated"
    subject: str = "900514301239"
    time: str = "2026-11-23T09:30:00.123000Z"
    sequence: int | None = 7
    value: bytes | None = b"\x00\x00\x00\x00\x01avro-body"

    def digest(self) -> bytes:
        return event_digest(
            source=self.source,
            event_id=self.event_id,
            ce_type=self.ce_type,
            subject=self.subject,
            time=self.time,
            sequence=self.sequence,
            value=self.value,
        )


def events(count: int) -> list[Event]:
    return [Event(subject=f"{900514301239 + i:012d}", sequence=i) for i in range(count)]


def directory(*keys: Ed25519PrivateKey, agency: str = AGENCY) -> dict[tuple[str, str], Ed25519PublicKey]:
    return {(agency, key_id_for(k.public_key())): k.public_key() for k in keys}


def verifier_for(*keys: Ed25519PrivateKey, cache_size: int = 65536) -> Verifier:
    known = directory(*(keys or (KEY,)))
    return Verifier(lambda agency, key_id: known.get((agency, key_id)), cache_size=cache_size)


def signed(batch: list[Event], key: Ed25519PrivateKey = KEY) -> list[EventSignature]:
    return sign_batch(key, key_id_for(key.public_key()), [e.digest() for e in batch])


def verify(verifier: Verifier, event: Event, signature: EventSignature) -> None:
    verifier.verify(AGENCY, event.digest(), signature.signature, signature.proof, signature.key_id)


def reason_of(verifier: Verifier, event: Event, signature: EventSignature) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(verifier, event, signature)
    return caught.value.reason


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


Item = TypeVar("Item", Event, EventSignature)


def changed(item: Item, field: str, value: object) -> Item:
    fields: dict[str, Any] = {field: value}
    return replace(item, **fields)


def flip(raw: bytes, bit: int) -> bytes:
    flipped = bytearray(raw)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- valid signatures -------------------------------------------------------------------------


def test_a_batch_of_one_is_a_plain_signature_with_an_empty_proof() -> None:
    # given one event
    event = Event()
    # when it is signed alone
    [signature] = signed([event])
    # then the proof is empty, the signature is 64 bytes, and it verifies
    assert signature.proof == ""
    assert len(unb64url(signature.signature)) == 64
    assert signature.key_id == KEY_ID
    verify(verifier_for(), event, signature)


@pytest.mark.parametrize("proof", [None, ""])
def test_a_missing_or_empty_proof_means_a_batch_of_one(proof: str | None) -> None:
    # given an event signed alone
    event = Event()
    [signature] = signed([event])
    # when the verifier is given no proof at all, then it verifies
    verifier_for().verify(AGENCY, event.digest(), signature.signature, proof, signature.key_id)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_every_member_of_a_signed_batch_verifies(size: int) -> None:
    # given a batch signed once
    batch = events(size)
    signatures = signed(batch)
    verifier = verifier_for()
    # when every member is verified, then none raises
    for event, signature in zip(batch, signatures, strict=True):
        verify(verifier, event, signature)
    # and all members carry the same root signature and key id
    assert len({s.signature for s in signatures}) == 1
    assert {s.key_id for s in signatures} == {KEY_ID}


def test_a_batch_costs_exactly_one_ed25519_sign() -> None:
    # given a key that counts its signing operations
    class CountingKey:
        def __init__(self) -> None:
            self.signs = 0

        def sign(self, data: bytes) -> bytes:
            self.signs += 1
            return KEY.sign(data)

    key = CountingKey()
    # when a batch of 1000 is signed
    signatures = sign_batch(cast(Ed25519PrivateKey, key), KEY_ID, [e.digest() for e in events(1000)])
    # then one Ed25519 signature was made for 1000 events
    assert key.signs == 1
    assert len(signatures) == 1000


def test_an_empty_batch_signs_nothing() -> None:
    assert sign_batch(KEY, KEY_ID, []) == []


def test_verifying_every_member_of_a_batch_of_1000_runs_one_ed25519_check() -> None:
    # given a batch of 1000 signed events
    batch = events(1000)
    signatures = signed(batch)
    verifier = verifier_for()
    # when all of them are verified
    for event, signature in zip(batch, signatures, strict=True):
        verify(verifier, event, signature)
    # then the root signature was checked once and the rest came from the cache
    assert verifier.ed25519_checks == 1


def test_the_root_cache_is_bounded_and_evicts_the_least_recently_used_root() -> None:
    # given a verifier that remembers two roots, and three separately signed batches
    verifier = verifier_for(cache_size=2)
    batches = [events(2), [Event(subject="1")] * 2, [Event(subject="2")] * 2]
    signatures = [signed(batch) for batch in batches]
    # when all three roots are checked and then the first again
    for batch, sigs in zip(batches, signatures, strict=True):
        verify(verifier, batch[0], sigs[0])
    verify(verifier, batches[0][1], signatures[0][1])
    # then the first root had been evicted and was checked again
    assert verifier.ed25519_checks == 4


def test_a_zero_size_cache_checks_every_event() -> None:
    batch = events(3)
    verifier = verifier_for(cache_size=0)
    for event, signature in zip(batch, signed(batch), strict=True):
        verify(verifier, event, signature)
    assert verifier.ed25519_checks == 3


def test_a_rotated_out_key_still_verifies_the_events_it_signed() -> None:
    # given an agency that rotated from an old key to a new one; the directory keeps both ids
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    verifier = verifier_for(old, new)
    old_batch, new_batch = events(3), [replace(e, sequence=10 + i) for i, e in enumerate(events(3))]
    # when events signed before and after the rotation are verified, then both verify
    for event, signature in zip(old_batch, signed(old_batch, old), strict=True):
        verify(verifier, event, signature)
    for event, signature in zip(new_batch, signed(new_batch, new), strict=True):
        verify(verifier, event, signature)


def test_a_key_removed_from_the_directory_stops_verifying_even_cached_roots() -> None:
    # given a verifier that has already verified and cached a batch root
    known = directory(KEY)
    verifier = Verifier(lambda agency, key_id: known.get((agency, key_id)))
    batch = events(2)
    signatures = signed(batch)
    verify(verifier, batch[0], signatures[0])
    # when the key is removed from the directory (revoked)
    known.clear()
    # then the rest of the batch is refused
    assert reason_of(verifier, batch[1], signatures[1]) == "unknown_key"


# --- tampering ------------------------------------------------------------------------------


def test_a_flipped_bit_in_the_value_fails_as_bad_signature() -> None:
    batch = events(7)
    signatures = signed(batch)
    value = cast(bytes, batch[3].value)
    tampered = replace(batch[3], value=flip(value, 8 * len(value) - 1))
    assert reason_of(verifier_for(), tampered, signatures[3]) == "bad_signature"


@pytest.mark.parametrize("field", ["source", "event_id", "ce_type", "subject", "time"])
@pytest.mark.parametrize("size", [1, 7])
def test_a_flipped_bit_in_any_text_field_fails_as_bad_signature(field: str, size: int) -> None:
    # given a signed event
    batch = events(size)
    signatures = signed(batch)
    text: str = getattr(batch[0], field)
    # when one bit of one character of a header text changes
    tampered = changed(batch[0], field, chr(ord(text[0]) ^ 1) + text[1:])
    # then its signature no longer verifies
    assert reason_of(verifier_for(), tampered, signatures[0]) == "bad_signature"


@pytest.mark.parametrize("sequence", [6, None])
def test_a_changed_or_dropped_sequence_fails_as_bad_signature(sequence: int | None) -> None:
    batch = events(3)
    signatures = signed(batch)  # batch[2].sequence == 2; 6 is one bit away
    tampered = replace(batch[2], sequence=sequence)
    assert reason_of(verifier_for(), tampered, signatures[2]) == "bad_signature"


def test_a_dropped_value_fails_as_bad_signature() -> None:
    batch = [Event(value=b"")]
    [signature] = signed(batch)
    assert reason_of(verifier_for(), replace(batch[0], value=None), signature) == "bad_signature"


def test_any_flipped_bit_in_the_signature_fails_as_bad_signature() -> None:
    # given a batch member and its signature bytes
    batch = events(7)
    signatures = signed(batch)
    raw = unb64url(signatures[4].signature)
    verifier = verifier_for()
    # when each of the 512 bits is flipped in turn, then each fails the Ed25519 check
    for bit in range(8 * len(raw)):
        tampered = replace(signatures[4], signature=b64url(flip(raw, bit)))
        assert reason_of(verifier, batch[4], tampered) == "bad_signature", bit


def test_any_flipped_bit_in_a_sibling_hash_of_the_proof_fails_as_bad_signature() -> None:
    # given a batch member's proof: 8 header bytes, then sibling hashes
    batch = events(7)
    signatures = signed(batch)
    raw = unb64url(signatures[5].proof)
    verifier = verifier_for()
    # when each sibling bit is flipped, then the recomputed root is not the signed one
    for bit in range(64, 8 * len(raw)):
        tampered = replace(signatures[5], proof=b64url(flip(raw, bit)))
        assert reason_of(verifier, batch[5], tampered) == "bad_signature", bit


@pytest.mark.parametrize("index", range(7))
def test_any_flipped_bit_in_the_proof_header_is_rejected(index: int) -> None:
    # given each member of a batch of 7 (leaf count and index are the first 8 proof bytes)
    batch = events(7)
    signatures = signed(batch)
    raw = unb64url(signatures[index].proof)
    verifier = verifier_for()
    # when any header bit is flipped, then the event is refused: the shape no longer fits
    # (bad_proof) or it fits a tree whose root was not signed (bad_signature)
    for bit in range(64):
        tampered = replace(signatures[index], proof=b64url(flip(raw, bit)))
        assert reason_of(verifier, batch[index], tampered) in {"bad_proof", "bad_signature"}, bit


def test_a_proof_relabelled_with_another_leaf_count_of_the_same_path_is_rejected() -> None:
    # given leaf 0 of 7, whose sibling path is also a valid path for leaf 0 of 5
    batch = events(7)
    signatures = signed(batch)
    raw = unb64url(signatures[0].proof)
    relabelled = raw[:4] + (5).to_bytes(4, "big") + raw[8:]
    # when the leaf count in the proof is changed to 5, then the signature does not cover it
    tampered = replace(signatures[0], proof=b64url(relabelled))
    assert reason_of(verifier_for(), batch[0], tampered) == "bad_signature"


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("index not below count", lambda raw: (7).to_bytes(4, "big") + raw[4:]),
        ("count of one", lambda raw: raw[:4] + (1).to_bytes(4, "big") + raw[8:]),
        ("count of zero", lambda raw: raw[:4] + bytes(4) + raw[8:]),
        ("count needing more siblings", lambda raw: raw[:4] + (1 << 31).to_bytes(4, "big") + raw[8:]),
        ("one sibling too many", lambda raw: raw + bytes(32)),
        ("one sibling too few", lambda raw: raw[:-32]),
        ("partial sibling", lambda raw: raw[:-1]),
        ("header only", lambda raw: raw[:8]),
        ("shorter than a header", lambda raw: raw[:7]),
    ],
)
def test_a_proof_whose_shape_does_not_fit_fails_as_bad_proof(name: str, change: Any) -> None:
    batch = events(7)
    signatures = signed(batch)
    tampered = replace(signatures[2], proof=b64url(change(unb64url(signatures[2].proof))))
    assert reason_of(verifier_for(), batch[2], tampered) == "bad_proof", name


def test_an_encoded_proof_for_a_batch_of_one_fails_as_bad_proof() -> None:
    # a batch of one has exactly one encoding: the empty proof
    [signature] = signed([Event()])
    tampered = replace(signature, proof=b64url((0).to_bytes(4, "big") + (1).to_bytes(4, "big")))
    assert reason_of(verifier_for(), Event(), tampered) == "bad_proof"


def test_a_proof_from_one_batch_with_the_signature_of_another_fails() -> None:
    # given two batches of the same size, signed separately
    first, second = events(7), [replace(e, time="2026-11-24T00:00:00Z") for e in events(7)]
    first_sigs, second_sigs = signed(first), signed(second)
    # when a member of the first carries its own proof but the second batch's signature
    mixed = replace(first_sigs[3], signature=second_sigs[3].signature)
    # then it does not verify
    assert reason_of(verifier_for(), first[3], mixed) == "bad_signature"


def test_an_event_outside_the_batch_fails_with_a_members_signature() -> None:
    batch = events(3)
    signatures = signed(batch)
    assert reason_of(verifier_for(), Event(subject="000000000000"), signatures[0]) == "bad_signature"


def test_a_signature_by_an_unregistered_key_under_a_registered_id_fails() -> None:
    # given an event signed by an impostor who claims the agency's key id
    impostor = Ed25519PrivateKey.generate()
    [signature] = sign_batch(impostor, KEY_ID, [Event().digest()])
    # then it does not verify against the registered key
    assert reason_of(verifier_for(), Event(), signature) == "bad_signature"


# --- keys -----------------------------------------------------------------------------------


def test_an_unknown_key_id_fails_as_unknown_key() -> None:
    # given an event signed with a key the directory does not hold
    other = Ed25519PrivateKey.generate()
    [signature] = signed([Event()], other)
    # when it is verified, then the key is unknown, and the message names agency and key id
    with pytest.raises(SignatureError) as caught:
        verify(verifier_for(), Event(), signature)
    assert caught.value.reason == "unknown_key"
    assert AGENCY in str(caught.value)
    assert signature.key_id in str(caught.value)
    assert caught.value.hint


def test_a_key_registered_for_another_agency_is_unknown_for_this_one() -> None:
    known = directory(KEY, agency="tax-office")
    verifier = Verifier(lambda agency, key_id: known.get((agency, key_id)))
    [signature] = signed([Event()])
    assert reason_of(verifier, Event(), signature) == "unknown_key"


def test_key_id_is_a_short_stable_id_of_the_public_key() -> None:
    public = KEY.public_key()
    key_id = key_id_for(public)
    assert key_id == key_id_for(Ed25519PublicKey.from_public_bytes(public.public_bytes_raw()))
    assert key_id.startswith("ed25519:")
    assert len(key_id) == len("ed25519:") + 16
    assert key_id != key_id_for(Ed25519PrivateKey.generate().public_key())


def test_public_key_text_round_trips() -> None:
    public = KEY.public_key()
    text = public_key_text(public)
    assert len(base64.b64decode(text)) == 32
    assert public_key_from_text(text).public_bytes_raw() == public.public_bytes_raw()


def is_key_text(text: str) -> bool:
    try:
        raw = base64.b64decode(text, validate=True)
        return len(raw) == 32 and base64.b64encode(raw).decode() == text
    except ValueError:
        return False


@given(st.text() | st.binary(min_size=30, max_size=34).map(lambda raw: base64.b64encode(raw).decode()))
def test_public_key_from_text_accepts_only_a_canonical_key_text(text: str) -> None:
    # given arbitrary text, or base64 of about 32 bytes
    if is_key_text(text.strip()):
        # then base64 of 32 bytes reads back to the same key text ...
        assert public_key_text(public_key_from_text(text)) == text.strip()
    else:
        # ... and anything else is refused as malformed
        with pytest.raises(SignatureError) as caught:
            public_key_from_text(text)
        assert caught.value.reason == "malformed"


def test_private_key_pem_round_trips() -> None:
    pem = private_key_pem(KEY)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert private_key_from_pem(pem).private_bytes_raw() == KEY.private_bytes_raw()


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"not a key",
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
        generate_private_key(SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    ],
    ids=["empty", "garbage", "encrypted", "not-ed25519"],
)
def test_a_key_file_that_is_not_an_unencrypted_ed25519_pem_fails_as_malformed(pem: bytes) -> None:
    with pytest.raises(SignatureError) as caught:
        private_key_from_pem(pem)
    assert caught.value.reason == "malformed"


# --- malformed headers ----------------------------------------------------------------------


@pytest.mark.parametrize("header", ["signature", "key_id"])
@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_signature_or_key_header_fails_as_malformed(header: str, missing: str | None) -> None:
    [signature] = signed([Event()])
    with pytest.raises(SignatureError) as caught:
        verify(verifier_for(), Event(), changed(signature, header, missing))
    assert caught.value.reason == "malformed"
    assert AGENCY in str(caught.value)


def test_signature_error_is_a_bus_error_with_a_stable_code() -> None:
    error = SignatureError("bad_proof", "message", hint="do this")
    assert isinstance(error, BusError)
    assert (error.code, error.reason, error.hint) == ("signature_invalid", "bad_proof", "do this")


def is_canonical_b64url(text: str) -> bool:
    try:
        return b64url(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == text
    except ValueError:
        return False


@given(st.text())
def test_any_text_as_signature_gives_a_signature_error(text: str) -> None:
    # given a valid event; when its signature header is replaced by arbitrary text
    [signature] = signed([Event()])
    reason = reason_of(verifier_for(), Event(), replace(signature, signature=text))
    # then only SignatureError is raised; malformed unless it is 64 bytes of base64url
    canonical = is_canonical_b64url(text) and len(text) == 86
    assert reason == ("bad_signature" if canonical else "malformed")


@given(st.text(), st.integers(min_value=2, max_value=9))
def test_any_text_as_proof_gives_a_signature_error(text: str, size: int) -> None:
    # given a batch member; when its proof header is replaced by arbitrary non-empty text
    batch = events(size)
    signatures = signed(batch)
    if text == "":
        return  # the empty proof means a batch of one; covered above
    reason = reason_of(verifier_for(), batch[0], replace(signatures[0], proof=text))
    # then only SignatureError is raised; malformed exactly when it is not base64url of a
    # length some proof could have (at most 1376 characters)
    readable = is_canonical_b64url(text) and len(text) <= 1376
    assert (reason != "malformed") == readable


@given(st.binary(max_size=1100))
def test_any_bytes_as_proof_are_refused(raw: bytes) -> None:
    # given a batch member; when its proof decodes to arbitrary bytes
    batch = events(5)
    signatures = signed(batch)
    reason = reason_of(verifier_for(), batch[1], replace(signatures[1], proof=b64url(raw) or "AA"))
    # then it is refused as a proof that does not fit or a root that was not signed
    assert reason in {"bad_proof", "bad_signature"}


@given(st.binary(min_size=64, max_size=64))
def test_any_64_bytes_as_signature_fail_as_bad_signature(raw: bytes) -> None:
    [signature] = signed([Event()])
    assert reason_of(verifier_for(), Event(), replace(signature, signature=b64url(raw))) == "bad_signature"


@given(st.text())
def test_any_text_as_key_id_gives_a_signature_error(text: str) -> None:
    [signature] = signed([Event()])
    reason = reason_of(verifier_for(), Event(), replace(signature, key_id=text))
    assert reason in {"malformed", "unknown_key"}


@given(
    st.sampled_from(["signature", "proof", "key_id"]),
    st.binary() | st.integers() | st.lists(st.text()),
)
def test_non_text_in_a_header_slot_fails_as_malformed(header: str, junk: object) -> None:
    # given a batch member; when a header slot holds bytes, a number or a list instead of text
    batch = events(3)
    signatures = signed(batch)
    tampered = changed(signatures[1], header, junk)
    # then it is malformed, never a TypeError or AttributeError
    assert reason_of(verifier_for(), batch[1], tampered) == "malformed"


@given(st.binary().filter(lambda raw: len(raw) != 32))
def test_a_digest_that_is_not_32_bytes_fails_as_malformed(digest: bytes) -> None:
    [signature] = signed([Event()])
    with pytest.raises(SignatureError) as caught:
        verifier_for().verify(AGENCY, digest, signature.signature, signature.proof, signature.key_id)
    assert caught.value.reason == "malformed"


# --- event digest ---------------------------------------------------------------------------


def test_event_digest_is_32_bytes_and_deterministic() -> None:
    assert len(Event().digest()) == 32
    assert Event().digest() == Event().digest()


def test_event_digest_distinguishes_a_tombstone_from_an_empty_value() -> None:
    assert Event(value=None).digest() != Event(value=b"").digest()


def test_event_digest_distinguishes_no_sequence_from_sequence_zero() -> None:
    assert Event(sequence=None).digest() != Event(sequence=0).digest()


@pytest.mark.parametrize(
    "change",
    [
        {"source": "/agencies/tax-office/gbd-fl"},
        {"event_id": "0b9c6f3e-5a7d-4f0e-9d8a-2f4c1e6b7a91"},
        {"ce_type": "gov.civil.Person.deleted"},
        {"subject": "900514301238"},
        {"time": "2026-11-23T09:30:00.123Z"},
        {"sequence": 8},
        {"value": b"\x00\x00\x00\x00\x01avro-bodY"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_event_digest_is_sensitive_to_each_field(change: dict[str, Any]) -> None:
    assert replace(Event(), **change).digest() != Event().digest()


def test_event_digest_cannot_move_text_across_a_field_boundary() -> None:
    assert Event(subject="ab", time="c").digest() != Event(subject="a", time="bc").digest()
    assert Event(time="1", sequence=None).digest() != Event(time="", sequence=1).digest()


def test_event_digest_refuses_text_that_is_not_utf8_encodable() -> None:
    with pytest.raises(SignatureError) as caught:
        Event(subject="\ud800").digest()
    assert caught.value.reason == "malformed"


# --- layering -------------------------------------------------------------------------------


class DigestFields(TypedDict):
    source: str
    event_id: str
    ce_type: str
    subject: str
    time: str
    sequence: int | None
    value: bytes | None


def test_event_digest_covers_bus_changed() -> None:
    base: DigestFields = {
        "source": "/agencies/a/s",
        "event_id": "e",
        "ce_type": "t.updated",
        "subject": "k",
        "time": "2026-11-23T00:00:00Z",
        "sequence": 1,
        "value": b"v",
    }
    digests = {
        event_digest(**base),
        event_digest(**base, changed=""),
        event_digest(**base, changed="phone"),
        event_digest(**base, changed="registered_address"),
    }
    assert len(digests) == 4
