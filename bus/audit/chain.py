"""The hash chain of the audit archive: canonical bytes of an archived entry and the chain step.

One chain per partition of ``bus.audit``, in offset order:
``hash = SHA-256(prev_hash ‖ canonical_bytes(entry))``, ``prev_hash`` of the first row = 32 zero bytes.

Canonical bytes are UTF-8 JSON of one object with sorted keys, no whitespace and no ASCII escaping
(``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``). For the value types used
here — strings, integers below 2^53, null and arrays of strings — that is exactly RFC 8785 (JCS), so
an auditor can recompute a chain in any language from the SQL rows alone. The object holds every
field of the Avro ``AuditEntry`` (``bus/audit/entry.py``) plus ``kafka_partition`` and
``kafka_offset``, so a row cannot be moved to another position unnoticed. Timestamps are integer
milliseconds since the Unix epoch (the Avro ``timestamp-millis`` value), ``decision`` is its lower-case
value (``delivered``). JSON rather than the Avro body: the archive must stay checkable when the Avro
schema evolves and by tools that have no Avro library.

Pure: standard library only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bus.audit.entry import Decision

GENESIS: Final = bytes(32)
"""The ``prev_hash`` of the first row of every partition's chain."""

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS: Final = dt.timedelta(milliseconds=1)


def utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; naive values are UTC already (SQLite returns them so)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def epoch_ms(value: dt.datetime) -> int:
    """Exact integer milliseconds since the epoch (float ``timestamp()`` would round)."""
    return (utc(value) - _EPOCH) // _MS


@dataclass(frozen=True, slots=True)
class ArchivedEntry:
    """One audit entry at its place in the audit topic: what a row of the archive holds, minus its hash."""

    kafka_partition: int
    kafka_offset: int
    entry_id: str
    time: dt.datetime
    decision: Decision
    subject: str
    provider: str
    record_type: str
    event_id: str
    event_time: dt.datetime
    reason: str | None = None
    consumer: str | None = None
    agreement_id: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    fields: tuple[str, ...] = ()
    replaces: str | None = None
    purpose_code: str | None = None
    hidden_until: dt.datetime | None = None
    hidden_reason: str | None = None
    hidden_legal_basis: str | None = None

    @classmethod
    def from_avro(cls, partition: int, offset: int, record: Mapping[str, Any]) -> ArchivedEntry:
        """From a decoded Avro record (decision as its symbol); KeyError/ValueError when malformed."""
        return cls(
            kafka_partition=partition,
            kafka_offset=offset,
            entry_id=record["entry_id"],
            time=utc(record["time"]),
            decision=Decision[record["decision"]],
            subject=record["subject"],
            provider=record["provider"],
            record_type=record["record_type"],
            event_id=record["event_id"],
            event_time=utc(record["event_time"]),
            reason=record.get("reason"),
            consumer=record.get("consumer"),
            agreement_id=record.get("agreement_id"),
            purpose=record.get("purpose"),
            legal_basis=record.get("legal_basis"),
            fields=tuple(record.get("fields") or ()),
            replaces=record.get("replaces"),
            purpose_code=record.get("purpose_code"),
            hidden_until=utc(record["hidden_until"]) if record.get("hidden_until") else None,
            hidden_reason=record.get("hidden_reason"),
            hidden_legal_basis=record.get("hidden_legal_basis"),
        )

    def document(self) -> dict[str, Any]:
        """The JSON object whose canonical form is chained (see the module docstring).

        Fields added after the first archives (purpose code, delayed disclosure) are in it only when
        set, so every row archived before them hashes exactly as it did.
        """
        later = {
            "purpose_code": self.purpose_code,
            "hidden_until": epoch_ms(self.hidden_until) if self.hidden_until else None,
            "hidden_reason": self.hidden_reason,
            "hidden_legal_basis": self.hidden_legal_basis,
        }
        return {
            **{name: value for name, value in later.items() if value is not None},
            "kafka_partition": self.kafka_partition,
            "kafka_offset": self.kafka_offset,
            "entry_id": self.entry_id,
            "time": epoch_ms(self.time),
            "decision": self.decision.value,
            "reason": self.reason,
            "subject": self.subject,
            "provider": self.provider,
            "consumer": self.consumer,
            "agreement_id": self.agreement_id,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "record_type": self.record_type,
            "fields": list(self.fields),
            "event_id": self.event_id,
            "event_time": epoch_ms(self.event_time),
            "replaces": self.replaces,
        }

    def canonical_bytes(self) -> bytes:
        """RFC 8785-compatible JSON of ``document()``: what the chain hashes."""
        return json.dumps(self.document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_step(prev_hash: bytes, canonical: bytes) -> bytes:
    """The next link: SHA-256 over the previous row's hash and this row's canonical bytes."""
    return hashlib.sha256(prev_hash + canonical).digest()


def link(prev_hash: bytes, entry: ArchivedEntry) -> bytes:
    """``chain_step`` for an entry."""
    return chain_step(prev_hash, entry.canonical_bytes())
