"""Agreements as every part sees them: folded from ``bus.agreements`` records, no I/O.

A tombstone revokes an agreement: the view keeps its last document so that denials can say
``revoked`` (and name it) instead of ``no_agreement``, and deliveries made under it still name their
legal basis. The processor, subscriber SDK, webhooks, wallet, reports and CLI all read this one view.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from pydantic import ValidationError

from bus.policy.agreement import Agreement

log = logging.getLogger(__name__)


class AgreementRecord(Protocol):
    """What the view needs of a ``bus.agreements`` record (an aiokafka ``ConsumerRecord`` has it)."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def offset(self) -> int: ...


class AgreementsView:
    """Active and revoked agreements by id, folded from ``bus.agreements`` records."""

    def __init__(self) -> None:
        self.active: dict[str, Agreement] = {}
        self.revoked: dict[str, Agreement] = {}
        self.version = 0  # bumps on every change, so compiled routes know when to refresh

    def apply(self, record: AgreementRecord) -> None:
        agreement_id = record.key.decode() if record.key else ""
        if record.value is None:
            previous = self.active.pop(agreement_id, None)
            if previous is not None:
                self.revoked[agreement_id] = previous
        else:
            try:
                agreement = Agreement.model_validate(json.loads(record.value))
            except (ValueError, ValidationError):
                log.warning("ignoring malformed agreement %r at offset %s", agreement_id, record.offset)
                return
            self.active[agreement.id] = agreement
            self.revoked.pop(agreement.id, None)
        self.version += 1

    def find(self, agreement_id: str) -> Agreement | None:
        """The agreement, active or revoked: deliveries made under a revoked one still name it."""
        return self.active.get(agreement_id) or self.revoked.get(agreement_id)

    def legal_basis(self, agreement_id: str) -> str | None:
        """The law a delivery under ``agreement_id`` was made under (None for an unknown id)."""
        found = self.find(agreement_id)
        return found.legal_basis if found else None
