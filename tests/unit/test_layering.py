"""The pure centre imports no Kafka, HTTP or database code (DESIGN §11, STYLE 2)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PURE_MODULES = [
    "bus.event.envelope",
    "bus.event.serde",
    "bus.errors",
    "bus.ids",
    "bus.validate.iin",
    "bus.validate.vin",
    "bus.validate.cadastral",
    "bus.registry.compat",
    "bus.registry.schema_text",
    "bus.registry.state",
    "bus.event.signing",
    "bus.event.signed_event",
    "bus.validate.fields",
    "bus.event.topics",
    "bus.policy.agreement",
    "bus.policy.compile",
    "bus.policy.evaluate",
    "bus.policy.consent",
    "bus.audit.entry",
    "bus.audit.chain",
    "bus.audit.checkpoint",
    "bus.audit.errors",
]
FORBIDDEN = ["aiokafka", "faust", "fastapi", "starlette", "sqlalchemy", "httpx", "confluent_kafka"]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_io_library(module: str) -> None:
    # given a fresh interpreter that imports only the module under test
    probe = f"import sys, {module}; print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    # when we list which I/O libraries came with it
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    # then there are none
    assert loaded == ""
