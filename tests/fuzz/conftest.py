"""Hypothesis profiles for the fuzz suite, and the count of inputs it judged.

``fuzz-ci`` (the default here) keeps ``tests/fuzz`` within about a minute; ``long`` reaches
≥ 100,000 inputs. Choose with ``pytest tests/fuzz --hypothesis-profile=long`` (this file is an
initial conftest then) or ``BUS_FUZZ_PROFILE=long``. The session prints ``fuzz inputs: N``.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import pytest

import tests.fuzz.profile  # noqa: F401  (registers the profiles)
from tests.fuzz.bench import INPUTS

_HERE = Path(__file__).parent

# Hypothesis imports libcst to suggest a patch when a test fails; libcst warns about mypy_extensions,
# which (warnings being errors) turns the failure report into an INTERNALERROR. Import it quietly now.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if INPUTS:
        per_test = ", ".join(f"{name} {count}" for name, count in sorted(INPUTS.items()))
        terminalreporter.write_line(f"fuzz inputs: {sum(INPUTS.values())} ({per_test})")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/fuzz/ carries the ``fuzz`` marker, so ``-m fuzz`` selects it."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.fuzz)
