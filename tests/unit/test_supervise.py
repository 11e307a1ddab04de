"""bus up's supervisor restarts a crashed component with backoff and says so; a clean stop stops all."""

from __future__ import annotations

import asyncio

import pytest

from bus.run.backoff import Backoff
from bus.run.supervise import Supervisor


class Flaky:
    """Crashes on its first ``crashes`` runs, then runs until stopped."""

    instances = 0

    def __init__(self, crashes: int) -> None:
        Flaky.instances += 1
        self.number = Flaky.instances
        self.crashes = crashes
        self.stopped = False

    async def start(self) -> None:
        return None

    async def run(self, stop: asyncio.Event) -> None:
        if self.number <= self.crashes:
            raise ConnectionError(f"broker went away (run {self.number})")
        await stop.wait()

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture(autouse=True)
def _fresh_count() -> None:
    Flaky.instances = 0


async def test_a_crashed_component_is_restarted_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a component that crashes once, under a supervisor with a short first backoff
    monkeypatch.setattr("bus.run.supervise.RESTART", Backoff(first_s=0.05, cap_s=30.0))
    reports: list[tuple[str, str]] = []
    supervisor = Supervisor(lambda name, what: reports.append((name, what)))
    stop = asyncio.Event()
    await supervisor.launch("processor", lambda: Flaky(crashes=1), stop)
    # when it crashes
    for _ in range(100):
        if supervisor.components[0].restarts:
            break
        await asyncio.sleep(0.02)
    # then a new instance runs, the crash was reported with its error, and the count says so
    [state] = supervisor.components
    assert (state.state, state.restarts) == ("running", 1)
    assert "broker went away" in (state.last_error or "")
    assert [name for name, _ in reports] == ["processor", "processor"]
    assert "restarting in" in reports[0][1]
    stop.set()
    await supervisor.wait()
    assert state.state == "stopped"


async def test_stop_ends_every_component_and_calls_their_stop() -> None:
    # given two healthy components
    supervisor = Supervisor(lambda name, what: None)
    stop = asyncio.Event()
    first = await supervisor.launch("a", lambda: Flaky(crashes=0), stop)
    second = await supervisor.launch("b", lambda: Flaky(crashes=0), stop)
    # when stop is set
    stop.set()
    await asyncio.wait_for(supervisor.wait(), 5)
    # then both were stopped
    assert isinstance(first, Flaky)
    assert isinstance(second, Flaky)
    assert first.stopped
    assert second.stopped
    assert {c.state for c in supervisor.components} == {"stopped"}


async def test_a_component_that_fails_its_first_start_stops_bus_up() -> None:
    # given a component whose start fails (a port in use)
    class Refuses(Flaky):
        async def start(self) -> None:
            raise OSError("address already in use")

    supervisor = Supervisor(lambda name, what: None)
    # when it is launched, then the error reaches the caller
    with pytest.raises(OSError, match="address already in use"):
        await supervisor.launch("gateway", lambda: Refuses(crashes=0), asyncio.Event())
