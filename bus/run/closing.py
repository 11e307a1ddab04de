"""Stop every client of a component even when one of them fails: a half-closed component leaks sockets."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable


async def close_all(
    closers: Iterable[Callable[[], Awaitable[object]]], log: logging.Logger, what: str
) -> None:
    """Await each closer in order; log (with traceback) and carry on past any that raises."""
    for close in closers:
        try:
            await close()
        except Exception:  # keep closing the rest
            log.exception("error while stopping %s", what)
