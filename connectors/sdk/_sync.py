"""A blocking face for ``Publisher``, generated from its async methods (not a hand-kept twin)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from connectors.sdk._publisher import Publisher


class SyncPublisher:
    """Same constructor and methods as ``Publisher``, blocking; runs its own event loop thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sync-publisher", daemon=True)
        self._thread.start()
        self._async: Publisher = self._call(self._build(args, kwargs))
        self._call(self._async.start())

    @staticmethod
    async def _build(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Publisher:
        return Publisher(*args, **kwargs)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        attribute = getattr(self._async, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute  # type: ignore[no-any-return]

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._call(attribute(*args, **kwargs))

        return blocking

    def close(self) -> None:
        try:
            self._call(self._async.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
