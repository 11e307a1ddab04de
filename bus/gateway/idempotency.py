"""``Idempotency-Key``: the same key and body give the same result once; another body is a 409.

Concurrent duplicates wait for the first request's result. The event id is derived from
(agency, key), so even a retry after a gateway restart (the cache is in memory) produces
the same ``ce_id``, which every later stage deduplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bus.gateway.errors import IdempotencyConflict

T = TypeVar("T")
_NAMESPACE = uuid.UUID("5f0f3c8e-8b0b-4c39-9a3e-6a1f2d4b7c10")


def event_id_for(agency: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{agency}/{idempotency_key}"))


def fingerprint(request: Any) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


class IdempotencyCache:
    """Bounded LRU of (agency, key) -> (request fingerprint, result future)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[str, asyncio.Future[Any]]] = OrderedDict()

    async def run(self, agency: str, key: str, request: Any, action: Callable[[], Awaitable[T]]) -> T:
        print_ = fingerprint(request)
        slot = (agency, key)
        entry = self._entries.get(slot)
        if entry is not None:
            if entry[0] != print_:
                raise IdempotencyConflict(
                    f"Idempotency-Key {key!r} of agency {agency!r} was already used for a different request",
                    hint="use a new key for a new change; reuse a key only to retry the same request",
                )
            self._entries.move_to_end(slot)
            result: T = await asyncio.shield(entry[1])
            return result
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._entries[slot] = (print_, future)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        try:
            value = await action()
        except BaseException as exc:
            self._entries.pop(slot, None)  # a failed attempt may be retried with the same key
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        future.set_result(value)
        return value
