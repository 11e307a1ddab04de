"""What one HTTP attempt means and when to try again: a pure policy, tested without sockets.

2xx = delivered; 5xx, 408, 429, timeouts and connection errors = retry with exponential backoff
and full jitter (``Retry-After`` honoured on 408/429/503); any other status = rejected at once,
because repeating the same request cannot change a 4xx answer.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass
from enum import StrEnum

from bus.run.backoff import Backoff

_THROTTLED = frozenset({408, 429})
_RETRY_AFTER_STATUSES = frozenset({408, 429, 503})


class Outcome(StrEnum):
    """One attempt's result; the ``outcome`` label of ``bus_webhook_attempts_total``."""

    DELIVERED = "delivered"
    SERVER_ERROR = "server_error"
    THROTTLED = "throttled"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    REJECTED = "rejected"

    @property
    def retriable(self) -> bool:
        return self not in (Outcome.DELIVERED, Outcome.REJECTED)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What happened to one POST: the outcome, and what to tell an operator about it."""

    outcome: Outcome
    status: int | None
    detail: str
    retry_after_s: float | None = None


def classify(status: int, body: str, retry_after: str | None, now: dt.datetime) -> Attempt:
    """Map an HTTP answer to an outcome; the detail keeps a body excerpt for the parked record."""
    excerpt = " ".join(body.split())[:300]
    detail = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if 200 <= status < 300:
        return Attempt(Outcome.DELIVERED, status, detail)
    wait = parse_retry_after(retry_after, now) if status in _RETRY_AFTER_STATUSES else None
    if status in _THROTTLED:
        return Attempt(Outcome.THROTTLED, status, detail, wait)
    if status >= 500:
        return Attempt(Outcome.SERVER_ERROR, status, detail, wait)
    return Attempt(Outcome.REJECTED, status, detail)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay(backoff: Backoff, failures: int, attempt: Attempt, rng: random.Random | None = None) -> float:
    """The receiver's ``Retry-After`` when it gave one, else the jittered backoff."""
    if attempt.retry_after_s is not None:
        return attempt.retry_after_s
    return backoff.delay(failures, rng)
