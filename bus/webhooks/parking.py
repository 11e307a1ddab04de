"""A parked update: the delivery's key, bytes and headers untouched, plus why (like ``dlq.<provider>``)."""

from __future__ import annotations

from bus.event.dead_letter import DeadLetter, dead_letter_headers
from bus.event.dead_letter import HeaderList as Headers

STAGE_DECODE = "decode"
STAGE_WEBHOOK = "webhook"

REASON_REJECTED = "receiver_rejected"
REASON_HORIZON = "horizon_exceeded"


def parked_headers(
    original: Headers,
    *,
    stage: str,
    reason: str,
    detail: str,
    topic: str,
    status: int | None = None,
    attempts: int = 0,
) -> Headers:
    """``bus_dlq_*`` as the processor writes them (so ``bus dlq``-style tools read both), plus
    the last HTTP status and the number of attempts."""
    headers = dead_letter_headers(original, DeadLetter(stage, reason, detail), topic=topic)
    if status is not None:
        headers.append(("bus_dlq_status", str(status).encode()))
    headers.append(("bus_dlq_attempts", str(attempts).encode()))
    return headers
