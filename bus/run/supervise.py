"""Keep the components of ``bus up`` running: start them in order, restart a crashed one with backoff.

A component is anything with ``start()``, ``run(stop)`` and ``stop()``; a fresh instance is made for
every restart, so a crash never leaves half-closed clients behind. The first start of each
component is not retried: a port in use or a wrong address should stop ``bus up`` with its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bus.run.backoff import Backoff, Retry, pause

log = logging.getLogger(__name__)
RESTART = Backoff(first_s=1.0, cap_s=30.0)
_STABLE_AFTER_S = 60.0  # a component that ran this long starts its backoff from the beginning again


class Component(Protocol):
    async def start(self) -> None: ...

    async def run(self, stop: asyncio.Event) -> None: ...

    async def stop(self) -> None: ...


class HttpService(Protocol):
    async def start(self) -> None: ...

    async def serve(self, stop: asyncio.Event, on_started: Callable[[], None] | None = None) -> None: ...

    async def stop(self) -> None: ...


class Served:
    """An HTTP service as a component whose start returns once its socket accepts connections."""

    def __init__(self, service: HttpService) -> None:
        self.service = service
        self._serving: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self.service.start()
        started = asyncio.Event()
        self._serving = asyncio.create_task(self.service.serve(self._stop, on_started=started.set))
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({self._serving, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._serving.done():
            self._serving.result()  # the bind error
            raise RuntimeError("the HTTP server stopped before it accepted connections")

    async def run(self, stop: asyncio.Event) -> None:
        assert self._serving is not None
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({self._serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        self._stop.set()
        await self._serving

    async def stop(self) -> None:
        self._stop.set()
        if self._serving is not None and not self._serving.done():
            with contextlib.suppress(Exception):
                await self._serving
        await self.service.stop()


@dataclass
class Supervised:
    name: str
    make: Callable[[], Component]
    current: Component | None = None
    state: str = "starting"
    restarts: int = 0
    last_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


Report = Callable[[str, str], None]  # (component name, what happened)


class Supervisor:
    def __init__(self, report: Report) -> None:
        self._report = report
        self.components: list[Supervised] = []

    async def launch(self, name: str, make: Callable[[], Component], stop: asyncio.Event) -> Component:
        """Start a component now (errors propagate), then keep it running in the background."""
        supervised = Supervised(name, make)
        component = make()
        await component.start()
        supervised.current, supervised.state = component, "running"
        supervised.task = asyncio.create_task(self._keep_running(supervised, component, stop), name=name)
        self.components.append(supervised)
        return component

    async def wait(self) -> None:
        """Until every component has stopped (after ``stop`` was set)."""
        await asyncio.gather(*(s.task for s in self.components if s.task is not None))

    def current(self, name: str) -> Component | None:
        return next((s.current for s in self.components if s.name == name), None)

    async def _keep_running(self, supervised: Supervised, component: Component, stop: asyncio.Event) -> None:
        retry = Retry(RESTART)
        while True:
            began = time.monotonic()
            try:
                await component.run(stop)
            except Exception as exc:
                supervised.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("component %s crashed", supervised.name)
            finally:
                with contextlib.suppress(Exception):
                    await component.stop()
            if stop.is_set():
                supervised.state = "stopped"
                return
            if time.monotonic() - began > _STABLE_AFTER_S:
                retry.succeeded()
            delay = retry.failed()
            supervised.state = "restarting"
            self._report(
                supervised.name,
                f"stopped ({supervised.last_error or 'no error'}); restarting in {delay:.0f} s",
            )
            restarted = await self._restart(supervised, stop, delay, retry)
            if restarted is None:
                supervised.state = "stopped"
                return
            component = restarted

    async def _restart(
        self, supervised: Supervised, stop: asyncio.Event, delay: float, retry: Retry
    ) -> Component | None:
        while not stop.is_set():
            if await pause(delay, stop):
                return None
            component = supervised.make()
            try:
                await component.start()
            except Exception as exc:
                supervised.last_error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(Exception):
                    await component.stop()
                delay = retry.failed()
                self._report(
                    supervised.name, f"restart failed ({supervised.last_error}); next in {delay:.0f} s"
                )
                continue
            supervised.current, supervised.state = component, "running"
            supervised.restarts += 1
            self._report(supervised.name, f"restarted (restart #{supervised.restarts})")
            return component
        return None
