"""Helpers for tests that run the installed ``bus`` executable as a user would."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from tests.engine import ENGINE, login_env


def pids_with_arg(fragment: str) -> list[int]:
    """PIDs of live processes whose command line contains ``fragment``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (entry / "status").read_text()
        except OSError:
            continue
        if fragment in cmdline and "\nState:\tZ" not in status:
            found.append(int(entry.name))
    return found


def wait_until_gone(fragment: str, timeout_s: float = 15.0) -> list[int]:
    """Wait for every process matching ``fragment`` to exit; return any still alive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = pids_with_arg(fragment)
        if not alive:
            return []
        time.sleep(0.1)
    return pids_with_arg(fragment)


BROKER_LINE = r"(?:Apache Kafka|tansu) at (\S+) \(pid (\d+)"


def exported(out: LineReader) -> dict[str, str]:
    """What ``bus broker up`` / ``bus up`` tells a user to export in another shell (``export A=1 B=2``)."""
    line = out.wait_for(r"export ((?:BUS_[A-Z_]+=\S+ ?)+)")[1]
    return dict(pair.split("=", 1) for pair in line.split())


"""What ``bus up`` and ``bus broker up`` print about their local broker: address and (first) pid."""


def pid_gone(pid: int, timeout_s: float = 30.0) -> bool:
    """Wait for ``pid`` to exit (a zombie counts as gone); False if it is still running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return True
        if "\nState:\tZ" in status:
            return True
        time.sleep(0.1)
    return False


class LineReader:
    """Reads a child's merged output on a thread so tests can wait for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout

        def pump() -> None:
            for line in stream:
                self._queue.put(line)
            self._queue.put(None)

        self._thread = threading.Thread(target=pump, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._thread.join(timeout=5)

    def wait_for(self, pattern: str, timeout_s: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output was:\n{''.join(self.lines)}")


def bus_env(args: Sequence[str], env: Mapping[str, str] | None) -> dict[str, str]:
    """Plain output, the suite's engine, and the keyring of the broker named by ``--bootstrap``, as a
    user's shell has after exporting what ``bus up`` prints (``env`` wins)."""
    given = dict(env or {})
    login = {}
    if "--bootstrap" in args and "BUS_KEYRING" not in given and "BUS_SASL_USERNAME" not in given:
        login = login_env(args[list(args).index("--bootstrap") + 1])
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "BUS_ENGINE": ENGINE.value, **login, **given}


@contextlib.contextmanager
def running_bus(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    """Run the installed ``bus`` console script (plain output); stop it at exit."""
    env = bus_env(args, env)
    env.pop("BUS_BOOTSTRAP", None)
    with running_process(["bus", *args], cwd=cwd, env=env) as running:
        yield running


@contextlib.contextmanager
def running_process(
    argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    """Run ``argv`` with its output read line by line; SIGTERM (then SIGKILL after 15 s) at exit."""
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    ) as proc:
        reader = LineReader(proc)
        try:
            yield proc, reader
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            proc.wait()
            reader.close()


def bus(
    *args: str, timeout_s: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = bus_env(args, env)
    return subprocess.run(
        ["bus", *args], capture_output=True, text=True, env=env, timeout=timeout_s, check=False
    )
