"""The bench builds its bus with the suite's world builder (``tests/support/world.py``), and runs
without pytest: ``python -m bench`` must work where only the package and its bench are installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
IMPORT_EVERY_BENCH_MODULE = """
import importlib, pkgutil, sys
import bench
for module in pkgutil.iter_modules(bench.__path__):
    if module.name != "__main__":
        importlib.import_module(f"bench.{module.name}")
importlib.import_module("bench.__main__")
print(sorted(name for name in sys.modules if name == "pytest" or name.startswith(("pytest.", "_pytest"))))
"""


def test_no_bench_module_imports_pytest() -> None:
    # given every module of bench/, imported in a fresh interpreter from the repository root
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_BENCH_MODULE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # then they import, and pytest is not among what they pulled in
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
