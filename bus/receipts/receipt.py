"""One receipt, its signature, and the rule that only the consumer itself can sign one.

A receipt names the delivery it acknowledges by its delivery digest (``bus.event.signed_delivery``),
so it proves receipt of exactly the bytes the processor signed. The value is compact JSON; the
signature covers ``SHA-256("agency-bus/receipt/v1" ‖ value bytes)``, batched like every other
signature on the bus (one Ed25519 signature per ack batch, a Merkle proof per receipt).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bus.event.signed_event import Signer
from bus.event.signing import SignatureError, Verifier, sign_batch

_TAG: Final = b"agency-bus/receipt/v1"
SIGNATURE_HEADERS: Final = ("bus_signature", "bus_sig_proof", "bus_sig_key")
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


class Receipt(BaseModel):
    """What a consumer signs once its SDK handed a delivery over (value of a ``bus.receipts`` record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer: str = Field(min_length=1, max_length=64)
    agreement: str = Field(min_length=1, max_length=64)
    event_id: str = Field(min_length=1, max_length=64)
    subject: str = Field(min_length=1, max_length=256)
    delivery: str = Field(pattern=r"^[0-9a-f]{64}$")  # hex delivery digest: what exactly was received
    received_at: dt.datetime


def receipt_digest(value: bytes) -> bytes:
    return hashlib.sha256(_TAG + value).digest()


def signed_receipts(signer: Signer, receipts: Sequence[Receipt]) -> list[Record]:
    """Records for ``bus.receipts`` (key = event id), all signed with one signature."""
    values = [r.model_dump_json().encode() for r in receipts]
    signatures = sign_batch(signer.private_key, signer.key_id, [receipt_digest(v) for v in values])
    return [
        (
            r.event_id.encode(),
            value,
            [
                ("bus_signature", s.signature.encode()),
                ("bus_sig_proof", s.proof.encode()),
                ("bus_sig_key", s.key_id.encode()),
            ],
        )
        for r, value, s in zip(receipts, values, signatures, strict=True)
    ]


def verified_receipt(verifier: Verifier, value: bytes | None, headers: dict[str, bytes]) -> Receipt:
    """The receipt if its consumer signed it, else ``SignatureError`` (another agency cannot sign one)."""
    try:
        receipt = Receipt.model_validate_json(value or b"")
    except ValidationError as exc:
        raise SignatureError("malformed", f"not a receipt: {exc.errors()[0]['msg']}") from None
    signature, proof, key_id = (headers.get(h, b"").decode("ascii", "replace") for h in SIGNATURE_HEADERS)
    verifier.verify(receipt.consumer, receipt_digest(value or b""), signature, proof or None, key_id)
    return receipt
