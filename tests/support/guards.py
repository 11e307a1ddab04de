"""A test must leave the process as it found it: environment variables, threads and asyncio tasks are
checked after each test, and a test that leaves any behind fails, naming what it left.

- **Environment**: ``os.environ`` is compared before and after (``monkeypatch`` undoes its own).
- **Threads**: every thread alive after the test (and its function-scoped fixtures) was stopped,
  that was not alive before it, is a leak, after up to ``GRACE_S`` for threads already told to stop.
  Module-, package- and session-scoped fixtures are set up before the snapshot, so their threads are
  not the test's. One kind is not counted: an idle worker of a thread pool that was already running
  before the test (an event loop's default executor owned by a longer-lived fixture, for example),
  because such a pool grows by itself when more work arrives at once and shrinks only when its
  owner shuts it down.
- **Tasks**: pytest-asyncio gives each test its own event loop (``asyncio_default_fixture_loop_scope
  = "function"``); when it is about to close that loop, after the test's async fixtures are torn
  down, every task still pending on it is a leak (the loop's closing would otherwise cancel it
  silently), after up to ``GRACE_S`` for tasks that are already finishing.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections.abc import Generator, Iterator
from concurrent.futures import thread as pool_thread
from typing import Any

import pytest

GRACE_S = 2.0
_FUNCTION_LOOP = "_function_scoped_runner"  # pytest-asyncio's fixture holding the test's asyncio.Runner


@pytest.fixture(autouse=True)
def no_leaked_environment() -> Iterator[None]:
    """Fail a test that changed ``os.environ`` without ``monkeypatch`` (the next test would inherit it)."""
    before = _ours(os.environ)
    yield
    after = _ours(os.environ)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        for key in changed:
            if key in before:
                os.environ[key] = before[key]
            else:
                os.environ.pop(key, None)
        pytest.fail(f"the test left environment variables changed: {', '.join(changed)}")


def _ours(environ: os._Environ[str]) -> dict[str, str]:
    """Everything but pytest's own bookkeeping variable."""
    return {k: v for k, v in environ.items() if k != "PYTEST_CURRENT_TEST"}


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that left a thread running (see the module docstring for the one exception)."""
    before = set(threading.enumerate())
    pools = {pool for pool in map(_pool_of, before) if pool is not None}
    yield
    deadline = time.monotonic() + GRACE_S
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and not _grown(t, pools)]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if leaked:
        pytest.fail(f"the test left {len(leaked)} thread(s) running: {'; '.join(map(_describe, leaked))}")


def _pool_of(thread: threading.Thread) -> object | None:
    """The ``ThreadPoolExecutor`` a worker thread serves, or None for any other thread."""
    if getattr(thread, "_target", None) is not pool_thread._worker:
        return None
    args: tuple[Any, ...] = getattr(thread, "_args", ())
    reference = args[0] if args else None
    return reference() if isinstance(reference, weakref.ref) else None


def _grown(thread: threading.Thread, pools: set[object]) -> bool:
    """A worker added to a pool that was running before the test (the pool's owner outlives it)."""
    pool = _pool_of(thread)
    return pool is not None and pool in pools


def _describe(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    what = getattr(target, "__qualname__", None) or type(thread).__qualname__
    module = getattr(target, "__module__", None) or type(thread).__module__
    return f"{thread.name!r} ({module}.{what}{', daemon' if thread.daemon else ''})"


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """When the test's event loop is made, arrange for its pending tasks to be checked before it
    closes: this finaliser is added right after the runner's own, so it runs after the finalisers of
    every async fixture (added later, run first) and before the loop is closed."""
    runner = yield
    if fixturedef.argname == _FUNCTION_LOOP and isinstance(runner, asyncio.Runner):
        fixturedef.addfinalizer(lambda: _no_pending_tasks(runner))
    return runner


def _no_pending_tasks(runner: asyncio.Runner) -> None:
    loop = runner.get_loop()
    if loop.is_closed() or loop.is_running():
        return
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:  # give tasks that are already finishing (a cancellation in flight) a moment
        loop.run_until_complete(asyncio.wait(pending, timeout=GRACE_S))
        pending = [t for t in pending if not t.done()]
    if pending:
        named = "; ".join(_describe_task(t) for t in pending)
        pytest.fail(f"the test left {len(pending)} asyncio task(s) pending on its event loop: {named}")


def _describe_task(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    code = getattr(coro, "cr_code", None)
    where = f" at {code.co_filename}:{code.co_firstlineno}" if code is not None else ""
    return f"{task.get_name()!r} ({getattr(coro, '__qualname__', repr(coro))}{where})"
