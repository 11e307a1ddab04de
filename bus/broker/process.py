"""Child processes that never outlive the bus process that started them.

A broker left running after ``bus`` was killed holds a port and (later) a data dir,
so children get their own session and a parent-death signal (Linux prctl).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 10.0


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def set_pdeathsig() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_pdeathsig


def spawn(argv: Sequence[str], *, env: dict[str, str] | None, log_path: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, output to ``log_path``, SIGTERM if we die.

    Must be called from a thread that lives as long as the child: Linux sends the
    parent-death signal when the creating *thread* exits.
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )


def terminate(proc: subprocess.Popen[bytes], *, grace_s: float = STOP_GRACE_S) -> int:
    """SIGTERM the child's process group, SIGKILL it after ``grace_s``; return its exit code."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()
    except ProcessLookupError:
        return proc.wait()


def log_tail(log_path: Path, lines: int = 20) -> str:
    """The last lines a child wrote, for error messages."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
