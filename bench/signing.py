"""Per-event Ed25519 signatures vs Merkle batch signatures: sign and verify rates (DESIGN §3).

Both schemes sign and verify the same event digests in the same run; digests are made
once up front (their rate is reported separately, as both schemes pay it equally).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bus.event.signing import EventSignature, Verifier, event_digest, key_id_for, sign_batch

AGENCY = "civil-registry"
BATCH = 500
VALUE = b"x" * 200  # same value size as the broker_storage figures


@dataclass(frozen=True)
class SigningFigures:
    scheme: str
    batch_size: int
    events: int
    sign_per_s: float
    verify_per_s: float
    ed25519_checks: int


def _digests(events: int) -> list[bytes]:
    return [
        event_digest(
            source=f"/agencies/{AGENCY}/gbd-fl",
            event_id=f"0b9c6f3e-5a7d-4f0e-9d8a-{i:012x}",
            ce_type="gov.civil.Person.updated",
            subject=f"{900000000000 + i:012d}",
            time="2026-11-23T09:30:00.123000Z",
            sequence=i,
            value=VALUE,
        )
        for i in range(events)
    ]


def _measure(scheme: str, batch_size: int, digests: Sequence[bytes]) -> SigningFigures:
    key = Ed25519PrivateKey.generate()
    key_id = key_id_for(key.public_key())
    public = key.public_key()
    started = time.perf_counter()
    signatures: list[EventSignature] = []
    for start in range(0, len(digests), batch_size):
        signatures += sign_batch(key, key_id, digests[start : start + batch_size])
    sign_rate = len(digests) / (time.perf_counter() - started)
    verifier = Verifier(lambda agency, kid: public if (agency, kid) == (AGENCY, key_id) else None)
    started = time.perf_counter()
    for digest, signature in zip(digests, signatures, strict=True):
        verifier.verify(AGENCY, digest, signature.signature, signature.proof, signature.key_id)
    verify_rate = len(digests) / (time.perf_counter() - started)
    expected_checks = -(-len(digests) // batch_size)
    if verifier.ed25519_checks != expected_checks:
        raise RuntimeError(
            f"{scheme}: expected {expected_checks} Ed25519 checks, ran {verifier.ed25519_checks}"
        )
    return SigningFigures(scheme, batch_size, len(digests), sign_rate, verify_rate, verifier.ed25519_checks)


def run(events: int) -> dict[str, Any]:
    """Sign and verify ``events`` digests one signature each, then in batches of 500."""
    started = time.perf_counter()
    digests = _digests(events)
    digest_rate = events / (time.perf_counter() - started)
    per_event = _measure("per_event", 1, digests)
    batch = _measure("batch", BATCH, digests)
    return {
        "events": events,
        "value_bytes": len(VALUE),
        "digest_per_s": digest_rate,
        "figures": [asdict(per_event), asdict(batch)],
        "batch_to_per_event": {
            "sign": batch.sign_per_s / per_event.sign_per_s,
            "verify": batch.verify_per_s / per_event.verify_per_s,
        },
    }
