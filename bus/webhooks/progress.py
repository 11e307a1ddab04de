"""Which offsets of a partition may be committed while updates finish out of order across keys.

Keys of one partition are delivered concurrently, so offset 7 (key B) may finish before offset 5
(key A) is still retrying; the commit point is the first offset not yet finished, never past it.
"""

from __future__ import annotations

from collections import deque


class PartitionProgress:
    """Offsets handed out for one partition, in fetch order, and which of them are finished."""

    def __init__(self) -> None:
        self._open: deque[int] = deque()
        self._finished: set[int] = set()
        self._next: int | None = None
        self._last = -1

    def add(self, offset: int) -> None:
        if offset <= self._last:
            raise ValueError(f"offset {offset} added after {self._last}; offsets must increase")
        self._open.append(offset)
        self._last = offset

    def finish(self, offset: int) -> None:
        """Mark an offset delivered or parked; the commit point moves past every leading finished one."""
        self._finished.add(offset)
        while self._open and self._open[0] in self._finished:
            done = self._open.popleft()
            self._finished.discard(done)
            self._next = done + 1

    @property
    def unfinished(self) -> int:
        return len(self._open) - len(self._finished)

    @property
    def commit_point(self) -> int | None:
        """The offset to commit (next to read after a restart), or None while nothing is finished."""
        return self._next
