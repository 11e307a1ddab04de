"""A citizen's consent, as kept on ``bus.consent`` (DESIGN §2, §5), and a point-in-time view of it.

The citizen's wallet (through the portal) grants or revokes consent for one consumer and one
purpose; each change is a ``ConsentRecord`` keyed by ``consent_key(subject, consumer, purpose)``.
The topic is compacted, but the view keeps a short, time-ordered history per key, because the
question the processor asks is "was consent in force *when the change happened*": a grant that
covered an event still counts after a later revoke, and an event after a revoke is denied even
if it is processed late. A grant may carry ``valid_until`` (like an Account Aggregator consent
artefact's ``consentExpiry``): after it, the grant reads as expired without anyone writing again.
"""

from __future__ import annotations

import bisect
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = ["ConsentRecord", "ConsentStatus", "ConsentView", "consent_key"]

HISTORY_LIMIT: Final = 32


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    REVOKED = "revoked"
    EXPIRED = "expired"  # never written: what a grant reads as after its valid_until


class ConsentRecord(BaseModel):
    """One consent change: who (subject, e.g. an IIN) lets whom (consumer) use their data for what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1)
    consumer: str = Field(min_length=1)
    purpose: str = Field(min_length=1)
    status: ConsentStatus
    time: AwareDatetime
    channel: str = "wallet"
    valid_until: AwareDatetime | None = None

    @field_validator("valid_until")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Kept in UTC, so every view prints the same moment whatever zone the portal sent."""
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _check_validity(self) -> ConsentRecord:
        if self.status is ConsentStatus.EXPIRED:
            raise ValueError("expired is not written: give the grant a valid_until instead")
        if self.valid_until is not None:
            if self.status is not ConsentStatus.GRANTED:
                raise ValueError("only a grant has a valid_until; a revoke ends consent at once")
            if self.valid_until <= self.time:
                raise ValueError(
                    f"valid_until {self.valid_until.isoformat()} is not after {self.time.isoformat()}"
                )
        return self

    @property
    def key(self) -> str:
        return consent_key(self.subject, self.consumer, self.purpose)

    def status_at(self, at: datetime) -> ConsentStatus:
        """This change's status at ``at``: a grant past its ``valid_until`` reads as expired."""
        if self.valid_until is not None and at > self.valid_until:
            return ConsentStatus.EXPIRED
        return self.status


def consent_key(subject: str, consumer: str, purpose: str) -> str:
    """The ``bus.consent`` record key: a JSON array, so no separator inside a part can confuse it."""
    return json.dumps([subject, consumer, purpose], ensure_ascii=False, separators=(",", ":"))


class ConsentView:
    """Consent state rebuilt from ``bus.consent``, answerable at any point in time.

    Per key it keeps the last ``history`` changes sorted by their own time (not by arrival),
    so a change that arrives late still lands in the right place. A record whose key is not
    the key of its own subject, consumer and purpose is ignored, as is anything malformed.
    """

    def __init__(self, *, history: int = HISTORY_LIMIT) -> None:
        if history < 1:
            raise ValueError("history must keep at least one record per key")
        self._history = history
        self._by_key: dict[str, list[tuple[datetime, ConsentStatus, datetime | None]]] = {}

    def __len__(self) -> int:
        """How many (subject, consumer, purpose) keys have any history."""
        return len(self._by_key)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Fold one ``bus.consent`` record in; a tombstone forgets the key's history."""
        if key is None:
            return
        try:
            text = key.decode("utf-8")
        except UnicodeDecodeError:
            return
        if value is None:
            self._by_key.pop(text, None)
            return
        try:
            record = ConsentRecord.model_validate_json(value)
        except ValidationError:
            return
        if record.key != text:
            return
        entry = (record.time, record.status, record.valid_until)
        entries = self._by_key.setdefault(text, [])
        if entry in entries:  # the same change delivered again (at-least-once)
            return
        bisect.insort_right(entries, entry, key=lambda item: item[0])
        if len(entries) > self._history:
            del entries[: len(entries) - self._history]

    def state_at(self, subject: str, consumer: str, purpose: str, at: datetime) -> ConsentStatus | None:
        """The status decided by the last change at or before ``at``; None if there was none by then.

        Of two changes with the same time, the one applied later wins; a grant whose ``valid_until``
        is before ``at`` is ``EXPIRED``.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise TypeError("state_at needs a timezone-aware time, e.g. datetime(..., tzinfo=UTC)")
        entries = self._by_key.get(consent_key(subject, consumer, purpose))
        if not entries:
            return None
        index = bisect.bisect_right(entries, at, key=lambda item: item[0])
        if not index:
            return None
        _, status, valid_until = entries[index - 1]
        return ConsentStatus.EXPIRED if valid_until is not None and at > valid_until else status
