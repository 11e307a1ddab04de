"""One receipt, its signature, and who may sign one: the consumer itself, or for an agency that
receives by webhook, the webhook dispatcher (``bus.webhooks``) recording the receiver's HTTP answer.

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

from bus.directory.model import WEBHOOKS_IDENTITY
from bus.event.signed_delivery import PROOF_HEADERS
from bus.event.signed_event import Signer
from bus.event.signing import SignatureError, Verifier, sign_batch

_TAG: Final = b"agency-bus/receipt/v1"
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
    by: str | None = None  # the signer when not the consumer: bus.webhooks, for a webhook receiver
    status: int | None = Field(default=None, ge=100, le=599)  # the receiver's HTTP answer (webhooks)

    @property
    def signer(self) -> str:
        return self.by or self.consumer


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


def parsed_receipt(value: bytes | None) -> Receipt:
    """The receipt a record claims to be (not yet verified): ``SignatureError`` if it is none."""
    try:
        receipt = Receipt.model_validate_json(value or b"")
    except ValidationError as exc:
        raise SignatureError("malformed", f"not a receipt: {exc.errors()[0]['msg']}") from None
    if receipt.by is not None and receipt.by != WEBHOOKS_IDENTITY:
        raise SignatureError(
            "bad_signature",
            f"a receipt for {receipt.consumer!r} is signed by {receipt.consumer!r} itself, or by "
            f"{WEBHOOKS_IDENTITY!r} for a webhook receiver; not by {receipt.by!r}",
        )
    return receipt


def signed_by(headers: dict[str, bytes]) -> str:
    return headers.get("bus_sig_key", b"").decode("ascii", "replace")


def verified_receipt(verifier: Verifier, value: bytes | None, headers: dict[str, bytes]) -> Receipt:
    """The receipt if the consumer it names (or the dispatcher, for a webhook receipt) signed it; else
    ``SignatureError``: no agency can sign a receipt for another."""
    receipt = parsed_receipt(value)
    signature, proof, key_id = (headers.get(h, b"").decode("ascii", "replace") for h in PROOF_HEADERS)
    verifier.verify(receipt.signer, receipt_digest(value or b""), signature, proof or None, key_id)
    return receipt
