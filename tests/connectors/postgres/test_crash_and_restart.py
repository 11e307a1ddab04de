"""No loss across a SIGKILLed connector and a restarted PostgreSQL; repeats only as same-ce_id copies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from bus.demo.civil_registry_db import citizen, populate
from tests.conftest import REPO
from tests.connectors.postgres.conftest import Cdc
from tests.connectors.postgres.workload import build, check
from tests.engine import PROFILE
from tests.postgres import PostgresServer
from tests.processes import LineReader, running_process
from tests.support.logins import settings_env


@contextlib.contextmanager
def connector_process(cdc: Cdc, bootstrap: str) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    """The connector as its own process, logged in as the provider agency."""
    argv = [
        sys.executable,
        "-m",
        "tests.connectors.postgres.connector_process",
        "--config",
        str(cdc.config_path),
        "--bootstrap",
        bootstrap,
        "--registry",
        cdc.registry_url,
        "--profile",
        PROFILE,
    ]
    with running_process(argv, cwd=REPO, env={**os.environ, **settings_env(cdc.login)}) as running:
        yield running


def test_a_connector_killed_mid_stream_resumes_without_loss(cdc: Cdc, kafka_bootstrap: str) -> None:
    # given 50 citizens, a workload of 3,000 statements, and the connector running as its own process
    populate(cdc.dsn, 50)
    workload = build(seed=11, statements=3000, existing=[citizen(n) for n in range(50)])
    half = len(workload.transactions) // 2
    with connector_process(cdc, kafka_bootstrap) as (proc, out):
        out.wait_for(r"streaming from slot")
        # when it is killed without warning while half of the transactions stream in
        killed = threading.Event()

        def kill_midway(number: int) -> None:
            if number == half:
                os.kill(proc.pid, signal.SIGKILL)
                killed.set()

        workload.run(cdc.dsn, after_each=kill_midway)
        proc.wait()
        assert killed.is_set()
        assert proc.returncode == -signal.SIGKILL
    # and a new process takes over
    with connector_process(cdc, kafka_bootstrap) as (_, out):
        out.wait_for(r"streaming from slot")
        events = asyncio.run(cdc.wait_for(workload.events, timeout_s=90))
    # then every committed change is there once per ce_id, per key in commit order
    check(events, workload)


async def test_the_connector_reconnects_when_postgres_restarts(
    cdc: Cdc, postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    # given a streaming connector and a first half of changes
    populate(cdc.dsn, 20)
    workload = build(seed=13, statements=600, existing=[citizen(n) for n in range(20)])
    first, second = workload.transactions[:30], workload.transactions[30:]
    async with cdc.running() as connector:
        workload.transactions = first
        await asyncio.to_thread(workload.run, cdc.dsn)
        # when PostgreSQL restarts under it
        await asyncio.to_thread(postgres.restart)
        workload.transactions = second
        await asyncio.to_thread(workload.run, cdc.dsn)
        workload.transactions = first + second
        # then it reconnects and every change arrives
        events = await cdc.wait_for(workload.events, timeout_s=90)
        assert connector.stopped == set()
    check(events, workload)
    assert "reconnecting" in caplog.text
