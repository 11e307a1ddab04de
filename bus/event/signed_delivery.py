"""The processor's proof on each delivery: one Ed25519 signature per chunk, as publishers sign (DESIGN §3).

A delivery digest binds the agreement the delivery was decided under (``bus_agreement``) to the event
digest of what the consumer is told: the projected ``ce_type`` and value and the granted changed paths.
A record written straight into a delivery topic, or copied from another agreement's, does not verify.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from typing import Final

from bus.directory.model import PROCESSOR_IDENTITY
from bus.event.dead_letter import HeaderList
from bus.event.envelope import Headers
from bus.event.signed_event import SIGNED_HEADERS, Signer, proof_headers
from bus.event.signing import SignatureError, Verifier, event_digest_of_bytes, sign_batch

AGREEMENT_HEADER: Final = "bus_agreement"
PROOF_HEADERS: Final = ("bus_signature", "bus_sig_proof", "bus_sig_key")
DIGEST_HEADERS: Final = (*SIGNED_HEADERS, AGREEMENT_HEADER)
"""The headers a delivery digest reads: what a webhook body carries so that a receiver can check it."""
SIGNING_CHUNK: Final = 256
_DELIVERY_TAG: Final = b"agency-bus/delivery/v1"
_EVENT_HEADERS: Final = ("ce_source", "ce_id", "ce_type", "ce_subject", "ce_time", "bus_sequence")
_U32: Final = struct.Struct(">I")


def delivery_digest(headers: Headers | Mapping[str, bytes], value: bytes | None) -> bytes:
    """SHA-256 of the tag, the length-prefixed ``bus_agreement`` text and the delivered event's digest
    (``event_digest`` over the header bytes as delivered; a missing header counts as empty)."""
    found = headers if isinstance(headers, Mapping) else dict(headers)
    agreement = bytes(found.get(AGREEMENT_HEADER, b""))
    changed = found.get("bus_changed")
    inner = event_digest_of_bytes(
        [bytes(found.get(name, b"")) for name in _EVENT_HEADERS],
        value,
        None if changed is None else bytes(changed),
    )
    return hashlib.sha256(_DELIVERY_TAG + _U32.pack(len(agreement)) + agreement + inner).digest()


def sign_deliveries(
    signer: Signer, deliveries: Sequence[tuple[HeaderList, bytes | None]], *, chunk: int = SIGNING_CHUNK
) -> None:
    """Append the proof headers to each delivery's header list: one signature per ``chunk`` of them.

    Chunks bound the proof every delivery carries (8 levels, ~350 characters, for 256); pass the
    deliveries grouped by topic, so that each consumer checks one signature per chunk of its own.
    """
    for start in range(0, len(deliveries), chunk):
        part = deliveries[start : start + chunk]
        digests = [delivery_digest(headers, value) for headers, value in part]
        signatures = sign_batch(signer.private_key, signer.key_id, digests)
        for (headers, _), signed in zip(part, signatures, strict=True):
            headers += proof_headers(signed)


def verify_delivery(verifier: Verifier, headers: Headers | Mapping[str, bytes], value: bytes | None) -> None:
    """Return if the processor signed this delivery as it is, else raise ``SignatureError``."""
    found = headers if isinstance(headers, Mapping) else dict(headers)
    signature, proof, key_id = (_text(found.get(name)) for name in PROOF_HEADERS)
    if signature is None or key_id is None:
        raise SignatureError(
            "malformed",
            "this delivery carries no processor signature (bus_signature, bus_sig_key): it was not "
            "written by the bus's processor",
            hint="find who writes to this delivery topic besides the processor (`bus acl export`)",
        )
    verifier.verify(PROCESSOR_IDENTITY, delivery_digest(found, value), signature, proof, key_id)


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return bytes(raw).decode("ascii")
    except UnicodeDecodeError:
        return "\ufffd"  # never valid base64url: reported as malformed by the verifier
