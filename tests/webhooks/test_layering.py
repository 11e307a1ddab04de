"""The webhook policy, body and commit bookkeeping stay pure (STYLE 2): testable without sockets."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE = ["bus.webhooks.message", "bus.webhooks.retry", "bus.webhooks.progress"]
FORBIDDEN = ["aiokafka", "fastapi", "starlette", "sqlalchemy", "httpx", "confluent_kafka"]


@pytest.mark.parametrize("module", PURE)
def test_pure_webhook_module_imports_no_io_library(module: str) -> None:
    probe = f"import sys, {module}; print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
