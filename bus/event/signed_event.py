"""Turn record changes into signed ingress events, and check them on the way in.

The signature covers the header *text* as transmitted (never re-formatted values), so a
verifier computes exactly what the publisher signed whatever client wrote the headers.
Used by the publisher SDK and the HTTP gateway (sign) and by the processor (verify).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.event.envelope import ChangeKind, Envelope, Headers
from bus.event.signing import EventSignature, SignatureError, Verifier, event_digest, key_id_for, sign_batch
from bus.ids import EventId

SIGNED_HEADERS = ("ce_source", "ce_id", "ce_type", "ce_subject", "ce_time", "bus_sequence", "bus_changed")


@dataclass(frozen=True)
class Signer:
    """An agency's private key and the id its public key is registered under."""

    private_key: Ed25519PrivateKey
    key_id: str

    @classmethod
    def of(cls, private_key: Ed25519PrivateKey) -> Signer:
        return cls(private_key, key_id_for(private_key.public_key()))


@dataclass(frozen=True)
class Draft:
    """One change to publish: everything but the envelope's signature."""

    kind: ChangeKind
    record_name: str
    key: str
    value: bytes | None
    sequence: int | None
    changed: Sequence[str] | None = None
    event_id: str | None = None
    time: datetime | None = None


def digest_of(headers: Headers | Mapping[str, bytes], value: bytes | None) -> bytes:
    """The event digest from header text as transmitted (missing headers count as empty)."""
    text = {
        k: bytes(v).decode("utf-8", "replace")
        for k, v in (headers.items() if isinstance(headers, Mapping) else headers)
        if k in SIGNED_HEADERS
    }
    sequence = text.get("bus_sequence")
    if sequence is not None and not (sequence.isdigit() and str(int(sequence)) == sequence):
        raise SignatureError(
            "malformed",
            f"header bus_sequence {sequence[:40]!r} is not a plain decimal number",
            hint="publish through the bus SDK or gateway",
        )
    return event_digest(
        source=text.get("ce_source", ""),
        event_id=text.get("ce_id", ""),
        ce_type=text.get("ce_type", ""),
        subject=text.get("ce_subject", ""),
        time=text.get("ce_time", ""),
        sequence=int(sequence) if sequence is not None else None,
        value=value,
        changed=text.get("bus_changed"),
    )


def compose(provider: str, system: str, signer: Signer, drafts: Sequence[Draft]) -> list[Envelope]:
    """Envelopes for ``drafts``, all signed with one Merkle-batch signature."""
    envelopes = _envelopes(provider, system, drafts)
    digests = [digest_of(e.to_headers(), d.value) for e, d in zip(envelopes, drafts, strict=True)]
    signatures = sign_batch(signer.private_key, signer.key_id, digests)
    return [
        e.model_copy(update={"signature": s.signature, "sig_proof": s.proof, "sig_key": s.key_id})
        for e, s in zip(envelopes, signatures, strict=True)
    ]


def composed_headers(
    provider: str, system: str, signer: Signer, drafts: Sequence[Draft]
) -> list[tuple[EventId, list[tuple[str, bytes]]]]:
    """``compose`` as (event id, the headers to send) per draft: the same headers in the same order,
    built once per event instead of through a copy of each signed envelope (the publishers' hot path)."""
    envelopes = _envelopes(provider, system, drafts)
    headers = [e.to_headers() for e in envelopes]
    digests = [digest_of(h, d.value) for h, d in zip(headers, drafts, strict=True)]
    for found, signed in zip(headers, sign_batch(signer.private_key, signer.key_id, digests), strict=True):
        found += proof_headers(signed)
    return [(e.event_id, h) for e, h in zip(envelopes, headers, strict=True)]


def proof_headers(signed: EventSignature) -> list[tuple[str, bytes]]:
    """The three headers that carry a signature, its Merkle proof and its key id."""
    return [
        ("bus_signature", signed.signature.encode()),
        ("bus_sig_proof", signed.proof.encode()),
        ("bus_sig_key", signed.key_id.encode()),
    ]


def _envelopes(provider: str, system: str, drafts: Sequence[Draft]) -> list[Envelope]:
    return [
        Envelope.new(
            provider=provider,
            system=system,
            record_name=d.record_name,
            kind=d.kind,
            subject=d.key,
            sequence=d.sequence,
            changed=d.changed,
            event_id=d.event_id,
            time=d.time,
        )
        for d in drafts
    ]


def verify_event(verifier: Verifier, envelope: Envelope, headers: Headers, value: bytes | None) -> None:
    """Raise ``SignatureError`` unless the event carries a valid signature of its provider."""
    verifier.verify(
        envelope.provider, digest_of(headers, value), envelope.signature, envelope.sig_proof, envelope.sig_key
    )
