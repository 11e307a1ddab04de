"""Signed checkpoints of the audit chains, published to ``bus.audit.checkpoints`` (key = partition).

A checkpoint says "the chain of partition P of topic T, archived from its first row up to offset O,
has C rows and ends in hash H", signed with Ed25519 by the archiver's key. Recomputing a rewritten
chain in the database cannot reproduce H without the private key's signature, so a rewrite is caught
by comparing each checkpoint with the chain (``bus/audit/verify.py``).

The signed message is ``b"agency-bus/audit-checkpoint/v1"`` followed by the length-prefixed (u32 BE)
UTF-8 topic, u32 partition, u64 offset, u64 count, the 32 raw head-hash bytes and i64 creation time in
milliseconds — binary and unambiguous, like ``bus/event/signing.py``.

Pure: standard library, pydantic and ``cryptography`` only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import struct
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bus.audit.chain import epoch_ms, utc
from bus.audit.errors import CheckpointError
from bus.event.signing import key_id_for

_TAG: Final = b"agency-bus/audit-checkpoint/v1"
_NUMBERS: Final = struct.Struct(">IQQ")
_TIME: Final = struct.Struct(">q")
_HEX64: Final = r"^[0-9a-f]{64}$"


class Checkpoint(BaseModel):
    """One signed chain head; the JSON value of a record on the checkpoint topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0, description="Offset of the head row (the last row the checkpoint covers).")
    count: int = Field(ge=1, description="Rows in the chain from its first row up to and including offset.")
    head: str = Field(pattern=_HEX64, description="Hex SHA-256 chain hash of the row at offset.")
    created: dt.datetime
    key_id: str
    signature: str = Field(description="Unpadded base64url Ed25519 signature of signed_message().")

    def signed_message(self) -> bytes:
        return signed_message(self.topic, self.partition, self.offset, self.count, self.head, self.created)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | None) -> Checkpoint:
        """Parse a checkpoint record's value; ``CheckpointError`` when it is not one."""
        if data is None:
            raise CheckpointError("checkpoint record has no value", hint="checkpoints are never tombstones")
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise CheckpointError(
                f"checkpoint record is not a valid checkpoint: {exc.errors()[0]['msg']}",
                hint="only the audit archiver writes to the checkpoint topic; find who else does",
            ) from None


def signed_message(
    topic: str, partition: int, offset: int, count: int, head: str, created: dt.datetime
) -> bytes:
    """The exact bytes a checkpoint signature covers (see the module docstring)."""
    raw_topic = topic.encode()
    return b"".join(
        (
            _TAG,
            struct.pack(">I", len(raw_topic)),
            raw_topic,
            _NUMBERS.pack(partition, offset, count),
            bytes.fromhex(head),
            _TIME.pack(epoch_ms(created)),
        )
    )


def sign_checkpoint(
    key: Ed25519PrivateKey,
    *,
    topic: str,
    partition: int,
    offset: int,
    count: int,
    head: str,
    created: dt.datetime,
) -> Checkpoint:
    """A checkpoint signed with the archiver's key (``created`` is kept to the millisecond it signs)."""
    created = utc(created).replace(microsecond=created.microsecond // 1000 * 1000)
    signature = key.sign(signed_message(topic, partition, offset, count, head, created))
    return Checkpoint(
        topic=topic,
        partition=partition,
        offset=offset,
        count=count,
        head=head,
        created=created,
        key_id=key_id_for(key.public_key()),
        signature=base64.urlsafe_b64encode(signature).rstrip(b"=").decode(),
    )


def verify_checkpoint(checkpoint: Checkpoint, trusted: Mapping[str, Ed25519PublicKey]) -> None:
    """Return if a trusted key signed exactly this checkpoint; ``CheckpointError`` otherwise."""
    where = f"checkpoint of partition {checkpoint.partition} at offset {checkpoint.offset}"
    public_key = trusted.get(checkpoint.key_id)
    if public_key is None:
        raise CheckpointError(
            f"{where} is signed with key {checkpoint.key_id!r}, which is not a trusted key",
            hint="pass the archiver's public key file(s) with --trusted-key; keep rotated-out keys listed",
        )
    try:
        raw = base64.urlsafe_b64decode(checkpoint.signature + "=" * (-len(checkpoint.signature) % 4))
        public_key.verify(raw, checkpoint.signed_message())
    except (InvalidSignature, ValueError, binascii.Error):
        raise CheckpointError(
            f"{where} does not carry a valid signature of key {checkpoint.key_id!r}: "
            "the checkpoint was forged or changed after signing",
            hint="treat the checkpoint topic as tampered with; compare with a copy held elsewhere",
        ) from None
