"""What an idle bus costs: CPU of a `bus up` with no traffic, its broker included, in two windows.

`bus up --ephemeral` on free ports is started as a user would; once it says "press Ctrl-C", the CPU
time (user + system, from /proc) of the process and every descendant — the broker's JVM or tansu,
the object store — is sampled over a "first minute" window and again over a "steady" window that
starts minutes later: the JVM's JIT compiler works through the first minutes, so a first-minute
figure measures warm-up, not idle. The figure is CPU-seconds per second: 1.0 is one core kept busy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.engine import engine
from bench.proc_cpu import cpu_s
from bus.broker.ports import free_port


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _cpu_seconds(root: int) -> dict[int, float]:
    """CPU seconds used so far by ``root`` and each of its descendants, by pid."""
    tree, found, todo = _children(), {}, [root]
    while todo:
        pid = todo.pop()
        try:
            found[pid] = cpu_s(Path(f"/proc/{pid}/stat"))
        except OSError:
            continue
        todo += tree.get(pid, [])
    return found


def _names(pids: dict[int, float]) -> dict[int, str]:
    names = {}
    for pid in pids:
        try:
            names[pid] = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            names[pid] = "?"
    return names


def _window(pid: int, seconds: float) -> dict[str, Any]:
    before, started = _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    after, elapsed = _cpu_seconds(pid), time.monotonic() - started
    names = _names(after)
    by_process: dict[str, float] = {}
    for child, used in after.items():
        share = (used - before.get(child, 0.0)) / elapsed
        by_process[names[child]] = round(by_process.get(names[child], 0.0) + share, 3)
    return {
        "window_s": round(elapsed, 1),
        "cores_busy_total": round(sum(by_process.values()), 3),
        "cores_busy_by_process": dict(sorted(by_process.items(), key=lambda kv: -kv[1])),
    }


def run(seconds: float = 60.0, settle_s: float = 15.0, steady_from_s: float | None = 240.0) -> dict[str, Any]:
    """``first_minute`` begins ``settle_s`` after ready, ``steady`` (None: none) ``steady_from_s`` after."""
    ports = ("--broker-port", "--registry-port", "--api-port", "--ops-port")
    argv = ["bus", "up", "--ephemeral", "--engine", engine().value]
    for option in ports:
        argv += [option, str(free_port())]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("BUS_BOOTSTRAP", None)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    windows: dict[str, Any] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "press Ctrl-C" in line:
                break
        else:
            raise RuntimeError(f"`bus up` exited with {proc.wait()} before it was ready")
        ready = time.monotonic()
        time.sleep(settle_s)
        windows["first_minute"] = _window(proc.pid, seconds)
        if steady_from_s is not None:
            time.sleep(max(0.0, ready + steady_from_s - time.monotonic()))
            windows["steady"] = _window(proc.pid, seconds)
            windows["steady"]["starts_after_ready_s"] = steady_from_s
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"engine": engine().value, **windows}
