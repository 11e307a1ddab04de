"""A test must leave the process as it found it: the environment variables are checked after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


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
