"""Per-agency token buckets for ingestion: a burst is allowed, a sustained rate is not exceeded.

Each agency's bucket holds at most ``burst`` tokens and refills at ``rate_per_s``; an event costs
one token (a batch of n events costs n, at most the whole burst, so every batch can pass). When
the bucket cannot pay, the request is refused as a whole with ``RateLimited`` (HTTP 429) and
``retry_after_s``: when enough tokens will be back.

Hand-written (~40 lines) rather than the ``limits`` package: ``limits`` offers fixed and sliding
windows over pluggable storage (Redis, Memcached, MongoDB), none of which this needs — the bucket
is in-process state of one gateway, and a window counter would let a client send twice the limit
across a window edge. With several gateway replicas each has its own buckets, so the effective
limit is replicas times the rate; enforce a global limit at the load balancer if that matters.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bus.errors import BusError


class RateLimited(BusError):
    code = "rate_limited"
    retriable = True

    def __init__(self, message: str, *, retry_after_s: float, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1 (RFC 9110 ``Retry-After: delay-seconds``)."""
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``take(agency, cost)`` or raise ``RateLimited``; ``rate_per_s <= 0`` turns it off."""

    def __init__(self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, agency: str, cost: int = 1) -> None:
        if self.rate_per_s <= 0:
            return
        now = self._clock()
        bucket = self._buckets.setdefault(agency, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate_per_s)
        bucket.at = now
        cost = min(cost, self.burst)
        if cost <= bucket.tokens:
            bucket.tokens -= cost
            return
        raise RateLimited(
            f"agency {agency!r} is over its ingestion rate of {self.rate_per_s:g} events/s "
            f"(burst {self.burst})",
            retry_after_s=(cost - bucket.tokens) / self.rate_per_s,
            hint="retry after the Retry-After seconds; spread events out or send fewer per batch",
        )
