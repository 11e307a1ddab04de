"""The processor's delivery proof covers the agreement and everything the consumer is told."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from bus.directory.model import PROCESSOR_IDENTITY, AgencyEntry, Role
from bus.event.signed_delivery import delivery_digest, sign_deliveries, verify_delivery
from bus.event.signed_event import Signer
from bus.event.signing import SignatureError, Verifier

HEADERS = [
    ("ce_source", b"/agencies/civil-registry/gbd-fl"),
    ("ce_id", b"6a1a4c5e-0000-4000-8000-000000000001"),
    ("ce_type", b"gov.civil.deliver.TaxPerson.updated"),
    ("ce_subject", b"900101300017"),
    ("ce_time", b"2026-12-07T08:00:00.123456Z"),
    ("bus_sequence", b"3"),
    ("bus_changed", b"surname"),
    ("bus_agreement", b"civil-to-tax"),
]
VALUE = b"\x00\x00\x00\x00\x07projected"


def _verifier(*signers: Signer) -> Verifier:
    keys: dict[str, Ed25519PublicKey] = {s.key_id: s.private_key.public_key() for s in signers}
    return Verifier(lambda identity, key_id: keys.get(key_id) if identity == PROCESSOR_IDENTITY else None)


def _batch(signer: Signer, count: int) -> list[tuple[list[tuple[str, bytes]], bytes | None]]:
    batch: list[tuple[list[tuple[str, bytes]], bytes | None]] = [
        ([(k, f"id-{n}".encode() if k == "ce_id" else v) for k, v in HEADERS], VALUE + bytes([n]))
        for n in range(count)
    ]
    sign_deliveries(signer, batch)
    return batch


@pytest.mark.parametrize(
    ("header", "other"),
    [
        ("bus_agreement", b"civil-to-police"),
        ("ce_type", b"gov.civil.deliver.TaxPerson.deleted"),
        ("bus_changed", b"surname,registered_address"),
        ("ce_time", b"2026-12-07T08:00:00.123Z"),
        ("ce_subject", b"900101300018"),
    ],
)
def test_the_digest_changes_with_each_covered_header(header: str, other: bytes) -> None:
    # given the same delivery with one covered header's text changed
    changed = [(k, other if k == header else v) for k, v in HEADERS]
    # when both are digested
    # then the digests differ
    assert delivery_digest(changed, VALUE) != delivery_digest(HEADERS, VALUE)


def test_a_delete_and_an_empty_value_digest_differently() -> None:
    assert delivery_digest(HEADERS, None) != delivery_digest(HEADERS, b"")


@given(count=st.integers(min_value=1, max_value=40))
def test_every_delivery_of_a_signed_batch_verifies(count: int) -> None:
    # given a batch of ``count`` deliveries signed once
    signer = Signer.of(Ed25519PrivateKey.generate())
    verifier = _verifier(signer)
    batch = _batch(signer, count)
    # when each is verified, then each verifies, with a single Ed25519 check for the batch
    for headers, value in batch:
        verify_delivery(verifier, headers, value)
    assert verifier.ed25519_checks == 1


def test_a_changed_value_under_a_genuine_proof_is_refused() -> None:
    signer = Signer.of(Ed25519PrivateKey.generate())
    [(headers, value)] = _batch(signer, 1)
    assert value is not None
    with pytest.raises(SignatureError) as refused:
        verify_delivery(_verifier(signer), headers, value + b"!")
    assert refused.value.reason == "bad_signature"


def test_an_unsigned_delivery_is_refused_as_not_written_by_the_processor() -> None:
    with pytest.raises(SignatureError, match="not written by the bus's processor"):
        verify_delivery(_verifier(), HEADERS, VALUE)


def test_a_key_that_is_not_the_processors_is_unknown() -> None:
    # given a batch signed by a key the verifier does not list for bus.processor
    stranger = Signer.of(Ed25519PrivateKey.generate())
    [(headers, value)] = _batch(stranger, 1)
    # then it is refused as an unknown key
    with pytest.raises(SignatureError) as refused:
        verify_delivery(_verifier(Signer.of(Ed25519PrivateKey.generate())), headers, value)
    assert refused.value.reason == "unknown_key"


def test_a_rotated_out_key_still_verifies_while_listed() -> None:
    # given deliveries signed by an old key and by its successor, both listed
    old, new = Signer.of(Ed25519PrivateKey.generate()), Signer.of(Ed25519PrivateKey.generate())
    verifier = _verifier(old, new)
    # then both verify
    for signer in (old, new):
        [(headers, value)] = _batch(signer, 1)
        verify_delivery(verifier, headers, value)


def test_only_the_processor_entry_has_the_processor_role() -> None:
    assert AgencyEntry(id=PROCESSOR_IDENTITY, name="p", role=Role.SERVICE).role is Role.SERVICE
    with pytest.raises(ValueError, match="processor"):
        AgencyEntry(id=PROCESSOR_IDENTITY, name="p")
    with pytest.raises(ValueError, match="processor"):
        AgencyEntry(id="tax", name="t", role=Role.SERVICE)
    with pytest.raises(ValueError, match="no tokens"):
        AgencyEntry(id=PROCESSOR_IDENTITY, name="p", role=Role.SERVICE, token_hashes=("x",))
