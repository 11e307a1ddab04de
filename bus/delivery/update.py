"""What a receiving agency gets: a decoded update, or an error item naming what was wrong with a delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bus.event.envelope import ChangeKind

Ack = Callable[[], Awaitable[None]]


async def _no_ack() -> None:
    return None


@dataclass(frozen=True)
class Update:
    """One delivered change of one subject, as projected for this agreement (granted fields only)."""

    subject: str
    kind: ChangeKind
    record: dict[str, Any] | None
    changed: list[str]
    agreement: str
    legal_basis: str | None
    event_id: str
    event_time: datetime
    sequence: int | None
    record_name: str
    source: str
    topic: str
    partition: int
    offset: int
    _ack: Ack = field(default=_no_ack, repr=False, compare=False)

    async def ack(self) -> None:
        """Mark the update handled: remembered for dedup, then its offset is committed."""
        await self._ack()


@dataclass(frozen=True)
class Undeliverable:
    """A delivery the receiver cannot use (undecodable bytes, unknown schema id, bad headers).

    Surfaced as an item rather than raised, so one bad record never stops a subscriber.
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    reason: str
    detail: str
    value: bytes | None = field(default=None, repr=False)
    headers: list[tuple[str, bytes]] = field(default_factory=list, repr=False)
    _ack: Ack = field(default=_no_ack, repr=False, compare=False)

    async def ack(self) -> None:
        """Move past it (after parking or logging it)."""
        await self._ack()
