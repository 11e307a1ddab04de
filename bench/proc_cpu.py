"""CPU seconds from /proc (utime + stime): the scenarios that split CPU by process or thread share it."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(stat: Path) -> float:
    """User + system CPU seconds in a /proc/<pid>/stat or .../task/<tid>/stat file (OSError once gone)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS
