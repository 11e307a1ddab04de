"""The installed ``bus`` executable, driven from a shell as a newcomer would."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bus.broker.engine import Engine
from bus.broker.ports import free_port
from tests.engine import ENGINE, PROFILE
from tests.processes import BROKER_LINE, bus, exported, pid_gone, running_bus


@pytest.fixture
def broker_up() -> Iterator[tuple[subprocess.Popen[str], str, int, dict[str, str]]]:
    """``bus broker up`` of the suite's engine: the process, the bootstrap address, the broker's pid, and
    the variables it says to export in another shell."""
    with running_bus("broker", "up", "--ephemeral", "--port", str(free_port())) as (proc, out):
        found = out.wait_for(BROKER_LINE)
        yield proc, found[1], int(found[2]), exported(out)


Started = tuple[subprocess.Popen[str], str, int, dict[str, str]]


def test_broker_up_then_create_then_list(broker_up: Started) -> None:
    # given `bus broker up` running in another shell, and what it said to export
    _, _, _, env = broker_up
    # when a topic is created and topics are listed through it
    created = bus("topics", "create", "ingress.civil-registry.person", "--profile", PROFILE, env=env)
    listed = bus("topics", "list", env=env)
    # then the topic exists with the ingress layout
    assert created.returncode == 0, created.stderr
    assert "created ingress.civil-registry.person (6 partitions, delete)" in created.stdout
    assert listed.returncode == 0, listed.stderr
    assert "ingress.civil-registry.person" in listed.stdout
    assert "ingress" in listed.stdout


def test_status_reports_the_single_local_node(broker_up: Started) -> None:
    _, bootstrap, _, env = broker_up
    result = bus("broker", "status", env=env)
    assert result.returncode == 0, result.stderr
    node_id = 1 if ENGINE is Engine.KAFKA else 111  # tansu names its one node 111
    assert f"brokers {node_id}@{bootstrap}" in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_stopping_broker_up_leaves_no_broker_behind(broker_up: Started, sig: signal.Signals) -> None:
    # given a running `bus broker up` and its broker child (a JVM on Kafka, tansu otherwise)
    proc, _, pid, _ = broker_up
    assert not pid_gone(pid, timeout_s=0), "the broker child should be running"
    # when the parent gets the signal (SIGKILL included: the child has a parent-death signal)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    # then the broker process is gone too
    assert pid_gone(pid, timeout_s=30)


def test_topics_without_a_broker_address_say_how_to_get_one() -> None:
    result = bus("topics", "list")
    assert result.returncode == 1
    assert "no broker address given" in result.stderr
    assert "bus broker up" in result.stderr


def test_unreachable_broker_is_reported_not_traced() -> None:
    result = bus("topics", "list", "--bootstrap", f"127.0.0.1:{free_port()}", timeout_s=120)
    assert result.returncode == 1
    assert "cannot reach the Kafka broker" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bus_up_demo_shows_who_received_what_within_30_seconds(tmp_path: Path) -> None:
    # given the README's first command
    ports = {
        name: str(free_port()) for name in ("--broker-port", "--registry-port", "--api-port", "--ops-port")
    }
    args = ("up", "--demo", *[x for pair in ports.items() for x in pair], "--data-dir", str(tmp_path))
    started = time.monotonic()
    with running_bus(*args) as (proc, out):
        # when it has started and run the scenario
        pid = int(out.wait_for(BROKER_LINE)[2])
        out.wait_for(r"who received what", timeout_s=60)
        avoided = out.wait_for(r"paper certificates avoided so far: (\d+)", timeout_s=30)
        elapsed = time.monotonic() - started
        out.wait_for(r"press Ctrl-C to stop")
        # then deliveries were made, and Ctrl-C stops it and its broker
        assert int(avoided[1]) >= 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert pid_gone(pid)
    assert "delivered" in "".join(out.lines)
    assert "consent_missing" in "".join(out.lines)
    print(f"demo table after {elapsed:.1f} s")  # the issue asks for < 30 s; reported, not asserted


def test_broker_up_keeps_topics_in_bus_data_across_restarts(tmp_path: Path) -> None:
    # given `bus broker up` started with defaults in an empty directory
    with running_bus("broker", "up", "--port", str(free_port()), cwd=tmp_path) as (proc, out):
        out.wait_for(rf"kept in\s+{tmp_path / 'bus-data'}")
        created = bus("topics", "create", "ingress.civil-registry.person", env=exported(out))
        assert created.returncode == 0, created.stderr
        # when it is stopped with Ctrl-C
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    # then a second start in the same directory finds the topic again
    with running_bus("broker", "up", "--port", str(free_port()), cwd=tmp_path) as (proc, out):
        listed = bus("topics", "list", env=exported(out))
        assert "ingress.civil-registry.person" in listed.stdout
    assert (tmp_path / "bus-data" / ("kafka" if ENGINE is Engine.KAFKA else "objects")).is_dir()


def test_second_broker_up_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    with running_bus("broker", "up", "--data-dir", str(tmp_path)) as (_, out):
        out.wait_for(r"broker ready at")
        second = bus("broker", "up", "--data-dir", str(tmp_path))
    assert second.returncode == 1
    assert f"data dir {tmp_path} is already in use" in second.stderr
    assert "--data-dir" in second.stderr


def test_registry_state_survives_a_bus_up_restart(tmp_path: Path) -> None:
    # given `bus up` on a data dir, with one extra subject registered by hand
    schema = '{"type": "record", "name": "Kept", "namespace": "gov.test", "fields": []}'
    subject = "ingress.civil-registry.kept-value"

    def start() -> tuple[str, list[str]]:
        port = free_port()
        args = [
            "up",
            "--registry-port",
            str(port),
            "--api-port",
            str(free_port()),
            "--ops-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path),
        ]
        return f"http://127.0.0.1:{port}", args

    url, args = start()
    token = {"BUS_OPERATOR_TOKEN": "restart-operator"}
    with running_bus(*args, env=token) as (proc, out):
        out.wait_for(r"press Ctrl-C to stop")
        headers = {"Authorization": "Bearer restart-operator"}
        kept_id = httpx.post(
            f"{url}/subjects/{subject}/versions", json={"schema": schema}, headers=headers
        ).json()
        person = httpx.get(f"{url}/subjects/ingress.civil-registry.person-value/versions/latest").json()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    # when it is started again on the same data dir
    url, args = start()
    with running_bus(*args, env=token) as (_, out):
        out.wait_for(r"press Ctrl-C to stop")
        # then the registry still knows both subjects with the same ids and versions
        assert httpx.get(f"{url}/subjects/{subject}/versions/latest").json()["id"] == kept_id["id"]
        assert (
            httpx.get(f"{url}/subjects/ingress.civil-registry.person-value/versions/latest").json() == person
        )


def test_a_second_demo_on_the_same_data_dir_decides_again(tmp_path: Path) -> None:
    # given a first `bus up --demo` that ran to its table and was stopped
    def demo() -> str:
        ports = [
            x
            for name in ("--broker-port", "--registry-port", "--api-port", "--ops-port")
            for x in (name, str(free_port()))
        ]
        with running_bus("up", "--demo", *ports, "--data-dir", str(tmp_path)) as (proc, out):
            avoided = out.wait_for(r"paper certificates avoided so far: (\d+)", timeout_s=90)[1]
            out.wait_for(r"press Ctrl-C to stop")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        return avoided

    first = demo()
    # when it is run again on the same data
    second = demo()
    # then the scenario's changes are decided again (sequences continue, nothing is taken as stale)
    assert int(first) >= 1
    assert int(second) >= 1
